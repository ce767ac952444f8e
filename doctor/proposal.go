package doctor

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/fdlimit"
)

// PasswordPlaceholder replaces every password in the proposed configuration: the doctor never
// prints one, as its output is meant to be pasted into tickets.
const PasswordPlaceholder = "CHANGE_ME"

// maxPoolIdle is the longest pool idle_timeout proposed: mysqlmux's default.
var maxPoolIdle = config.Defaults().Pool.IdleTimeout.Duration

// proposal is the mysqlmux configuration the doctor recommends, and why it chose each value.
type proposal struct {
	cfg config.Config
	why []string
}

// propose adjusts base to the servers' reports: each backend gets the cap its report
// recommends; the pool closes idle connections before any server's wait_timeout would;
// max_client_connections fits the open-files limit. With fromConfig the other values are the
// operator's and stay; otherwise clients are closed after the server's wait_timeout, as a direct
// connection would be. Every password is replaced by PasswordPlaceholder.
func propose(base config.Config, reports []Report, files fdlimit.Limits, fromConfig bool) proposal {
	p := proposal{cfg: base}
	c := &p.cfg
	c.Backends = append([]config.BackendConfig(nil), base.Backends...)
	var wait, recWait *int64 // the smallest wait_timeout of the servers, now and as recommended
	for i := range c.Backends {
		b := &c.Backends[i]
		r := reports[i]
		if r.Error != "" {
			b.MaxConnections = b.Cap(base.Pool)
			p.why = append(p.why, fmt.Sprintf("backends[%d] (%s): max_connections %d kept: the server could not be read", i, b.Address, b.MaxConnections))
			continue
		}
		b.MaxConnections = int(r.RecommendedPoolMaxConnections)
		p.why = append(p.why, fmt.Sprintf("backends[%d] (%s): max_connections = %d, the pool cap this server can take (see its report)", i, b.Address, b.MaxConnections))
		if r.WaitTimeout != nil && (wait == nil || *r.WaitTimeout < *wait) {
			wait = r.WaitTimeout
		}
		if r.RecommendedWaitTimeout != nil && (recWait == nil || *r.RecommendedWaitTimeout < *recWait) {
			recWait = r.RecommendedWaitTimeout
		}
	}
	// [pool].max_connections is what a backend added later inherits: the smallest cap is safe.
	c.Pool.MaxConnections = c.Backends[0].MaxConnections
	for _, b := range c.Backends {
		c.Pool.MaxConnections = min(c.Pool.MaxConnections, b.MaxConnections)
	}

	if recWait != nil {
		limit := time.Duration(*recWait) * time.Second
		if idle := c.Pool.IdleTimeout.Duration; idle == 0 || idle >= limit {
			c.Pool.IdleTimeout.Duration = min(maxPoolIdle, limit/2)
			p.why = append(p.why, fmt.Sprintf("pool.idle_timeout = %s: half the servers' wait_timeout (as recommended) %s, so a server never closes a pooled connection first",
				c.Pool.IdleTimeout, limit))
		} else {
			p.why = append(p.why, fmt.Sprintf("pool.idle_timeout = %s: below the servers' wait_timeout (as recommended) %s, so a server never closes a pooled connection first",
				c.Pool.IdleTimeout, limit))
		}
	}
	if !fromConfig {
		if wait != nil {
			c.Proxy.ClientIdleTimeout.Duration = time.Duration(*wait) * time.Second
			p.why = append(p.why, fmt.Sprintf("proxy.client_idle_timeout = %s: the server's wait_timeout, so applications see idle connections closed as before (an idle client costs mysqlmux about 2 KB)",
				c.Proxy.ClientIdleTimeout))
		} else {
			p.why = append(p.why, "proxy.client_idle_timeout = 0 (never): the server's wait_timeout is unknown")
		}
	}

	caps := fdlimit.BackendCaps(c)
	room := int64(min(files.Soft, math.MaxInt64)) - int64(caps) - fdlimit.Reserve // RLIM_INFINITY is 2^64 − 1
	if room < int64(c.Proxy.MaxClientConnections) {
		c.Proxy.MaxClientConnections = int(max(1, room))
		p.why = append(p.why, fmt.Sprintf("proxy.max_client_connections = %d: open-files limit %d − backend caps %d − %d reserved; raise the hard limit (ulimit -Hn, LimitNOFILE=) for more",
			c.Proxy.MaxClientConnections, files.Soft, caps, fdlimit.Reserve))
	} else {
		p.why = append(p.why, fmt.Sprintf("proxy.max_client_connections = %d: fits the open-files limit %d (one descriptor per client and per backend connection, %d reserved)",
			c.Proxy.MaxClientConnections, files.Soft, fdlimit.Reserve))
	}

	c.Users = append([]config.UserConfig(nil), base.Users...)
	for i := range c.Users {
		c.Users[i].Password = PasswordPlaceholder
	}
	if c.Admin.Password != "" {
		c.Admin.Password = PasswordPlaceholder
	}
	return p
}

// toml writes the proposed configuration, the reasons as comments on top, and checks it the
// way `mysqlmux -config FILE -check` does: a proposal that would not pass is a doctor bug.
func (p proposal) toml() (string, error) {
	var body bytes.Buffer
	enc := toml.NewEncoder(&body)
	enc.Indent = ""
	if err := enc.Encode(p.cfg); err != nil {
		return "", err
	}
	if _, err := config.Parse(body.Bytes()); err != nil {
		return "", fmt.Errorf("doctor: the proposed configuration does not validate: %w", err)
	}
	var out strings.Builder
	out.WriteString("# mysqlmux configuration proposed by `mysqlmux doctor`.\n")
	fmt.Fprintf(&out, "# Passwords are placeholders (%s): the doctor never prints one. Set them, then run\n", PasswordPlaceholder)
	out.WriteString("#   mysqlmux -config mysqlmux.toml -check\n")
	for _, w := range p.why {
		out.WriteString("# " + w + "\n")
	}
	out.WriteString("\n")
	out.Write(body.Bytes())
	return out.String(), nil
}
