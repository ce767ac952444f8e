package integration

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// Graceful shutdown: a statement in flight finishes, a transaction left open is rolled back,
// and the listener stops accepting.
func TestShutdownFinishesStatementsAndRollsBack(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS life_shutdown")
	mustExec(t, direct, "CREATE TABLE life_shutdown (id INT PRIMARY KEY) ENGINE=InnoDB")
	cfg := proxytest.Config(db, 3)
	in, err := proxy.Start(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	p := proxyClient(t, in, "test")
	open := holdConn(t, p)
	mustExec(t, open, "BEGIN")
	mustExec(t, open, "INSERT INTO life_shutdown VALUES (1)")
	busy := holdConn(t, p)
	slept := make(chan error, 1)
	go func() {
		var v int
		slept <- busy.QueryRowContext(context.Background(), "SELECT SLEEP(1)").Scan(&v)
	}()
	waitOnServer(t, "SELECT SLEEP(1)")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := in.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-slept; err != nil {
		t.Fatalf("the statement in flight did not finish: %v", describeErr(err))
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("shutdown returned after %v, before the 1 s statement in flight could finish", d)
	}
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM life_shutdown"); n != 0 {
		t.Fatalf("the open transaction's row is visible after shutdown: %d rows", n)
	}
	if c, err := net.DialTimeout("tcp", in.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts connections after shutdown")
	}
}

// Backend connections killed under the proxy (a restart, wait_timeout, an operator's KILL):
// idle ones are noticed and replaced (while connections die the pool peeks at every one it
// lends), in-flight ones fail that statement only, the cap holds, and afterwards every
// statement works.
func TestBackendConnectionsKilled(t *testing.T) {
	mariadbtest.Need(t, db)
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	// The cap is checked on the server's processlist: wait out connections of earlier tests.
	if !waitUntil(func() bool {
		n, err := queryInt(root, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'")
		return err == nil && n == 0
	}) {
		t.Fatal("connections of earlier tests never went away")
	}
	cfg := proxytest.Config(db, 3)
	in := proxytest.Start(t, cfg)
	p := proxyClient(t, in, "test")
	p.SetMaxOpenConns(12)
	var ok, failed atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var v int
				if err := p.QueryRowContext(context.Background(), "SELECT 1").Scan(&v); err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	peak := 0
	for round := 0; round < 10; round++ {
		time.Sleep(150 * time.Millisecond)
		rows, err := root.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app'")
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			_ = rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) > 3 {
			t.Logf("round %d: %d backend connections: %v", round, len(ids), ids)
		}
		peak = max(peak, len(ids))
		for _, id := range ids {
			_, _ = root.Exec("KILL CONNECTION ?", id)
		}
	}
	stop()
	wg.Wait()
	// The server closes a killed connection's socket on its own time: let the last round's go.
	time.Sleep(300 * time.Millisecond)
	// A client whose statement failed holds its connection through its next statement (or a
	// second idle) for SHOW WARNINGS: wait for those to come back.
	pool := in.Router().Pools()[0]
	waitUntil(func() bool { return pool.Stats().InUse == 0 })
	if s := pool.Stats(); s.Open > 3 || s.InUse != 0 {
		t.Errorf("pool after the kills: %+v", s)
	}
	t.Logf("%d statements succeeded, %d failed while connections were killed; peak %d backend connections", ok.Load(), failed.Load(), peak)
	if peak > 3 {
		t.Fatalf("%d backend connections seen, cap 3", peak)
	}
	if ok.Load() == 0 {
		t.Fatal("nothing succeeded")
	}
	// Afterwards everything works again.
	var v int
	for i := 0; i < 20; i++ {
		if err := p.QueryRow("SELECT 1").Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("after the kills: %v", describeErr(err))
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Reload: new users and a new cap apply, clients already connected keep working.
func TestReloadKeepsClients(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 2)
	cfg.Users = cfg.Users[:1] // app only
	in := proxytest.Start(t, cfg)
	kept := holdConn(t, proxyClient(t, in, "test"))
	mustExec(t, kept, "SET SESSION time_zone = '+03:00'")
	other, err := sql.Open("mysql", proxytest.DSN(in.Addr(), "other", "secret2", "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	wantServerError(t, "before the reload, user other", other.Ping(), 1045, "28000")

	next := proxytest.Config(db, 5)
	next.Proxy.Listen = cfg.Proxy.Listen
	if err := in.Reload(next); err != nil {
		t.Fatal(err)
	}
	if err := other.Ping(); err != nil {
		t.Fatalf("after the reload, user other: %s", describeErr(err))
	}
	if tz := mustString(t, kept, "SELECT @@session.time_zone"); tz != "+03:00" {
		t.Fatalf("the connected client lost its session across the reload: time_zone %q", tz)
	}
	if st := in.Router().Pools()[0].Stats(); st.MaxConns != 5 {
		t.Fatalf("cap after the reload: %d, want 5", st.MaxConns)
	}
}

// client_idle_timeout closes a client that sends nothing for that long (parked or not), and
// only such a client; a pinned client's transaction is rolled back.
func TestClientIdleTimeout(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS life_idle")
	mustExec(t, direct, "CREATE TABLE life_idle (id INT PRIMARY KEY) ENGINE=InnoDB")
	cfg := proxytest.Config(db, 2)
	cfg.Proxy.ClientIdleTimeout.Duration = 1500 * time.Millisecond
	in := proxytest.Start(t, cfg)
	p := proxyClient(t, in, "test")
	idle, busy, pinned := holdConn(t, p), holdConn(t, p), holdConn(t, p)
	mustExec(t, pinned, "BEGIN")
	mustExec(t, pinned, "INSERT INTO life_idle VALUES (1)")
	for i := 0; i < 12; i++ { // 2.4 s of activity on busy only
		mustWork(t, "the active client", busy)
		time.Sleep(200 * time.Millisecond)
	}
	var v int
	if err := idle.QueryRowContext(context.Background(), "SELECT 1").Scan(&v); err == nil {
		t.Fatal("a client idle past client_idle_timeout was not closed")
	}
	if err := pinned.QueryRowContext(context.Background(), "SELECT 1").Scan(&v); err == nil {
		t.Fatal("a pinned client idle past client_idle_timeout was not closed")
	}
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM life_idle"); n != 0 {
		t.Fatalf("the timed-out client's transaction was not rolled back: %d rows", n)
	}
	if got := in.Frontend().Clients(); got != 1 {
		t.Fatalf("%d clients still counted, want 1 (the active one)", got)
	}
}

// Parked clients (idle past a second: no goroutine) are woken by a shutdown and closed, and the
// shutdown does not wait for them.
func TestShutdownWithParkedClients(t *testing.T) {
	mariadbtest.Need(t, db)
	in, err := proxy.Start(proxytest.Config(db, 2), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	p := proxyClient(t, in, "test")
	var conns []*sql.Conn
	for i := 0; i < 20; i++ {
		c := holdConn(t, p)
		mustWork(t, "client", c)
		conns = append(conns, c)
	}
	time.Sleep(1500 * time.Millisecond) // past parkAfter: all parked
	if n := in.Frontend().Clients(); n != 20 {
		t.Fatalf("%d clients counted while parked, want 20", n)
	}
	mustWork(t, "a parked client coming back", conns[0])
	time.Sleep(1500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := in.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown with parked clients took %v", d)
	}
	if n := in.Frontend().Clients(); n != 0 {
		t.Fatalf("%d clients still counted after shutdown", n)
	}
	var v int
	if err := conns[1].QueryRowContext(context.Background(), "SELECT 1").Scan(&v); err == nil {
		t.Fatal("a parked client still works after shutdown")
	}
}

// A session whose database is dropped under it: the one failed replay must still leave the
// connection's variables known (no leak to the next borrower), and the session goes on without a
// database, as on a direct connection.
func TestDatabaseDroppedUnderSession(t *testing.T) {
	mariadbtest.Need(t, db)
	if err := db.Exec("CREATE DATABASE IF NOT EXISTS life_dropme"); err != nil {
		t.Fatal(err)
	}
	in := proxytest.Start(t, proxytest.Config(db, 1))
	p := proxyClient(t, in, "test")
	a, b := holdConn(t, p), holdConn(t, p)
	mustExec(t, a, "SET SESSION sql_mode = 'ANSI'")
	mustExec(t, a, "USE life_dropme")
	defaultMode := mustString(t, b, "SELECT @@session.sql_mode") // b takes the only connection
	if err := db.Exec("DROP DATABASE life_dropme"); err != nil {
		t.Fatal(err)
	}
	_, err := a.ExecContext(context.Background(), "SELECT 1")
	wantServerError(t, "the first statement after the drop", err, 1049, "42000")
	if got := mustString(t, b, "SELECT @@session.sql_mode"); got != defaultMode {
		t.Fatalf("the next borrower sees sql_mode %q, want its own %q: the failed replay leaked", got, defaultMode)
	}
	if got := mustString(t, a, "SELECT COALESCE(DATABASE(), 'none')"); got != "none" {
		t.Fatalf("after its database was dropped the session is in %q, want none", got)
	}
	if got := mustString(t, a, "SELECT @@session.sql_mode"); !strings.Contains(got, "ANSI") {
		t.Fatalf("the session lost its sql_mode: %q", got)
	}
}

// Connect churn (connect, one query, disconnect — the PHP pattern) opens no backend connection
// per client: the logins' database checks are cached and the queries borrow pooled connections.
func TestConnectChurnReusesBackendConnections(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 2))
	dsn := proxytest.DSN(in.Addr(), "app", "secret", "test")
	for i := 0; i < 300; i++ {
		c, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var v int
		if err := c.QueryRow("SELECT 1").Scan(&v); err != nil {
			t.Fatalf("connect %d: %s", i, describeErr(err))
		}
		c.Close()
	}
	st := in.Router().Pools()[0].Stats()
	if st.Dials > 2 {
		t.Fatalf("300 client connects made %d backend connections, want at most the cap (2)", st.Dials)
	}
	t.Logf("300 client connects, %d backend connections opened", st.Dials)
}

// A reload that replaces the backend moves connected clients to the new one at their next
// statement (the same MariaDB under another address stands in for a new server).
func TestReloadReplacesBackend(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 2)
	in := proxytest.Start(t, cfg)
	c := holdConn(t, proxyClient(t, in, "test"))
	mustWork(t, "before the reload", c)
	_, port, _ := net.SplitHostPort(db.Addr)
	next := proxytest.Config(db, 2)
	next.Backends[0].Address = "localhost:" + port
	if err := in.Reload(next); err != nil {
		t.Fatal(err)
	}
	mustWork(t, "after the backend was replaced", c)
	pools := in.Router().Pools()
	if len(pools) != 1 || pools[0].Addr() != "localhost:"+port || pools[0].Stats().Dials == 0 {
		t.Fatalf("pools after the reload: %v", pools)
	}
	for _, s := range in.Router().Sessions() {
		if s.Backend != "localhost:"+port {
			t.Fatalf("a session still shows backend %s", s.Backend)
		}
	}
}
