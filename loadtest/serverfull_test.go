//go:build load

package loadtest

import (
	"context"
	"database/sql"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// The run: MariaDB with max_connections=20, 15 of them held by others (another
// application, and the root sampler), mysqlmux with cap 10 and acquire_timeout 5s in front,
// 100 clients looping over BEGIN; SELECT 1; DO SLEEP(0.05); COMMIT.
const (
	fullServerMax = 20
	fullRoom      = 5
	fullCap       = 10
	fullClients   = 100
)

// fullRunFor is how long each run lasts: MYSQLMUX_FULL_RUN (a Go duration; the figures
// are for 20s) or 8 s, what CI affords.
func fullRunFor(t *testing.T) time.Duration {
	v := os.Getenv("MYSQLMUX_FULL_RUN")
	if v == "" {
		return 8 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("MYSQLMUX_FULL_RUN=%q: %v", v, err)
	}
	return d
}

// crowdedServer starts a MariaDB with max_connections=20 for one test, with the plain users mux
// (the proxy's) and squat (another application's), and opens the root sampler first, so that
// it holds one of the 20 as another client would.
func crowdedServer(t *testing.T) (*mariadbtest.Server, *sql.DB) {
	t.Helper()
	srv := mariadbtest.StartTB(t, mariadbtest.Options{MaxConnections: fullServerMax})
	for _, u := range []string{"mux", "squat"} {
		if err := srv.CreatePlainUser(u, u+"pw"); err != nil {
			t.Fatal(err)
		}
	}
	root, err := srv.Root()
	if err != nil {
		t.Fatal(err)
	}
	root.SetMaxOpenConns(1)
	t.Cleanup(func() { root.Close() })
	return srv, root
}

// globalStatus reads one of the server's status counters.
func globalStatus(t *testing.T, root *sql.DB, name string) int {
	t.Helper()
	var n int
	if err := root.QueryRow("SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func threadsConnected(t *testing.T, root *sql.DB) int {
	return globalStatus(t, root, "Threads_connected")
}

// fullProxy starts mysqlmux (cap maxConns, acquire_timeout 5s, plus pool settings) in front of
// srv, with its console.
func fullProxy(t *testing.T, srv *mariadbtest.Server, maxConns int, pool ...string) (*proxyProc, *console) {
	t.Helper()
	port := func() string { return "127.0.0.1:" + strconv.Itoa(freePort(t)) }
	addr, adminAddr, httpAddr := port(), port(), port()
	settings := append([]string{"max_connections = " + strconv.Itoa(maxConns), `acquire_timeout = "5s"`}, pool...)
	p := startProxyTOML(t, addr, proxyTOML(addr, adminAddr, httpAddr, srv.Addr, "mux", "muxpw", settings...))
	return p, openConsole(t, adminAddr, httpAddr)
}

// fullRun is what one run measured.
type fullRun struct {
	load        *txLoad
	elapsed     time.Duration
	pool        map[string]string // SHOW POOLS at the end
	median      time.Duration     // the pool's median wait: the bound of its histogram bucket
	peakThreads int
	serverSaw   int // connection attempts the server refused during the run
}

// fairWait is what each client waits when every one is served in turn: the other clients'
// transactions, shared by the connections open.
func (r fullRun) fairWait() time.Duration {
	open, _ := strconv.Atoi(r.pool["open"])
	return time.Duration(fullClients-1) * r.load.meanHold() / time.Duration(max(open, 1))
}

// refusedPerSecond counts the refusals as the server saw them (the proxy's own count is
// logged beside).
func (r fullRun) refusedPerSecond() float64 { return float64(r.serverSaw) / r.elapsed.Seconds() }

func (r fullRun) report(t *testing.T, name string) {
	t.Helper()
	t.Logf("%s: %d transactions in %v, %d clients failed (first: %v)", name, r.load.commits.Load(),
		r.elapsed.Round(time.Millisecond), r.load.failed.Load(), r.load.first.Load())
	t.Logf("%s: client-side wait (BEGIN): median %v, p99 %v, longest %v (fair share %v); a transaction held its connection %v; transactions per client differ by %d at most",
		name, r.load.quantile(0.5).Round(time.Millisecond), r.load.quantile(0.99).Round(time.Millisecond),
		r.load.quantile(1).Round(time.Millisecond), r.fairWait().Round(time.Millisecond),
		r.load.meanHold().Round(time.Millisecond), r.load.spread())
	t.Logf("%s: pool: open %s, waits %s (%s ms in all), longest %s ms, median <= %v; refused dials %s (%.2f/s; the server counted %d), dial_state %s; peak Threads_connected %d",
		name, r.pool["open"], r.pool["wait_count"], r.pool["wait_time_ms"], r.pool["wait_max_ms"], r.median,
		r.pool["refused_dials"], r.refusedPerSecond(), r.serverSaw, r.pool["dial_state"], r.peakThreads)
}

// runFull runs the load for d through a new proxy and stops the proxy.
func runFull(t *testing.T, srv *mariadbtest.Server, root *sql.DB, d time.Duration) fullRun {
	t.Helper()
	p, con := fullProxy(t, srv, fullCap)
	// Aborted_connects counts both ways MariaDB refuses: before the handshake
	// (Connection_errors_max_connections) and at login, for users without CONNECTION ADMIN.
	refusedBefore := globalStatus(t, root, "Aborted_connects")
	stop := make(chan struct{})
	peak := sampleThreads(t, root, stop)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	l := runTxLoad(ctx, t, p.addr, "mux", "muxpw", fullClients, "", nil)
	<-ctx.Done()
	l.wait()
	r := fullRun{load: l, elapsed: time.Since(start)}
	close(stop)
	r.peakThreads = <-peak
	r.pool, r.median = con.pool(t), con.medianWait(t)
	r.serverSaw = globalStatus(t, root, "Aborted_connects") - refusedBefore
	p.stop(t)
	return r
}

// Must-show 1: with the server nearly full, every client is served in turn from the
// connections the proxy got: no client error, no wait for a connection above 2 s, fewer than 2
// refused dials per second. The control run (nobody else connected) serves everyone too, with
// no refused dial.
func TestServerFullFairQueue(t *testing.T) {
	srv, root := crowdedServer(t)
	d := fullRunFor(t)
	crowd, err := srv.Crowd("squat", "squatpw", fullRoom)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held elsewhere: %d of %d connections (%d by the other application, the root sampler, the server's own)",
		threadsConnected(t, root), fullServerMax, crowd.Len())
	full := runFull(t, srv, root, d)
	full.report(t, "server full")
	crowd.Close()
	deadline := time.Now().Add(30 * time.Second)
	for threadsConnected(t, root) > 2 {
		if time.Now().After(deadline) {
			t.Fatal("the other application's connections did not go away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	control := runFull(t, srv, root, d)
	control.report(t, "control")

	// On a quiet machine the fair wait is about 1 s with 5 connections (0.5 s with 10), so the
	// bound below is the 2 s; a loaded machine lengthens every transaction, and the
	// bound with it. The spread of transactions per client does not depend on the machine.
	for name, r := range map[string]fullRun{"server full": full, "control": control} {
		if r.load.failed.Load() != 0 {
			t.Errorf("%s: %d clients failed; first: %v", name, r.load.failed.Load(), r.load.first.Load())
		}
		if longest, bound := r.load.quantile(1), max(2*time.Second, 2*r.fairWait()); longest > bound {
			t.Errorf("%s: a client waited %v for a connection, over twice the fair share (%v)", name, longest, r.fairWait())
		}
		if s := r.load.spread(); s > 2 {
			t.Errorf("%s: transactions per client differ by %d: some clients were served more often than others", name, s)
		}
	}
	if full.pool["dial_state"] != "server_full" || full.refusedPerSecond() >= 2 {
		t.Errorf("server full: dial state %s, %.2f refused dials per second (want server_full, under 2)",
			full.pool["dial_state"], full.refusedPerSecond())
	}
	if control.serverSaw != 0 || control.pool["refused_dials"] != "0" || control.pool["dial_state"] != "ok" {
		t.Errorf("control: %d refused dials (%s by the proxy's count), dial state %s", control.serverSaw, control.pool["refused_dials"], control.pool["dial_state"])
	}
}

// Must-show 2: the other application lets go mid-run: the proxy grows back to its cap within a
// few seconds. Then max_connections is lowered under everyone's feet: as the proxy's connections
// reach max_lifetime and are dialled again, the server refuses, and the proxy serves its clients
// in turn from fewer connections (shedding one per refused dial, not all those that expire
// together), with no client error and no transaction lost (every COMMIT that succeeded left its
// row).
func TestServerFullGrowsAndShrinks(t *testing.T) {
	srv, root := crowdedServer(t)
	if err := srv.Exec("CREATE TABLE test.full_tx (client INT, seq INT, PRIMARY KEY (client, seq))"); err != nil {
		t.Fatal(err)
	}
	crowd, err := srv.Crowd("squat", "squatpw", fullRoom)
	if err != nil {
		t.Fatal(err)
	}
	defer crowd.Close()
	p, con := fullProxy(t, srv, fullCap, `max_lifetime = "3s"`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := runTxLoad(ctx, t, p.addr, "mux", "muxpw", fullClients, "test.full_tx", nil)

	openNow := func() int {
		n, _ := strconv.Atoi(con.pool(t)["open"])
		return n
	}
	waitOpen := func(what string, limit time.Duration, cond func(int) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond(openNow()) {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %v; SHOW POOLS: %v", what, limit, con.pool(t))
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	time.Sleep(3 * time.Second)
	if st := con.pool(t); st["dial_state"] != "server_full" {
		t.Errorf("with %d connections left on the server: %v", fullRoom, st)
	}
	crowd.Close()
	grew := waitOpen("back to the cap after the other application disconnected", 20*time.Second, func(n int) bool { return n == fullCap })
	t.Logf("grew back to %d connections %v after the other application disconnected", fullCap, grew.Round(time.Millisecond))

	time.Sleep(2 * time.Second)
	const lowered = 8
	if _, err := root.Exec("SET GLOBAL max_connections = " + strconv.Itoa(lowered)); err != nil {
		t.Fatal(err)
	}
	shrank := waitOpen("fewer connections after max_connections was lowered", 30*time.Second, func(n int) bool { return n < lowered })
	t.Logf("max_connections lowered to %d: the proxy holds %d connections %v later", lowered, openNow(), shrank.Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	cancel()
	l.wait()

	st := con.pool(t)
	t.Logf("%d transactions, %d clients failed; longest BEGIN wait %v; transactions per client differ by %d; pool: %v",
		l.commits.Load(), l.failed.Load(), l.quantile(1).Round(time.Millisecond), l.spread(), st)
	if l.failed.Load() != 0 {
		t.Errorf("%d clients failed; first: %v", l.failed.Load(), l.first.Load())
	}
	if l.spread() > 2 {
		t.Errorf("transactions per client differ by %d: some clients were served more often than others", l.spread())
	}
	var rows int64
	if err := root.QueryRow("SELECT COUNT(*) FROM test.full_tx").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != l.commits.Load() {
		t.Errorf("%d rows for %d committed transactions", rows, l.commits.Load())
	}
}

// The second run: three proxies (cap 30 each, 100 clients each) in front of one server
// with max_connections=60, all starting at once. Each backs off on its own, with jitter: together
// they cause no storm of refused dials, and every client of every proxy is served. (A proxy that
// starts after the others filled the server gets connections only as they close theirs.)
func TestThreeProxiesShareAServer(t *testing.T) {
	const proxies, serverMax, maxConns = 3, 60, 30
	srv := mariadbtest.StartTB(t, mariadbtest.Options{MaxConnections: serverMax})
	if err := srv.CreatePlainUser("mux", "muxpw"); err != nil {
		t.Fatal(err)
	}
	root, err := srv.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	root.SetMaxOpenConns(1)
	var procs []*proxyProc
	var cons []*console
	for range proxies {
		p, con := fullProxy(t, srv, maxConns)
		procs, cons = append(procs, p), append(cons, con)
	}
	d := fullRunFor(t)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	begin := make(chan struct{})
	var loads []*txLoad
	for _, p := range procs {
		loads = append(loads, runTxLoad(ctx, t, p.addr, "mux", "muxpw", fullClients, "", begin))
	}
	stop := make(chan struct{})
	peak := sampleThreads(t, root, stop)
	start := time.Now()
	close(begin)
	<-ctx.Done()
	refused := 0
	var counts []int
	for i, l := range loads {
		l.wait()
		st := cons[i].pool(t)
		n, _ := strconv.Atoi(st["refused_dials"])
		refused += n
		counts = append(counts, n)
		t.Logf("proxy %d: %d transactions, %d clients failed (first: %v); BEGIN wait median %v, longest %v; transactions per client differ by %d; open %s, refused dials %s, dial_state %s",
			i+1, l.commits.Load(), l.failed.Load(), l.first.Load(), l.quantile(0.5).Round(time.Millisecond),
			l.quantile(1).Round(time.Millisecond), l.spread(), st["open"], st["refused_dials"], st["dial_state"])
		if l.failed.Load() != 0 {
			t.Errorf("proxy %d: %d clients failed; first: %v", i+1, l.failed.Load(), l.first.Load())
		}
		if l.spread() > 2 {
			t.Errorf("proxy %d: transactions per client differ by %d: some clients were served more often than others", i+1, l.spread())
		}
	}
	elapsed := time.Since(start)
	close(stop)
	t.Logf("three proxies: %d refused dials in %v (%.2f/s); peak Threads_connected %d", refused,
		elapsed.Round(time.Millisecond), float64(refused)/elapsed.Seconds(), <-peak)
	// Each proxy: the dials in flight when the server filled up (fewer than its cap, as the pool
	// grows by doubling), then one per backoff, 50 ms doubling, each wait at least half its step.
	probes := int(math.Log2(elapsed.Seconds()/0.025+1)) + 1
	for i, n := range counts {
		if n > maxConns+probes {
			t.Errorf("proxy %d: %d refused dials in %v; its backoff allows at most %d", i+1, n, elapsed, maxConns+probes)
		}
	}
}
