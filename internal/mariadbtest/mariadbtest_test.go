package mariadbtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

var shared *mariadbtest.Server

func TestMain(m *testing.M) {
	os.Exit(mariadbtest.Main(m, mariadbtest.Options{MaxConnections: 40}, &shared))
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s string
	if err := db.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func TestSharedServer(t *testing.T) {
	mariadbtest.Need(t, shared)
	if !strings.HasPrefix(shared.Addr, "127.0.0.1:") {
		t.Fatalf("Addr = %q, want 127.0.0.1:PORT", shared.Addr)
	}

	app := open(t, shared.DSN(mariadbtest.AppUser, mariadbtest.AppPassword, "test"))
	if got := queryString(t, app, "SELECT CURRENT_USER()"); !strings.HasPrefix(got, "app@") {
		t.Errorf("CURRENT_USER() = %q, want app@...", got)
	}
	if got := queryString(t, app, "SELECT DATABASE()"); got != "test" {
		t.Errorf("DATABASE() = %q, want test", got)
	}
	if got := queryString(t, app, "SELECT @@max_connections"); got != "40" {
		t.Errorf("max_connections = %s, want 40", got)
	}
	// app has ALL PRIVILEGES on *.*.
	if _, err := app.Exec("CREATE TABLE IF NOT EXISTS test2.t (id INT PRIMARY KEY)"); err != nil {
		t.Errorf("app cannot create a table in test2: %v", err)
	}

	for _, u := range []string{mariadbtest.OtherUser, mariadbtest.Other2User} {
		db := open(t, shared.DSN(u, mariadbtest.OtherPassword, "test2"))
		if got := queryString(t, db, "SELECT CURRENT_USER()"); !strings.HasPrefix(got, u+"@") {
			t.Errorf("CURRENT_USER() = %q, want %s@...", got, u)
		}
	}

	bad := open(t, shared.DSN(mariadbtest.AppUser, "wrong", "test"))
	if err := bad.Ping(); err == nil || !strings.Contains(err.Error(), "1045") {
		t.Errorf("wrong password: err = %v, want 1045 access denied", err)
	}

	root, err := shared.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if got := queryString(t, root, "SELECT COUNT(*) FROM mysql.user WHERE User = ''"); got != "0" {
		t.Errorf("%s anonymous users left", got)
	}
	var name, threads string
	if err := root.QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &threads); err != nil {
		t.Fatal(err)
	}
	if threads == "0" || threads == "" {
		t.Errorf("Threads_connected = %q", threads)
	}
	if err := shared.Exec("CREATE TABLE IF NOT EXISTS test.exec_check (id INT)"); err != nil {
		t.Errorf("Exec: %v", err)
	}
	if got := queryString(t, app, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'test' AND table_name = 'exec_check'"); got != "1" {
		t.Errorf("table made by Exec not visible to app")
	}
}

func TestStartStop(t *testing.T) {
	s := mariadbtest.StartTB(t, mariadbtest.Options{MaxConnections: 37})
	app := open(t, s.DSN("app", "secret", "test"))
	if got := queryString(t, app, "SELECT @@max_connections"); got != "37" {
		t.Errorf("max_connections = %s, want 37", got)
	}
	if got := queryString(t, app, "SELECT CURRENT_USER()"); !strings.HasPrefix(got, "app@") {
		t.Errorf("CURRENT_USER() = %q, want app@...", got)
	}
	app.Close()

	pid, dir := s.PID(), s.Dir()
	if pid <= 0 {
		t.Fatalf("PID() = %d", pid)
	}
	start := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stopped in %v", time.Since(start))
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s not removed: %v", dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartFailureReportsLog(t *testing.T) {
	s, err := mariadbtest.Start(mariadbtest.Options{ExtraArgs: []string{"--no-such-option-mysqlmux"}})
	if errors.Is(err, mariadbtest.ErrNotInstalled) {
		mariadbtest.Need(t, nil)
	}
	if err == nil {
		s.Stop()
		t.Fatal("Start with a bad option succeeded")
	}
	if !strings.Contains(err.Error(), "no-such-option-mysqlmux") {
		t.Errorf("error does not include the log tail naming the bad option:\n%v", err)
	}
}

// envWithout returns the environment without the variables that decide skip-or-fail.
func envWithout(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CI", mariadbtest.RequireEnv, mariadbtest.MariadbdEnv, mariadbtest.InstallDBEnv:
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func TestStartTBSkipsWhenMissing(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(mariadbtest.RequireEnv, "")
	t.Setenv(mariadbtest.MariadbdEnv, "/nonexistent/mariadbd")
	var inner *testing.T
	t.Run("missing", func(t *testing.T) {
		inner = t
		mariadbtest.StartTB(t, mariadbtest.Options{})
		t.Error("StartTB returned without a server")
	})
	if !inner.Skipped() {
		t.Error("StartTB did not skip with mariadbd missing and CI unset")
	}
}

// TestMissingServerSubprocess runs this test binary again with mariadbd missing:
// Main lets tests run and Need skips them, unless CI or MYSQLMUX_REQUIRE_MARIADB=1
// is set, where Main fails.
func TestMissingServerSubprocess(t *testing.T) {
	if os.Getenv("MARIADBTEST_CHILD") != "" {
		t.Skip("child process")
	}
	missing := mariadbtest.MariadbdEnv + "=/nonexistent/mariadbd"
	cases := []struct {
		name     string
		env      []string
		wantFail bool
		want     string
	}{
		{"local", []string{missing}, false, "--- SKIP: TestSharedServer"},
		{"ci", []string{missing, "CI=true"}, true, "not installed"},
		{"required", []string{missing, mariadbtest.RequireEnv + "=1"}, true, "not installed"},
		{"ci-false", []string{missing, "CI=false"}, false, "--- SKIP: TestSharedServer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSharedServer$", "-test.v", "-test.count=1")
			cmd.Env = envWithout(append(c.env, "MARIADBTEST_CHILD=1")...)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != c.wantFail {
				t.Errorf("failed = %v (%v), want %v\n%s", failed, err, c.wantFail, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, out)
			}
		})
	}
}

// Every server accepts TLS with a certificate for 127.0.0.1 signed by CAFile, and plain clients.
func TestServerAcceptsTLS(t *testing.T) {
	mariadbtest.Need(t, shared)
	pem, err := os.ReadFile(shared.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("CAFile holds no certificate")
	}
	if err := mysql.RegisterTLSConfig("mariadbtest", &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	cipher := func(dsn string) string {
		var name, v string
		if err := open(t, dsn).QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	plain := shared.DSN(mariadbtest.AppUser, mariadbtest.AppPassword, "test")
	cfg, err := mysql.ParseDSN(plain)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = "mariadbtest"
	if c := cipher(cfg.FormatDSN()); c == "" {
		t.Error("a TLS client has no cipher: the server did not accept TLS")
	}
	if c := cipher(plain); c != "" {
		t.Errorf("a plain client has cipher %q", c)
	}
}
