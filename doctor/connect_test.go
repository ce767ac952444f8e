package doctor

import (
	"strings"
	"testing"

	"github.com/mysqlmux/mysqlmux/config"
)

func TestDSNTarget(t *testing.T) {
	cases := []struct {
		dsn, addr, tls, user string
	}{
		{"app:secret@tcp(127.0.0.1:3307)/", "127.0.0.1:3307", "", "app"},
		{"app:secret@tcp(db.lan)/shop", "db.lan:3306", "", "app"},
		{"root@unix(/run/mysqld/mysqld.sock)/", "/run/mysqld/mysqld.sock", "", "root"},
		{"app:pw@tcp(db:3306)/?tls=true", "db:3306", config.TLSVerifyIdentity, "app"},
		{"app:pw@tcp(db:3306)/?tls=skip-verify", "db:3306", config.TLSRequired, "app"},
	}
	for _, c := range cases {
		tg, err := dsnTarget(c.dsn)
		if err != nil {
			t.Errorf("%s: %v", c.dsn, err)
			continue
		}
		if tg.backend.Address != c.addr || tg.backend.TLS != c.tls || tg.users[0].Name != c.user || tg.driver.Timeout <= 0 {
			t.Errorf("%s: backend %+v, user %s, timeout %s", c.dsn, tg.backend, tg.users[0].Name, tg.driver.Timeout)
		}
	}
	for _, bad := range []string{"app@unix(relative.sock)/", "app@pipe(x)/", "not a dsn"} {
		if _, err := dsnTarget(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestLocal(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:3306":          true,
		"127.3.4.5:3306":          true,
		"[::1]:3306":              true,
		"localhost:3306":          true,
		"/run/mysqld/mysqld.sock": true,
		"10.0.0.5:3306":           false,
		"db.lan:3306":             false,
	} {
		if got := local(addr); got != want {
			t.Errorf("local(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestMachineRAM(t *testing.T) {
	if n, src := machineRAM(1<<30, "10.0.0.5:3306"); n != 1<<30 || src != "-ram" {
		t.Errorf("-ram: %d, %q", n, src)
	}
	if n, src := machineRAM(0, "10.0.0.5:3306"); n != 0 || !strings.HasPrefix(src, "unknown") {
		t.Errorf("remote without -ram: %d, %q; want unknown", n, src)
	}
	if n, src := machineRAM(0, "127.0.0.1:3306"); n <= 0 || !strings.Contains(src, "MemTotal") {
		t.Errorf("local: %d, %q; want this machine's MemTotal", n, src)
	}
}
