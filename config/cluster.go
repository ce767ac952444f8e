package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ClusterConfig is the optional [cluster] table: a fleet of proxies sharing one connection budget
// per backend through etcd (cluster/). Without the table a proxy keeps its own cap alone.
type ClusterConfig struct {
	// Endpoints are the etcd client URLs ("host:port", "http://host:port", "https://host:port").
	Endpoints []string `toml:"endpoints"`
	// Name is the fleet: instances with the same name share the budget (their keys live under
	// /mysqlmux/NAME/ in etcd).
	Name string `toml:"name"`
	// MaxConnections is the fleet-wide cap per backend: the grants of all instances add up to at
	// most this many.
	MaxConnections int `toml:"max_connections"`
	// Instance names this proxy in the fleet; unique, and the same across restarts so that a
	// restarted proxy takes its own place back. Default: hostname/listen address.
	Instance string `toml:"instance"`
	// Floor is the grant (per backend) an instance keeps however little it needs, and the one it
	// falls back to when it lost etcd for OfflineHold.
	Floor int `toml:"floor"`
	// LeaseTTL is the life of the instance's etcd lease: a proxy that stopped renewing it (dead,
	// or cut off from etcd) leaves the fleet that long after its last renewal.
	LeaseTTL Duration `toml:"lease_ttl"`
	// OfflineHold is how long an instance cut off from etcd keeps its last grant before it
	// lowers itself to its floor; less than LeaseTTL, so that it is down to it before the fleet
	// can give its share away.
	OfflineHold Duration `toml:"offline_hold"`
	// ForgetAfter frees the floor of an instance gone (its lease expired) this long; an instance
	// cut off from etcd that long gives up its floor too. 0: kept until the instance comes back.
	ForgetAfter Duration `toml:"forget_after"`
	// DialTimeout bounds each etcd request.
	DialTimeout Duration `toml:"dial_timeout"`
	// Username and Password authenticate to etcd (etcd auth); both or neither.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// TLSCA verifies etcd's certificate (https endpoints); TLSCert and TLSKey are this
	// instance's client certificate, both or neither.
	TLSCA   string `toml:"tls_ca"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
}

// DefaultCluster returns the values of the [cluster] keys a file omits.
func DefaultCluster() ClusterConfig {
	return ClusterConfig{
		Floor:       1,
		LeaseTTL:    Duration{15 * time.Second},
		OfflineHold: Duration{10 * time.Second},
		ForgetAfter: Duration{10 * time.Minute},
		DialTimeout: Duration{2 * time.Second},
	}
}

// minLeaseTTL is etcd's smallest lease with its default election timeout (1 s): shorter ones
// are granted as this.
const minLeaseTTL = 2 * time.Second

// fleetName is what may follow /mysqlmux/ in etcd keys.
var fleetName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// InstanceName returns the name this proxy has in the fleet: Instance, or hostname/listen.
func (c *ClusterConfig) InstanceName(listen string) string {
	if c.Instance != "" {
		return c.Instance
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + "/" + listen
}

// ClientTLS returns the TLS configuration for etcd, nil when no endpoint is https and no TLS
// file is set.
func (c *ClusterConfig) ClientTLS() (*tls.Config, error) {
	https := slices.ContainsFunc(c.Endpoints, func(e string) bool { return strings.HasPrefix(e, "https://") })
	if !https && c.TLSCA == "" && c.TLSCert == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca %s holds no PEM certificate", c.TLSCA)
		}
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, err
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

func (p *problems) cluster(c *ClusterConfig) {
	if c == nil {
		return
	}
	if len(c.Endpoints) == 0 {
		p.add("cluster.endpoints", "at least one etcd endpoint is required")
	}
	for i, e := range c.Endpoints {
		if err := checkEndpoint(e); err != nil {
			p.add(fmt.Sprintf("cluster.endpoints[%d]", i), "%q: %v", e, err)
		}
	}
	if !fleetName.MatchString(c.Name) {
		p.add("cluster.name", "%q: 1 to 64 letters, digits, '.', '_' or '-'", c.Name)
	}
	p.atLeast("cluster.max_connections", c.MaxConnections, 1)
	if strings.ContainsAny(c.Instance, "/\n") && c.Instance != "" {
		p.add("cluster.instance", "%q: no '/' or newline", c.Instance)
	}
	p.atLeast("cluster.floor", c.Floor, 0)
	if c.Floor > c.MaxConnections && c.MaxConnections >= 1 {
		p.add("cluster.floor", "%d is above cluster.max_connections %d", c.Floor, c.MaxConnections)
	}
	if c.LeaseTTL.Duration < minLeaseTTL {
		p.add("cluster.lease_ttl", "must be at least %s, got %s", minLeaseTTL, c.LeaseTTL)
	}
	switch {
	case c.OfflineHold.Duration <= 0:
		p.add("cluster.offline_hold", "must be greater than 0, got %s", c.OfflineHold)
	case c.OfflineHold.Duration >= c.LeaseTTL.Duration:
		p.add("cluster.offline_hold", "%s must be less than cluster.lease_ttl %s: an instance cut off from etcd must be down to its floor before its lease can expire and the fleet give its share away",
			c.OfflineHold, c.LeaseTTL)
	}
	if c.ForgetAfter.Duration != 0 && c.ForgetAfter.Duration <= c.LeaseTTL.Duration {
		p.add("cluster.forget_after", "%s must be 0 (never) or more than cluster.lease_ttl %s", c.ForgetAfter, c.LeaseTTL)
	}
	p.positive("cluster.dial_timeout", c.DialTimeout)
	if (c.Username == "") != (c.Password == "") {
		p.add("cluster.username", "username and password go together")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		p.add("cluster.tls_cert", "tls_cert and tls_key go together")
	}
	if _, err := c.ClientTLS(); err != nil {
		p.add("cluster.tls_ca", "%v", err)
	}
}

// checkEndpoint accepts host:port, or an http or https URL of one.
func checkEndpoint(e string) error {
	hp := e
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		if err != nil {
			return err
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return errors.New("scheme must be http or https")
		}
		if u.Path != "" && u.Path != "/" {
			return errors.New("no path allowed")
		}
		hp = u.Host
	}
	host, _, err := hostPort(hp, 1)
	if err == nil && host == "" {
		err = errors.New("missing host")
	}
	return err
}
