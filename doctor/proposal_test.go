package doctor

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/fdlimit"
)

// baseFor is the configuration a -dsn run starts from for a server at addr.
func baseFor(addrs ...string) config.Config {
	c := config.Defaults()
	for _, a := range addrs {
		c.Backends = append(c.Backends, config.BackendConfig{Address: a})
	}
	c.Users = []config.UserConfig{{Name: "app", Password: "secret"}}
	c.Admin.Listen, c.Admin.User, c.Admin.Password = "127.0.0.1:6032", "admin", "admin"
	return c
}

func limits(n uint64) fdlimit.Limits { return fdlimit.Limits{Soft: n, Hard: n} }

// served is a report of a server read fine, with a pool cap and wait_timeouts (now, recommended).
func served(cap, wait, recWait int64) Report {
	return Report{RecommendedPoolMaxConnections: cap, WaitTimeout: &wait, RecommendedWaitTimeout: &recWait}
}

func TestProposeTimeouts(t *testing.T) {
	cases := []struct {
		name               string
		wait, recWait      int64
		fromConfig         bool
		baseIdle, baseCl   time.Duration
		wantIdle, wantClnt time.Duration
	}{
		{"defaults fit", 28800, 600, false, time.Minute, 0, time.Minute, 8 * time.Hour},
		{"short wait_timeout: half of it", 10, 10, false, time.Minute, 0, 5 * time.Second, 10 * time.Second},
		{"configuration kept", 28800, 28800, true, 30 * time.Second, 45 * time.Second, 30 * time.Second, 45 * time.Second},
		{"configuration's never-close idle fixed", 28800, 600, true, 0, 0, time.Minute, 0},
		{"configuration's idle at wait_timeout fixed", 120, 120, true, 120 * time.Second, 0, time.Minute, 0},
	}
	for _, c := range cases {
		base := baseFor("db:3306")
		base.Pool.IdleTimeout.Duration, base.Proxy.ClientIdleTimeout.Duration = c.baseIdle, c.baseCl
		p := propose(base, []Report{served(20, c.wait, c.recWait)}, limits(1<<20), c.fromConfig)
		if p.cfg.Pool.IdleTimeout.Duration != c.wantIdle || p.cfg.Proxy.ClientIdleTimeout.Duration != c.wantClnt {
			t.Errorf("%s: idle_timeout %s, client_idle_timeout %s; want %s, %s", c.name,
				p.cfg.Pool.IdleTimeout, p.cfg.Proxy.ClientIdleTimeout, c.wantIdle, c.wantClnt)
		}
		if _, err := p.toml(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestProposeCapsAndFiles(t *testing.T) {
	base := baseFor("db1:3306", "db2:3306", "db3:3306")
	base.Backends[2].MaxConnections = 9
	reports := []Report{served(20, 600, 600), served(7, 600, 600), {Error: "dial: refused"}}
	p := propose(base, reports, limits(100), false)
	got := []int{p.cfg.Backends[0].MaxConnections, p.cfg.Backends[1].MaxConnections, p.cfg.Backends[2].MaxConnections, p.cfg.Pool.MaxConnections}
	if want := []int{20, 7, 9, 7}; !slices.Equal(got, want) {
		t.Errorf("caps (backends, pool) %v, want %v (the unread server keeps its cap)", got, want)
	}
	if want := 100 - 36 - fdlimit.Reserve; p.cfg.Proxy.MaxClientConnections != want {
		t.Errorf("max_client_connections %d under an open-files limit of 100, want %d", p.cfg.Proxy.MaxClientConnections, want)
	}
	p = propose(base, reports, limits(10), false)
	if p.cfg.Proxy.MaxClientConnections != 1 {
		t.Errorf("max_client_connections %d with no room, want 1 (and a warning in why)", p.cfg.Proxy.MaxClientConnections)
	}
	p = propose(base, reports, limits(math.MaxUint64), false)
	if p.cfg.Proxy.MaxClientConnections != config.Defaults().Proxy.MaxClientConnections {
		t.Errorf("max_client_connections %d without an open-files limit, want the default", p.cfg.Proxy.MaxClientConnections)
	}
}

func TestProposalTOML(t *testing.T) {
	base := baseFor("db:3306")
	p := propose(base, []Report{served(12, 600, 600)}, limits(1<<20), false)
	text, err := p.toml()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if cfg.Users[0].Password != PasswordPlaceholder || cfg.Admin.Password != PasswordPlaceholder || strings.Contains(text, "secret") {
		t.Errorf("a password is printed:\n%s", text)
	}
	if base.Users[0].Password != "secret" {
		t.Errorf("propose changed its base's users")
	}
	if cfg.Backends[0].Cap(cfg.Pool) != 12 || !strings.HasPrefix(text, "# mysqlmux configuration proposed") {
		t.Errorf("cap %d; text:\n%s", cfg.Backends[0].Cap(cfg.Pool), text)
	}
}
