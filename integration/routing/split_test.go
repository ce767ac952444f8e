package routing

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// TestReadWriteSplit is must-shows 1 and 2 of issue 10 on one primary and two replicas with
// read weights 1 and 3: autocommit reads spread by weight, writes and transactions on the
// primary only, as each server's own counters say; and a session's state holds across servers.
func TestReadWriteSplit(t *testing.T) {
	c := startCluster(t, []int{1, 3}, func(cfg *config.Config) {
		cfg.Rules = []config.RuleConfig{{Match: `^SELECT 'rule'`, To: config.RolePrimary}}
	})
	db := c.db(t)
	db.SetMaxOpenConns(8)
	mustExec(t, db, "CREATE TABLE split_t (id INT PRIMARY KEY, v INT)")
	mustExec(t, db, "INSERT INTO split_t VALUES (1, 0)")
	if err := c.repl.WaitCaughtUp(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	t.Run("spread", func(t *testing.T) {
		names := []string{"Com_select", "Com_insert", "Com_update", "Com_delete", "Com_begin", "Com_commit"}
		servers := append([]*mariadbtest.Server{c.repl.Primary}, c.repl.Replicas...)
		before := make([]map[string]int64, len(servers))
		for i, s := range servers {
			before[i] = counters(t, s, names...)
		}
		const reads, writes, txns = 4000, 200, 50
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < reads; i += 8 {
					var v int
					if err := db.QueryRow("SELECT v FROM split_t WHERE id = 1").Scan(&v); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Go(func() {
			for i := range writes {
				if _, err := db.Exec("INSERT INTO split_t VALUES (?, ?)", 1000+i, i); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range txns {
				tx, err := db.Begin()
				if err == nil {
					var v int
					if err = tx.QueryRow("SELECT v FROM split_t WHERE id = 1").Scan(&v); err == nil {
						if _, err = tx.Exec("UPDATE split_t SET v = v + 1 WHERE id = 1"); err == nil {
							err = tx.Commit()
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		d := make([]map[string]int64, len(servers))
		for i, s := range servers {
			d[i] = delta(before[i], counters(t, s, names...))
			t.Logf("server %d ran: %v", i, d[i])
		}
		// The monitor's own look is a SELECT on every server every 100 ms: a few dozen at most.
		const monitorSlack = 60
		replicaSelects := d[1]["Com_select"] + d[2]["Com_select"]
		if replicaSelects < reads || replicaSelects > reads+2*monitorSlack {
			t.Errorf("the replicas ran %d SELECTs, want the %d autocommit reads", replicaSelects, reads)
		}
		for i, want := range []float64{0.25, 0.75} {
			share := float64(d[i+1]["Com_select"]) / float64(replicaSelects)
			if math.Abs(share-want) > want*0.10 {
				t.Errorf("replica %d served %.1f%% of the reads, want %.0f%% ±10%%", i+1, 100*share, 100*want)
			}
		}
		if got := d[0]["Com_select"]; got < txns || got > txns+monitorSlack {
			t.Errorf("the primary ran %d SELECTs, want the %d in transactions (and the monitor's)", got, txns)
		}
		if d[0]["Com_insert"] != writes || d[0]["Com_update"] != txns || d[0]["Com_commit"] != txns {
			t.Errorf("the primary ran %v, want %d INSERTs, %d UPDATEs and COMMITs", d[0], writes, txns)
		}
		// A replica counts what replication applies too: the primary's writes, each replicated
		// transaction with its BEGIN and COMMIT. Anything more came from a client.
		for i := 1; i < len(servers); i++ {
			for _, name := range []string{"Com_insert", "Com_update", "Com_delete"} {
				if d[i][name] != d[0][name] {
					t.Errorf("replica %d: %s = %d, the primary's is %d: a client wrote there", i, name, d[i][name], d[0][name])
				}
			}
			if d[i]["Com_begin"] != writes+txns || d[i]["Com_commit"] != writes+txns {
				t.Errorf("replica %d: Com_begin %d, Com_commit %d; want the %d replicated transactions only", i, d[i]["Com_begin"], d[i]["Com_commit"], writes+txns)
			}
		}
	})

	t.Run("state", func(t *testing.T) {
		conn := c.conn(t)
		where := func(q string) string { return c.serverName(queryString(t, conn, q)) }
		for i := range 20 {
			mustExec(t, conn, fmt.Sprintf("SET @x = %d", i))
			if got := queryString(t, conn, "SELECT @x"); got != fmt.Sprint(i) {
				t.Fatalf("SET @x = %d; SELECT @x returned %s", i, got)
			}
		}
		// A user variable read is a plain read: it may run on a replica, with @x replayed.
		seen := map[string]bool{}
		for range 20 {
			seen[where("SELECT @@server_id + 0 * @x")] = true
		}
		if seen["primary"] || len(seen) != 2 {
			t.Errorf("autocommit reads with @x set ran on %v, want both replicas only", seen)
		}

		// A temporary table pins the session to the primary, where it lives.
		mustExec(t, conn, "CREATE TEMPORARY TABLE tmp_t (a INT)")
		mustExec(t, conn, "INSERT INTO tmp_t VALUES (5)")
		for range 10 {
			if got := queryString(t, conn, "SELECT a FROM tmp_t"); got != "5" {
				t.Fatalf("temporary table read %q", got)
			}
		}
		if got := where("SELECT @@server_id"); got != "primary" {
			t.Errorf("with a temporary table, a read ran on %s", got)
		}
		mustExec(t, conn, "DROP TEMPORARY TABLE tmp_t")

		// Locking reads, a hint, a rule and a transaction: the primary.
		for _, q := range []string{
			"SELECT @@server_id FROM split_t WHERE id = 1 FOR UPDATE",
			"SELECT @@server_id FROM split_t WHERE id = 1 LOCK IN SHARE MODE",
			"SELECT /* mysqlmux:primary */ @@server_id",
			"SELECT 'rule', @@server_id",
		} {
			var a, b sql.NullString
			row := conn.QueryRowContext(context.Background(), q)
			if q == "SELECT 'rule', @@server_id" {
				if err := row.Scan(&a, &b); err != nil {
					t.Fatal(err)
				}
			} else if err := row.Scan(&b); err != nil {
				t.Fatal(err)
			}
			if got := c.serverName(b.String); got != "primary" {
				t.Errorf("%s ran on %s, want the primary", q, got)
			}
		}
		tx, err := conn.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"SELECT @@server_id", "SELECT @@server_id FROM split_t WHERE id = 1 FOR UPDATE"} {
			if got := c.serverName(queryString(t, tx, q)); got != "primary" {
				t.Errorf("in a transaction, %s ran on %s", q, got)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		// A prepared read (go-sql-driver prepares a statement with an argument) goes to a
		// replica too, prepared there when needed.
		seen = map[string]bool{}
		for i := range 20 {
			var id, x string
			if err := conn.QueryRowContext(context.Background(), "SELECT @@server_id, ?", i).Scan(&id, &x); err != nil || x != fmt.Sprint(i) {
				t.Fatalf("prepared read: %v %q", err, x)
			}
			seen[c.serverName(id)] = true
		}
		if seen["primary"] {
			t.Errorf("prepared autocommit reads ran on %v", seen)
		}
	})

	// KILL QUERY of a statement that runs on a replica goes to that replica.
	t.Run("kill", func(t *testing.T) {
		a, b := c.conn(t), c.conn(t)
		mustExec(t, a, "DO 1")
		done := make(chan string, 1)
		start := time.Now()
		go func() {
			var slept, server string
			err := a.QueryRowContext(context.Background(), "SELECT SLEEP(10), @@server_id").Scan(&slept, &server)
			done <- fmt.Sprint(c.serverName(server), " ", err)
		}()
		var victim uint32
		deadline := time.Now().Add(5 * time.Second)
		for victim == 0 && time.Now().Before(deadline) {
			for _, s := range c.in.Router().Sessions() {
				if s.State == "active" {
					victim = s.ID
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		running := false
		for ; !running && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			for _, r := range c.repl.Replicas {
				running = running || runs(t, r, "SELECT SLEEP(10), @@server_id")
			}
		}
		if !running {
			t.Fatal("the read does not run on a replica")
		}
		mustExec(t, b, fmt.Sprintf("KILL QUERY %d", victim))
		select {
		case got := <-done:
			// Interrupted: SLEEP returns 1, or the server answers 1317.
			if !strings.HasSuffix(got, "<nil>") && !strings.Contains(got, "1317") || time.Since(start) > 5*time.Second {
				t.Errorf("the killed read: %s after %s", got, time.Since(start))
			}
		case <-time.After(8 * time.Second):
			t.Fatal("KILL QUERY did not stop a read running on a replica")
		}
	})
}

// runs reports whether s is running statement query now (its processlist).
func runs(t *testing.T, s *mariadbtest.Server, query string) bool {
	t.Helper()
	root, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var n int
	if err := root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = ?", query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
