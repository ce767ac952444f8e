package config

import (
	"fmt"
	"regexp"
	"time"
)

// Backend roles (v1.1). Without any, every backend is equivalent (v1): each client gets one.
const (
	RolePrimary = "primary"
	RoleReplica = "replica"
)

// Read-your-writes modes.
const (
	RYWOff     = "off"     // reads go to replicas whatever the session wrote
	RYWPrimary = "primary" // reads go to the primary for read_your_writes_window after a write
	RYWGTID    = "gtid"    // a replica read first waits for the session's last GTID (gtid_wait_timeout), else the primary
)

// RoutingConfig is the [routing] table: how statements spread over backends with roles.
type RoutingConfig struct {
	// ReadYourWrites is the default for users that do not set their own: off, primary or gtid.
	ReadYourWrites string `toml:"read_your_writes"`
	// ReadYourWritesWindow is how long after a write a session's reads stay on the primary
	// (mode primary, and mode gtid when the primary writes no binary log).
	ReadYourWritesWindow Duration `toml:"read_your_writes_window"`
	// GTIDWaitTimeout bounds the wait on a replica for the session's GTID (mode gtid).
	GTIDWaitTimeout Duration `toml:"gtid_wait_timeout"`
	// MaxReplicaLag takes a replica out of rotation while it is further behind (or not
	// replicating); it comes back once caught up.
	MaxReplicaLag Duration `toml:"max_replica_lag"`
	// MonitorInterval is how often each backend's read_only and replication are read.
	MonitorInterval Duration `toml:"monitor_interval"`
	// MonitorUser and MonitorPassword are the account the monitor logs in as (it needs
	// REPLICATION CLIENT or SLAVE MONITOR); empty: the first [[users]] entry.
	MonitorUser     string `toml:"monitor_user"`
	MonitorPassword string `toml:"monitor_password"`
}

// RuleConfig is one [[rules]] entry: statements that match go to a group, whatever the default
// routing says (a rule cannot send to a replica what must run on the primary: a write, a
// transaction, a pinned session).
type RuleConfig struct {
	// Match is a regular expression (Go syntax) matched against the statement's text.
	Match string `toml:"match"`
	// Digest is a statement's digest text (as SHOW DIGESTS shows it): statements that
	// normalise to it match.
	Digest string `toml:"digest"`
	// To is primary or replica.
	To string `toml:"to"`
}

// HasRoles reports whether any backend has a role: routing by role is on.
func (c *Config) HasRoles() bool {
	for _, b := range c.Backends {
		if b.Role != "" {
			return true
		}
	}
	return false
}

// ReadWeight is the backend's share of reads among replicas (1 when not set).
func (b BackendConfig) ReadWeight() int {
	if b.Weight == 0 {
		return 1
	}
	return b.Weight
}

func defaultRouting() RoutingConfig {
	return RoutingConfig{
		ReadYourWrites:       RYWOff,
		ReadYourWritesWindow: Duration{2 * time.Second},
		GTIDWaitTimeout:      Duration{100 * time.Millisecond},
		MaxReplicaLag:        Duration{5 * time.Second},
		MonitorInterval:      Duration{500 * time.Millisecond},
	}
}

func validRYW(mode string) bool { return mode == RYWOff || mode == RYWPrimary || mode == RYWGTID }

func (p *problems) routing(c *Config) {
	r := c.Routing
	if !validRYW(r.ReadYourWrites) {
		p.add("routing.read_your_writes", "%q is not off, primary or gtid", r.ReadYourWrites)
	}
	p.notNegative("routing.read_your_writes_window", r.ReadYourWritesWindow)
	p.positive("routing.gtid_wait_timeout", r.GTIDWaitTimeout)
	p.positive("routing.max_replica_lag", r.MaxReplicaLag)
	p.positive("routing.monitor_interval", r.MonitorInterval)
	for i, u := range c.Users {
		if u.ReadYourWrites != "" && !validRYW(u.ReadYourWrites) {
			p.add(fmt.Sprintf("users[%d].read_your_writes", i), "%q is not off, primary or gtid", u.ReadYourWrites)
		}
	}
	roles, primaries := 0, 0
	for i, b := range c.Backends {
		switch b.Role {
		case "":
		case RolePrimary:
			roles++
			primaries++
		case RoleReplica:
			roles++
		default:
			p.add(fmt.Sprintf("backends[%d].role", i), "%q is not primary or replica", b.Role)
		}
		if b.Weight < 0 {
			p.add(fmt.Sprintf("backends[%d].weight", i), "must not be negative, got %d", b.Weight)
		}
	}
	if roles > 0 && roles != len(c.Backends) {
		p.add("backends", "either every backend has a role or none does")
	}
	if roles > 0 && primaries == 0 {
		p.add("backends", "with roles, at least one backend is the primary")
	}
	for i, rule := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if (rule.Match == "") == (rule.Digest == "") {
			p.add(key+".match", "a rule has either match or digest")
		}
		if rule.Match != "" {
			if _, err := regexp.Compile(rule.Match); err != nil {
				p.add(key+".match", "%v", err)
			}
		}
		if rule.To != RolePrimary && rule.To != RoleReplica {
			p.add(key+".to", "%q is not primary or replica", rule.To)
		}
	}
	if len(c.Rules) > 0 && roles == 0 {
		p.add("rules", "rules need backends with roles")
	}
}
