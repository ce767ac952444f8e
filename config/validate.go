package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Validate checks every value against the contract and returns all problems
// joined, each an *Error naming its key. It is separate from Parse so a
// Config built in code (tests, reloads) gets the same checks.
func (c *Config) Validate() error {
	return errors.Join(c.problems()...)
}

func (c *Config) problems() []error {
	var p problems
	p.atLeast("proxy.max_client_connections", c.Proxy.MaxClientConnections, 1)
	p.notNegative("proxy.client_idle_timeout", c.Proxy.ClientIdleTimeout)
	p.positive("proxy.handshake_timeout", c.Proxy.HandshakeTimeout)
	p.positive("proxy.shutdown_timeout", c.Proxy.ShutdownTimeout)
	p.atLeast("proxy.max_allowed_packet", c.Proxy.MaxAllowedPacket, 1024)
	switch {
	case (c.Proxy.TLSCert == "") != (c.Proxy.TLSKey == ""):
		p.add("proxy.tls_cert", "tls_cert and tls_key go together")
	case c.Proxy.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(c.Proxy.TLSCert, c.Proxy.TLSKey); err != nil {
			p.add("proxy.tls_cert", "%v", err)
		}
	}

	p.atLeast("pool.max_connections", c.Pool.MaxConnections, 1)
	p.positive("pool.acquire_timeout", c.Pool.AcquireTimeout)
	p.notNegative("pool.idle_timeout", c.Pool.IdleTimeout)
	p.notNegative("pool.max_lifetime", c.Pool.MaxLifetime)
	p.positive("pool.connect_timeout", c.Pool.ConnectTimeout)

	p.backends(c.Backends)
	p.users(c.Users)
	p.routing(c)
	p.listeners(c.Proxy, c.Admin)
	p.cluster(c.Cluster)
	if c.Admin.Listen != "" && c.Admin.User == "" {
		p.add("admin.user", "required when admin.listen is set")
	}
	if c.Admin.Digests {
		p.atLeast("admin.digest_rows", c.Admin.DigestRows, 2) // one row is the overflow row
	}
	return p
}

// problems collects *Error values in the order the keys appear in the
// contract, so output is stable.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) atLeast(key string, got, min int) {
	if got < min {
		p.add(key, "must be at least %d, got %d", min, got)
	}
}

func (p *problems) positive(key string, d Duration) {
	if d.Duration <= 0 {
		p.add(key, "must be greater than 0, got %s", d)
	}
}

func (p *problems) notNegative(key string, d Duration) {
	if d.Duration < 0 {
		p.add(key, "must not be negative, got %s", d)
	}
}

func (p *problems) backends(bs []BackendConfig) {
	if len(bs) == 0 {
		p.add("backends", "at least one [[backends]] is required")
	}
	first := map[string]int{}
	for i, b := range bs {
		key := fmt.Sprintf("backends[%d]", i)
		// 0 means "inherit"; Parse rejects a 0 written in the file.
		if b.MaxConnections < 0 {
			p.add(key+".max_connections", "must be at least 1, got %d", b.MaxConnections)
		}
		if b.Address == "" {
			p.add(key+".address", "required")
			continue
		}
		norm := filepath.Clean(b.Address)
		if !filepath.IsAbs(b.Address) { // an absolute path is a Unix socket
			host, hp, err := hostPort(b.Address, 1)
			if err == nil && host == "" {
				err = errors.New("missing host")
			}
			if err != nil {
				p.add(key+".address", "%q is not host:port (nor the absolute path of a Unix socket): %v", b.Address, err)
				continue
			}
			norm = hp
		}
		if _, err := b.ClientTLS(); err != nil {
			p.add(key+".tls", "%v", err)
		}
		// Two entries for one server would each get the full cap, silently
		// doubling it. Names are compared as written (lower-cased): we do
		// not resolve them.
		if j, dup := first[norm]; dup {
			p.add(key+".address", "duplicate of backends[%d]", j)
			continue
		}
		first[norm] = i
	}
}

func (p *problems) users(us []UserConfig) {
	if len(us) == 0 {
		p.add("users", "at least one [[users]] is required")
	}
	first := map[string]int{}
	for i, u := range us {
		key := fmt.Sprintf("users[%d].name", i)
		if u.Name == "" {
			p.add(key, "required")
			continue
		}
		if pl := u.Plugin(); pl != AuthNative && pl != AuthCachingSHA2 {
			p.add(fmt.Sprintf("users[%d].auth_plugin", i), "%q is not %s or %s", u.AuthPlugin, AuthNative, AuthCachingSHA2)
		}
		// MySQL user names are case-sensitive, so no folding here.
		if j, dup := first[u.Name]; dup {
			p.add(key, "duplicate user %q (also users[%d])", u.Name, j)
			continue
		}
		first[u.Name] = i
	}
}

// listeners checks the listen addresses and that no two share a fixed port,
// which would otherwise only show up as a bind error at startup.
func (p *problems) listeners(proxy ProxyConfig, admin AdminConfig) {
	addrs := []struct{ key, addr string }{
		{"proxy.listen", proxy.Listen},
		{"admin.listen", admin.Listen},
		{"admin.http_listen", admin.HTTPListen},
	}
	first := map[string]string{}
	for i, a := range addrs {
		if a.addr == "" {
			// Only the admin listeners may be disabled.
			if i == 0 {
				p.add(a.key, "required")
			}
			continue
		}
		_, norm, err := hostPort(a.addr, 0)
		if err != nil {
			p.add(a.key, "%q is not host:port: %v", a.addr, err)
			continue
		}
		// Port 0 lets the kernel pick, so such listeners never collide.
		if strings.HasSuffix(norm, ":0") {
			continue
		}
		if k, dup := first[norm]; dup {
			p.add(a.key, "same address as %s", k)
			continue
		}
		first[norm] = a.key
	}
}

// hostPort checks addr is host:port with a numeric port of at least minPort
// and returns its host and a normalised form (host lower-cased, port without
// leading zeros) for duplicate detection.
func hostPort(addr string, minPort uint64) (host, norm string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n < minPort {
		return "", "", fmt.Errorf("port %q is not a number from %d to 65535", port, minPort)
	}
	host = strings.ToLower(host)
	return host, net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}
