package routing

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// TestLaggingReplicaLeavesRotation is must-show 4 of issue 10: one replica's SQL thread stops
// while a client keeps writing. The replica goes on serving reads while its data is within
// max_replica_lag, leaves the rotation before any read could see older data, and returns once
// it has caught up. Every read's staleness is measured from the writes it misses.
func TestLaggingReplicaLeavesRotation(t *testing.T) {
	const maxLag = time.Second
	c := startCluster(t, []int{1, 1}, func(cfg *config.Config) {
		cfg.Routing.MaxReplicaLag.Duration = maxLag
	})
	db := c.db(t)
	mustExec(t, db, "CREATE TABLE lag_t (id INT PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO lag_t VALUES (0)")
	if err := c.repl.WaitCaughtUp(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopped := c.repl.Replicas[0]
	console, metrics := c.console(t)

	// The writer commits id 1, 2, ... every 10 ms and notes when each commit returned.
	var mu sync.Mutex
	committed := []time.Time{time.Now()} // by id
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for id := 1; ; id++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := db.Exec("INSERT INTO lag_t VALUES (?)", id); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			committed = append(committed, time.Now())
			mu.Unlock()
		}
	})

	// Readers: which server answered, and how stale: a read that returns MAX(id) = m and began
	// after id m+1 had committed misses every write since that commit.
	type phase struct {
		reads, fromStopped atomic.Int64
		worst              atomic.Int64 // the stalest read, in ns
	}
	var phases [3]phase // 0: before the stop, 1: stopped, 2: restarted
	var current atomic.Int32
	readers := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			for {
				select {
				case <-readers:
					return
				default:
				}
				p := &phases[current.Load()]
				began := time.Now()
				var maxID int
				var server string
				if err := conn.QueryRowContext(context.Background(), "SELECT MAX(id), @@server_id FROM lag_t").Scan(&maxID, &server); err != nil {
					t.Error(err)
					return
				}
				p.reads.Add(1)
				if c.serverName(server) == "replica1" {
					p.fromStopped.Add(1)
				}
				mu.Lock()
				var stale time.Duration
				if maxID+1 < len(committed) && committed[maxID+1].Before(began) {
					stale = began.Sub(committed[maxID+1])
				}
				mu.Unlock()
				for {
					w := p.worst.Load()
					if int64(stale) <= w || p.worst.CompareAndSwap(w, int64(stale)) {
						break
					}
				}
			}
		})
	}

	time.Sleep(500 * time.Millisecond)
	current.Store(1)
	if err := stopped.Exec("STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	c.waitStates(t, 5*time.Second, func(st map[string]proxy.BackendState) bool { return st[stopped.Addr].State == "lagging" })
	left := time.Since(stoppedAt)
	// What the operator sees.
	rows := backendsRows(t, console)
	if r := rows[stopped.Addr]; r["role"] != "replica" || r["state"] != "lagging" || r["why"] == "" || r["read_only"] != "yes" {
		t.Errorf("SHOW BACKENDS, the stopped replica: %v", r)
	}
	if r := rows[c.repl.Primary.Addr]; r["role"] != "primary" || r["state"] != "writer" || r["read_only"] != "no" {
		t.Errorf("SHOW BACKENDS, the primary: %v", r)
	}
	if r := rows[c.repl.Replicas[1].Addr]; r["state"] != "reader" || r["replicating"] != "yes" || r["lag_ms"] == "" {
		t.Errorf("SHOW BACKENDS, the other replica: %v", r)
	}
	for series, want := range map[string]string{
		`mysqlmux_backend_reader{backend="` + stopped.Addr + `"}`:            "0",
		`mysqlmux_backend_reader{backend="` + c.repl.Replicas[1].Addr + `"}`: "1",
		`mysqlmux_backend_writer{backend="` + c.repl.Primary.Addr + `"}`:     "1",
	} {
		if got := metric(t, metrics, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	if got := metric(t, metrics, "mysqlmux_replica_reads_total"); got == "" || got == "0" {
		t.Errorf("mysqlmux_replica_reads_total = %q", got)
	}
	time.Sleep(maxLag) // well out of rotation
	if err := stopped.Exec("START SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	c.waitStates(t, 10*time.Second, func(st map[string]proxy.BackendState) bool { return st[stopped.Addr].Reader })
	current.Store(2)
	time.Sleep(500 * time.Millisecond)
	close(readers)
	close(stop)
	wg.Wait()

	t.Logf("the stopped replica left the rotation %s after its SQL thread stopped", left.Round(time.Millisecond))
	for i, name := range []string{"before", "stopped", "caught up"} {
		p := &phases[i]
		t.Logf("%s: %d reads, %d from the stopped replica, stalest %s", name, p.reads.Load(), p.fromStopped.Load(),
			time.Duration(p.worst.Load()).Round(time.Millisecond))
		if w := time.Duration(p.worst.Load()); w > maxLag {
			t.Errorf("%s: a read was %s stale, beyond max_replica_lag %s", name, w, maxLag)
		}
	}
	if left < maxLag/2 {
		t.Errorf("the replica left the rotation %s after the stop: it should serve while within max_replica_lag", left)
	}
	if phases[1].fromStopped.Load() == 0 {
		t.Errorf("the stopped replica served no read before leaving the rotation")
	}
	if phases[2].fromStopped.Load() == 0 {
		t.Errorf("the replica did not serve reads again after catching up")
	}
	if w := time.Duration(phases[1].worst.Load()); w < maxLag/2 {
		t.Errorf("while stopped, the stalest read was %s: the replica never lagged", w)
	}
}
