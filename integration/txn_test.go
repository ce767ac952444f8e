package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// TestTxnVisibility: a client sees its own uncommitted rows; another client through the proxy and
// a direct client do not; ROLLBACK removes them; after COMMIT everyone sees them.
func TestTxnVisibility(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS txn_vis")
	mustExec(t, direct, "CREATE TABLE txn_vis (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(20)) ENGINE=InnoDB")

	in := proxytest.Start(t, proxytest.Config(db, 3))
	pc := proxyClient(t, in, "test")
	a := holdConn(t, pc)
	b := holdConn(t, pc)
	count := func(e execer, tag string) int64 {
		t.Helper()
		return mustInt(t, e, "SELECT COUNT(*) FROM txn_vis WHERE tag = ?", tag)
	}
	check := func(step string, tag string, wantA, wantB, wantDirect int64) {
		t.Helper()
		if n := count(a, tag); n != wantA {
			t.Errorf("%s: client A sees %d %q rows, want %d", step, n, tag, wantA)
		}
		if n := count(b, tag); n != wantB {
			t.Errorf("%s: client B (through the proxy) sees %d %q rows, want %d", step, n, tag, wantB)
		}
		if n := count(direct, tag); n != wantDirect {
			t.Errorf("%s: a direct client sees %d %q rows, want %d", step, n, tag, wantDirect)
		}
	}

	mustExec(t, a, "BEGIN")
	for i := 0; i < 3; i++ {
		mustExec(t, a, "INSERT INTO txn_vis (tag) VALUES (?)", "rolled")
	}
	check("open transaction", "rolled", 3, 0, 0)
	if pins := pinsOf(in); !strings.Contains(pins, "transaction") {
		t.Errorf("open transaction: pin reasons of the sessions = %q, want one with \"transaction\"", pins)
	}
	mustExec(t, a, "ROLLBACK")
	check("after ROLLBACK", "rolled", 0, 0, 0)

	mustExec(t, a, "BEGIN")
	for i := 0; i < 4; i++ {
		mustExec(t, a, "INSERT INTO txn_vis (tag) VALUES (?)", "kept")
	}
	check("second transaction, open", "kept", 4, 0, 0)
	mustExec(t, a, "COMMIT")
	check("after COMMIT", "kept", 4, 4, 4)
	check("after COMMIT, rolled-back rows", "rolled", 0, 0, 0)
	if pins := pinsOf(in); strings.Contains(pins, "transaction") {
		t.Errorf("after COMMIT: pin reasons of the sessions = %q, want no \"transaction\"", pins)
	}

	// B's own transaction is invisible to A, then visible once committed.
	mustExec(t, b, "START TRANSACTION")
	mustExec(t, b, "INSERT INTO txn_vis (tag) VALUES (?)", "b")
	check("B's open transaction", "b", 0, 1, 0)
	mustExec(t, b, "COMMIT")
	check("after B's COMMIT", "b", 1, 1, 1)
}

// pinsOf lists the pin reasons of every session of in, for checks and messages.
func pinsOf(in *proxy.Instance) string {
	var parts []string
	for _, ci := range in.Router().Sessions() {
		parts = append(parts, fmt.Sprintf("client %d: %q", ci.ID, ci.PinnedReason))
	}
	return strings.Join(parts, "; ")
}

// TestTxnTakingTurnsCap1: with one backend connection, 20 clients take turns running
// transactions of several statements. Each transaction stays whole: a client sees its own rows,
// never another client's uncommitted (or later rolled-back, or partly inserted) rows, and the
// final counts are exact.
func TestTxnTakingTurnsCap1(t *testing.T) {
	mariadbtest.Need(t, db)
	const (
		clients = 20
		rounds  = 6 // odd rounds roll back
		perTxn  = 3 // rows each transaction inserts, one INSERT each
	)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS txn_turns")
	mustExec(t, direct, "CREATE TABLE txn_turns (id INT AUTO_INCREMENT PRIMARY KEY, client INT NOT NULL, round INT NOT NULL, KEY (client, round)) ENGINE=InnoDB")

	cfg := proxytest.Config(db, 1)
	cfg.Pool.AcquireTimeout.Duration = 20 * time.Second
	in := proxytest.Start(t, cfg)
	pc := proxyClient(t, in, "test")
	conns := make([]execer, clients)
	for i := range conns {
		conns[i] = holdConn(t, pc)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := takeTurns(ctx, conns[c], c, rounds, perTxn); err != nil {
				t.Errorf("client %d: %v", c, err)
			}
		}()
	}
	wg.Wait()

	committedRounds := int64((rounds + 1) / 2)
	for c := range clients {
		if n := mustInt(t, direct, "SELECT COUNT(*) FROM txn_turns WHERE client = ?", c); n != committedRounds*perTxn {
			t.Errorf("client %d: %d rows in the end, want %d", c, n, committedRounds*perTxn)
		}
	}
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM txn_turns"); n != clients*committedRounds*perTxn {
		t.Errorf("%d rows in the end, want %d", n, clients*committedRounds*perTxn)
	}
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM txn_turns WHERE round % 2 = 1"); n != 0 {
		t.Errorf("%d rows of rolled-back transactions survived", n)
	}
}

// takeTurns runs one client's transactions: BEGIN, perTxn INSERTs, checks of what it sees,
// COMMIT (even rounds) or ROLLBACK (odd rounds).
func takeTurns(ctx context.Context, c execer, client, rounds, perTxn int) error {
	exec := func(q string, args ...any) error {
		if _, err := c.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("%s: %s", q, describeErr(err))
		}
		return nil
	}
	count := func(q string, args ...any) (int, error) {
		var n int
		if err := c.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("%s: %s", q, describeErr(err))
		}
		return n, nil
	}
	committed := 0
	for r := range rounds {
		if err := exec("BEGIN"); err != nil {
			return err
		}
		for range perTxn {
			if err := exec("INSERT INTO txn_turns (client, round) VALUES (?, ?)", client, r); err != nil {
				return err
			}
		}
		n, err := count("SELECT COUNT(*) FROM txn_turns WHERE client = ? AND round = ?", client, r)
		if err != nil {
			return err
		}
		if n != perTxn {
			return fmt.Errorf("round %d: sees %d of its own uncommitted rows, want %d", r, n, perTxn)
		}
		n, err = count("SELECT COUNT(*) FROM txn_turns WHERE client = ?", client)
		if err != nil {
			return err
		}
		if want := (committed + 1) * perTxn; n != want {
			return fmt.Errorf("round %d: sees %d rows of its own in all, want %d", r, n, want)
		}
		if err := checkOthersWhole(ctx, c, client, r, perTxn); err != nil {
			return err
		}
		end := "ROLLBACK"
		if r%2 == 0 {
			end = "COMMIT"
			committed++
		}
		if err := exec(end); err != nil {
			return err
		}
	}
	return nil
}

// checkOthersWhole checks that every group of rows of another client visible inside a
// transaction is a whole, committed transaction: all perTxn rows, and not of a round that is
// rolled back.
func checkOthersWhole(ctx context.Context, c execer, client, round, perTxn int) error {
	const q = "SELECT client, round, COUNT(*) FROM txn_turns WHERE client <> ? GROUP BY client, round"
	rows, err := c.QueryContext(ctx, q, client)
	if err != nil {
		return fmt.Errorf("%s: %s", q, describeErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var oc, or, n int
		if err := rows.Scan(&oc, &or, &n); err != nil {
			return err
		}
		if n != perTxn {
			return fmt.Errorf("round %d: sees %d rows of client %d's round %d, want %d (a transaction seen half done)", round, n, oc, or, perTxn)
		}
		if or%2 == 1 {
			return fmt.Errorf("round %d: sees rows of client %d's round %d, which is rolled back (another client's uncommitted rows)", round, oc, or)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %s", q, describeErr(err))
	}
	return nil
}
