package integration

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/internal/testlog"
)

// A backend password changed on the server while the proxy's configuration keeps the old one:
// once the pool has to open connections, the clients waiting get the server's ERROR 1045 at once
// (not ERROR 9001 after the acquire timeout, not a hang), the proxy dials a few times rather than
// once per client, and the log says why once. With the password back, statements work again.
func TestBackendPasswordChanged(t *testing.T) {
	mariadbtest.Need(t, db)
	const user, clients, acquire = "pwchange", 8, 5 * time.Second
	if err := db.CreatePlainUser(user, "before"); err != nil {
		t.Fatal(err)
	}
	setPassword := func(pw string) {
		t.Helper()
		for _, h := range []string{"%", "localhost", "127.0.0.1"} {
			if err := db.Exec("ALTER USER '" + user + "'@'" + h + "' IDENTIFIED BY '" + pw + "'"); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := proxytest.Config(db, 4)
	cfg.Users = append(cfg.Users, config.UserConfig{Name: user, Password: "before"})
	cfg.Pool.AcquireTimeout.Duration = acquire
	cfg.Pool.IdleTimeout.Duration = time.Second // the pool empties soon after the password changes
	var logs testlog.Log
	in := proxytest.StartWithLog(t, cfg, logs.Logger())
	pool := in.Router().Pools()[0]
	p := openPool(t, proxytest.DSN(in.Addr(), user, "before", "test"))
	var conns []execer
	for i := 0; i < clients; i++ {
		c := holdConn(t, p)
		mustWork(t, "before the change", c)
		conns = append(conns, c)
	}

	setPassword("after")
	if !within(15*time.Second, func() bool { return pool.Stats().Open == 0 }) {
		t.Fatalf("the pool kept its connections past idle_timeout: %+v", pool.Stats())
	}
	dials := pool.Stats().Dials
	var wg sync.WaitGroup
	errs := make([]error, clients)
	took := make([]time.Duration, clients)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, errs[i] = queryInt(c, "SELECT 1")
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if me := wantServerError(t, "a client once the password changed", err, 1045, "28000"); me != nil && !strings.Contains(me.Message, user) {
			t.Errorf("the 1045 does not name the backend login: %s", me.Message)
		}
		if took[i] >= acquire {
			t.Errorf("client %d got its answer after %v, the acquire timeout", i, took[i])
		}
	}
	st := pool.Stats()
	t.Logf("%d clients answered in at most %v with %d dials; dial state %s", clients, slices.Max(took), st.Dials-dials, st.DialState)
	if st.Dials-dials > 4 {
		t.Errorf("%d dials for %d clients of one refused login", st.Dials-dials, clients)
	}
	if st.DialState != "login_refused" || !strings.Contains(st.LastDialError, "Access denied") {
		t.Errorf("dial state %q, last error %q", st.DialState, st.LastDialError)
	}
	warn := logs.Await(t, "level=WARN", "refused the login")
	if len(warn) != 1 || !strings.Contains(warn[0], "user="+user) || !strings.Contains(warn[0], "1045") {
		t.Errorf("want one warning naming the user and the error:\n%s", strings.Join(logs.Lines("level=WARN"), "\n"))
	}

	setPassword("before")
	if !within(15*time.Second, func() bool { _, err := queryInt(conns[0], "SELECT 1"); return err == nil }) {
		t.Fatalf("statements still fail after the password was restored: %+v", pool.Stats())
	}
	for _, c := range conns {
		mustWork(t, "after the password was restored", c)
	}
	if info := logs.Await(t, "level=INFO", "accepts the login again", "user="+user); len(info) != 1 {
		t.Errorf("want one recovery line:\n%s", strings.Join(logs.Lines("backend"), "\n"))
	}
}

// within polls cond until it holds or d passes.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
