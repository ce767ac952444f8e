package admin

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// db is the package's MariaDB, shared by every test.
var db *mariadbtest.Server

func TestMain(m *testing.M) {
	os.Exit(mariadbtest.Main(m, mariadbtest.Options{MaxConnections: 60}, &db))
}

// Admin credentials of every test console.
const (
	adminUser     = "admin"
	adminPassword = "adminpw"
)

// fixture is a proxy in front of db (cap 3) with an admin console and metrics listener.
type fixture struct {
	cfg *config.Config
	in  *proxy.Instance
	adm *Server
}

// setup starts the fixture; reload may be nil.
func setup(t *testing.T, reload func() error) *fixture { return setupWith(t, reload, nil) }

// setupWith starts the fixture with cfg changed by change (nil: none) before the proxy starts.
// SET on its console goes through a testRuntime.
func setupWith(t *testing.T, reload func() error, change func(*config.Config)) *fixture {
	t.Helper()
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 3)
	cfg.Admin = config.AdminConfig{Listen: "127.0.0.1:0", User: adminUser, Password: adminPassword, HTTPListen: "127.0.0.1:0",
		Digests: true, DigestRows: 100}
	if change != nil {
		change(cfg)
	}
	in := proxytest.Start(t, cfg)
	rt := &testRuntime{in: in, cfg: cfg}
	adm, err := Start(cfg.Admin, in, Runtime{Reload: reload, Config: rt.config, Update: rt.update}, testLogger())
	if err != nil {
		t.Fatalf("admin.Start: %v", err)
	}
	t.Cleanup(func() {
		in.Router().Resume() // a failed PAUSE test must not hold the proxy's shutdown
		if err := adm.Close(); err != nil {
			t.Errorf("admin close: %v", err)
		}
	})
	return &fixture{cfg: cfg, in: in, adm: adm}
}

// testRuntime is cmd/mysqlmux's running configuration in small: SET's changes apply as a reload.
type testRuntime struct {
	in  *proxy.Instance
	mu  sync.Mutex
	cfg *config.Config
}

func (r *testRuntime) config() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

func (r *testRuntime) update(change func(*config.Config) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := r.cfg.Changed(change)
	if err != nil {
		return err
	}
	if err := r.in.Reload(n); err != nil {
		return err
	}
	r.cfg = n
	return nil
}

func testLogger() *slog.Logger {
	var out io.Writer = io.Discard
	if os.Getenv("MYSQLMUX_TEST_LOG") == "1" {
		out = os.Stderr
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// console opens a go-sql-driver pool on the admin console.
func (f *fixture) console(t *testing.T, user, password string) *sql.DB {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, password, "tcp", f.adm.Addr()
	c.Timeout = 5 * time.Second
	p, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// admin opens the console with the right credentials.
func (f *fixture) admin(t *testing.T) *sql.DB { return f.console(t, adminUser, adminPassword) }

// client takes one client connection through the proxy (database test), closed at cleanup.
func (f *fixture) client(t *testing.T) *sql.Conn {
	t.Helper()
	p, err := sql.Open("mysql", proxytest.DSN(f.in.Addr(), mariadbtest.AppUser, mariadbtest.AppPassword, "test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.Conn(ctx)
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	if err := c.PingContext(ctx); err != nil {
		t.Fatalf("ping through the proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// queryer is what *sql.DB and *sql.Conn share.
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// rowsOf runs q and returns its rows as column → value (NULL as "NULL").
func rowsOf(t *testing.T, db queryer, q string) []map[string]string {
	t.Helper()
	out, err := tryRows(db, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func tryRows(db queryer, q string) ([]map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = "NULL"
			if vals[i].Valid {
				m[c] = vals[i].String
			}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// stats runs SHOW STATS and returns name → value.
func stats(t *testing.T, adm queryer) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range rowsOf(t, adm, "SHOW STATS") {
		m[r["name"]] = r["value"]
	}
	return m
}

// mustExec runs a statement with a bound.
func mustExec(t *testing.T, db queryer, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// mysqlErr returns the server error code of err, 0 if it is not a MySQL error.
func mysqlErr(err error) (uint16, string) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, me.Message
	}
	return 0, ""
}

// eventually polls cond (which describes what it saw) until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; last saw %s", what, saw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartPortTaken(t *testing.T) {
	f := setup(t, nil)
	for _, tc := range []struct {
		key string
		cfg func(addr string) config.AdminConfig
	}{
		{"admin.listen", func(a string) config.AdminConfig { return config.AdminConfig{Listen: a, User: "u"} }},
		{"admin.http_listen", func(a string) config.AdminConfig { return config.AdminConfig{HTTPListen: a} }},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		adm, err := Start(tc.cfg(ln.Addr().String()), f.in, Runtime{}, nil)
		ln.Close()
		if err == nil {
			adm.Close()
			t.Fatalf("%s: Start on a taken port succeeded", tc.key)
		}
		if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "in use") {
			t.Errorf("%s: error %q should name the key and say the address is in use", tc.key, err)
		}
	}
}

func TestAuth(t *testing.T) {
	f := setup(t, nil)
	for _, tc := range []struct{ user, pw string }{{adminUser, "wrong"}, {"nobody", adminPassword}, {adminUser, ""}} {
		err := f.console(t, tc.user, tc.pw).Ping()
		if code, _ := mysqlErr(err); code != 1045 {
			t.Errorf("login %s/%q: got %v, want ERROR 1045", tc.user, tc.pw, err)
		}
	}
	if err := f.admin(t).Ping(); err != nil {
		t.Fatalf("login with the right password: %v", err)
	}
}

func TestCommandParsing(t *testing.T) {
	f := setup(t, nil)
	adm := f.admin(t)
	for _, q := range []string{"show pools", "  Show   Pools ;; ", "SHOW POOLS;\n", "HELP", "show help;", "SELECT @@version_comment LIMIT 1"} {
		if _, err := tryRows(adm, q); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
	help := rowsOf(t, adm, "HELP")
	if len(help) < 9 || help[0]["command"] != "SHOW POOLS" {
		t.Errorf("HELP rows: %v", help)
	}
	for _, q := range []string{"SHOW FOO", "SELECT 1", "SHOW POOLSX", "KILL CLIENT", "SHOW POOLS now"} {
		_, err := tryRows(adm, q)
		code, msg := mysqlErr(err)
		if code != 1064 {
			t.Errorf("%q: got %v, want ERROR 1064", q, err)
		}
		if q == "SHOW FOO" && !strings.Contains(msg, "SHOW POOLS") {
			t.Errorf("%q: message %q should list the valid commands", q, msg)
		}
	}
	if err := adm.Ping(); err != nil {
		t.Errorf("COM_PING: %v", err)
	}
}
