package routing

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// TestFailover is must-show 5 of issue 10: the primary is killed while clients write and read;
// a replica is promoted (read_only off, the other replica re-pointed at it) and writes resume
// on it within 5 s, with no change to the proxy; reads go on meanwhile; no write ever reaches a
// read-only server (its own counters say so).
func TestFailover(t *testing.T) {
	c := startCluster(t, []int{1, 1}, func(cfg *config.Config) {
		cfg.Pool.AcquireTimeout.Duration = 15 * time.Second
	})
	db := c.db(t)
	db.SetMaxOpenConns(16)
	mustExec(t, db, "CREATE TABLE fo_t (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6))")
	if err := c.repl.WaitCaughtUp(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	newPrimary, other := c.repl.Replicas[0], c.repl.Replicas[1]
	// What the application's account wrote on each replica, as the server counts it (userstat:
	// replication's own writes are not the account's).
	writesOn := func() (int64, int64) { return appWrites(t, newPrimary), appWrites(t, other) }

	// Writers: INSERT in a loop, noting errors and when writes succeed.
	var (
		mu          sync.Mutex
		lastOK      time.Time
		firstAfter  time.Time // the first write that succeeded after the promotion
		promotedAt  time.Time
		writeErrors = map[uint16]int{}
		otherErrors []error
		readsOK     atomic.Int64
		readErrors  atomic.Int64
		inserted    atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := db.Exec("INSERT INTO fo_t (at) VALUES (NOW(6))")
				now := time.Now()
				mu.Lock()
				var me *mysql.MySQLError
				switch {
				case err == nil:
					inserted.Add(1)
					lastOK = now
					if !promotedAt.IsZero() && firstAfter.IsZero() {
						firstAfter = now
					}
				case errors.As(err, &me):
					writeErrors[me.Number]++
				default:
					otherErrors = append(otherErrors, err)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	var readsDuringOutage atomic.Int64
	var outage atomic.Bool
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int64
			if err := db.QueryRow("SELECT COUNT(*) FROM fo_t").Scan(&n); err != nil {
				readErrors.Add(1)
			} else {
				readsOK.Add(1)
				if outage.Load() {
					readsDuringOutage.Add(1)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	time.Sleep(500 * time.Millisecond)
	// Kill the primary as a crash would.
	if err := syscall.Kill(c.repl.Primary.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	outage.Store(true)
	c.waitStates(t, 10*time.Second, func(st map[string]proxy.BackendState) bool { return !st[c.repl.Primary.Addr].Up })
	time.Sleep(time.Second) // an outage: writes wait, reads go on

	// Promote the replica that got the most of the dead primary's log, as an operator would:
	// the other one may hold a transaction the promoted one never received, and would then
	// refuse to replicate from it (ERROR 1236).
	if appliedSeq(t, other) > appliedSeq(t, newPrimary) {
		newPrimary, other = other, newPrimary
	}
	if err := newPrimary.Exec("STOP SLAVE"); err != nil {
		t.Fatal(err)
	}
	if err := newPrimary.Exec("RESET SLAVE ALL"); err != nil {
		t.Fatal(err)
	}
	if err := other.ReplicateFrom(newPrimary); err != nil {
		t.Fatal(err)
	}
	a1, _ := writesOn()
	mu.Lock()
	promotedAt = time.Now()
	mu.Unlock()
	if err := newPrimary.Exec("SET GLOBAL read_only = 0"); err != nil {
		t.Fatal(err)
	}
	outage.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := !firstAfter.IsZero()
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // writes go on on the new primary
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed the primary at +0; promoted at +%s; first write on the new primary at +%s; %d rows inserted",
		promotedAt.Sub(killedAt).Round(time.Millisecond), firstAfter.Sub(killedAt).Round(time.Millisecond), inserted.Load())
	t.Logf("write errors by code: %v, others: %v; reads: %d ok (%d during the outage), %d failed",
		writeErrors, otherErrors, readsOK.Load(), readsDuringOutage.Load(), readErrors.Load())
	if firstAfter.IsZero() {
		t.Fatalf("no write succeeded after the promotion")
	}
	if d := firstAfter.Sub(promotedAt); d > 5*time.Second {
		t.Errorf("writes resumed %s after the promotion, want within 5 s", d)
	}
	if lastOK.Before(firstAfter) {
		t.Errorf("writes did not go on after the promotion")
	}
	// In flight on the dead primary: lost connection (2013), never replayed elsewhere. Waiting
	// for a writer: nothing, or 9001 past acquire_timeout. A read-only server's refusal
	// (1290) would mean a write was sent to it.
	for code, n := range writeErrors {
		if code != 2013 {
			t.Errorf("%d writes failed with ERROR %d", n, code)
		}
	}
	for _, err := range otherErrors {
		if !errors.Is(err, mysql.ErrInvalidConn) {
			t.Errorf("write failed: %v", err)
		}
	}
	if readsDuringOutage.Load() == 0 {
		t.Errorf("no read succeeded while there was no primary")
	}
	// The account wrote nothing on a server while it was read-only, then wrote on the new
	// primary.
	a2, b2 := writesOn()
	if a1 != 0 || b2 != 0 {
		t.Errorf("the application's account wrote %d times on the promoted replica before its promotion, %d on the other replica", a1, b2)
	}
	if a2 == 0 {
		t.Errorf("the application's account wrote nothing on the new primary")
	}
}
