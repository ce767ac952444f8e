package integration

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/frontend"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// KILL names the proxy's connection ids: KILL QUERY stops that client's statement (not whatever
// runs on a server thread with that number), KILL CONNECTION closes that client.
func TestKillByProxyConnectionID(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 3))
	p := proxyClient(t, in, "test")
	a, b, bystander := holdConn(t, p), holdConn(t, p), holdConn(t, p)
	mustWork(t, "a", a)

	done := make(chan time.Duration, 1)
	aID := startStatement(t, in, func() { sleep10(a, done) })
	// Kill it once it runs on a server thread (TestKillQueryBeforeTheStatementRuns covers the
	// time before).
	waitOnServer(t, sleep10Query)
	mustExec(t, b, fmt.Sprintf("KILL QUERY %d", aID))
	wantStopped(t, done, "KILL QUERY of client A")
	mustWork(t, "a after KILL QUERY", a)
	mustWork(t, "the bystander", bystander)

	_, err := b.ExecContext(context.Background(), "KILL 4000000000")
	wantServerError(t, "KILL of an unknown id", err, 1094, "HY000")

	mustExec(t, b, fmt.Sprintf("KILL CONNECTION %d", aID))
	var v int
	if err := a.QueryRowContext(context.Background(), "SELECT 1").Scan(&v); err == nil {
		t.Fatal("client A still works after KILL CONNECTION")
	}
	mustWork(t, "the bystander after KILL CONNECTION", bystander)
}

// A KILL QUERY for a client whose statement waits for a connection (or is being prepared to
// run) ends it with 1317 at once, instead of being lost on a server thread that is not running
// it yet; the killer needs no connection for that.
func TestKillQueryBeforeTheStatementRuns(t *testing.T) {
	mariadbtest.Need(t, db)
	in, p := cappedProxy(t, 1, 20*time.Second)
	holder, a, killer := holdConn(t, p), holdConn(t, p), holdConn(t, p)
	mustExec(t, holder, "CREATE TABLE IF NOT EXISTS kill_pending (v INT)")
	mustExec(t, holder, "DELETE FROM kill_pending")
	mustExec(t, holder, "BEGIN")
	mustExec(t, holder, "INSERT INTO kill_pending VALUES (1)") // holds the only connection

	done := make(chan error, 1)
	aID := startStatement(t, in, func() {
		_, err := a.ExecContext(context.Background(), "INSERT INTO kill_pending VALUES (2)")
		done <- err
	})
	mustExec(t, killer, fmt.Sprintf("KILL QUERY %d", aID)) // would wait 20 s if it needed a connection
	select {
	case err := <-done:
		wantServerError(t, "the statement killed while it waited", err, 1317, "70100")
	case <-time.After(10 * time.Second):
		t.Fatal("client A's statement still waits for a connection after KILL QUERY")
	}
	mustExec(t, holder, "COMMIT")
	if n := mustInt(t, holder, "SELECT COUNT(*) FROM kill_pending WHERE v = 2"); n != 0 {
		t.Fatal("the killed INSERT ran")
	}
	mustExec(t, a, "INSERT INTO kill_pending VALUES (3)") // the kill does not outlive its statement
	if n := mustInt(t, holder, "SELECT COUNT(*) FROM kill_pending"); n != 2 {
		t.Fatalf("kill_pending has %d rows, want 2", n)
	}
}

// startStatement runs statement (one client's) in a goroutine once every session of in is idle,
// and returns the id of the session that then runs a command: the statement's. (A session shows
// active a moment after its client has the answer.)
func startStatement(t *testing.T, in *proxy.Instance, statement func()) uint32 {
	t.Helper()
	active := func() (uint32, bool) {
		for _, s := range in.Router().Sessions() {
			if s.State == "active" {
				return s.ID, true
			}
		}
		return 0, false
	}
	if !waitUntil(func() bool { _, busy := active(); return !busy }) {
		t.Fatal("a session stayed active")
	}
	go statement()
	var id uint32
	if !waitUntil(func() bool { var ok bool; id, ok = active(); return ok }) {
		t.Fatal("client A's statement never showed as active")
	}
	return id
}

// sleep10Query is a statement that runs until killed (10 s).
const sleep10Query = "SELECT SLEEP(10)"

// sleep10 runs sleep10Query on c and sends how long it took to done.
func sleep10(c *sql.Conn, done chan<- time.Duration) {
	start := time.Now()
	var v int
	_ = c.QueryRowContext(context.Background(), sleep10Query).Scan(&v)
	done <- time.Since(start)
}

// wantStopped fails the test unless the sleep10 reporting to done was cut short by the kill.
func wantStopped(t *testing.T, done <-chan time.Duration, kill string) {
	t.Helper()
	select {
	case d := <-done:
		if d > 5*time.Second {
			t.Fatalf("%s: the statement ran %v", kill, d)
		}
	case <-time.After(8 * time.Second):
		t.Fatalf("%s did not stop the statement", kill)
	}
}

// waitOnServer waits until a server thread runs the statement q.
func waitOnServer(t *testing.T, q string) {
	t.Helper()
	direct := directClient(t, "test")
	if !waitUntil(func() bool {
		n, err := queryInt(direct, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = ?", q)
		return err == nil && n == 1
	}) {
		t.Fatalf("%q never showed on the server", q)
	}
}

// Ids below frontend.ClientIDBase are server thread ids, as SHOW PROCESSLIST and CONNECTION_ID()
// show them through the proxy: KILL QUERY of one stops the statement on that thread, as on a
// direct connection; a client killing its own thread gets the server's error and is
// disconnected; no other client is touched.
func TestKillServerThreadID(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 3))
	p := proxyClient(t, in, "test")
	a, b, c, bystander := holdConn(t, p), holdConn(t, p), holdConn(t, p), holdConn(t, p)
	mustWork(t, "a", a)
	for _, s := range in.Router().Sessions() {
		if s.ID <= frontend.ClientIDBase {
			t.Fatalf("client id %d is not above %d", s.ID, frontend.ClientIDBase)
		}
	}

	done := make(chan time.Duration, 1)
	go sleep10(a, done)
	waitOnServer(t, sleep10Query)
	tid := mustInt(t, b, "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ?", sleep10Query)
	if tid >= frontend.ClientIDBase {
		t.Fatalf("server thread id %d is not below %d", tid, frontend.ClientIDBase)
	}
	mustExec(t, b, fmt.Sprintf("KILL QUERY %d", tid))
	wantStopped(t, done, "KILL QUERY of the server thread running client A's statement")
	mustWork(t, "a after KILL QUERY", a)

	mustExec(t, c, "BEGIN") // keeps c on one server thread
	own := mustInt(t, c, "SELECT CONNECTION_ID()")
	_, err := c.ExecContext(context.Background(), fmt.Sprintf("KILL %d", own))
	wantServerError(t, "KILL of the client's own server thread", err, 1927, "70100")
	if err := c.PingContext(context.Background()); err == nil {
		t.Fatal("the client still works after killing its own connection")
	}
	mustWork(t, "a after c's KILL", a)
	mustWork(t, "the bystander", bystander)
	if !waitUntil(func() bool { return len(in.Router().Sessions()) == 3 }) {
		t.Fatalf("%d sessions, want 3 (a, b, bystander)", len(in.Router().Sessions()))
	}
}

// KILL QUERY storms: clients run statements (some waiting for one of the 2 connections) while
// two others kill random clients' statements, and each other, as fast as they can. Nothing
// deadlocks, each statement either completes or gets 1317, and afterwards everyone works.
func TestKillQueryStorm(t *testing.T) {
	mariadbtest.Need(t, db)
	in, p := cappedProxy(t, 2, 10*time.Second)
	p.SetMaxOpenConns(12)
	workers := make([]*sql.Conn, 8)
	for i := range workers {
		workers[i] = holdConn(t, p)
	}
	killers := []*sql.Conn{holdConn(t, p), holdConn(t, p)}
	var ids []uint32
	for _, s := range in.Router().Sessions() {
		ids = append(ids, s.ID)
	}
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	var wg sync.WaitGroup
	var done, killed atomic.Int64
	errs := make(chan error, len(workers)+len(killers))
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var v int
				err := w.QueryRowContext(context.Background(), "SELECT SLEEP(0.002) + 1").Scan(&v)
				switch {
				case err == nil && v == 1, err == nil && v == 2: // SLEEP returns 1 when killed
					done.Add(1)
				case mysqlError(err) != nil && mysqlError(err).Number == 1317:
					killed.Add(1)
				default:
					errs <- fmt.Errorf("worker: %v (%d)", describeErr(err), v)
					return
				}
			}
		}()
	}
	for i, k := range killers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := i; ctx.Err() == nil; n++ {
				if _, err := k.ExecContext(context.Background(), fmt.Sprintf("KILL QUERY %d", ids[n%len(ids)])); err != nil {
					errs <- fmt.Errorf("killer: %v", describeErr(err))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d statements completed, %d refused or interrupted with 1317", done.Load(), killed.Load())
	if done.Load() == 0 {
		t.Fatal("no statement completed")
	}
	for i, w := range workers {
		mustWork(t, fmt.Sprintf("worker %d after the storm", i), w)
	}
}
