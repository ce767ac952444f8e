package integration

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// leakQuery reads the session state a client sets in TestStateNoLeak.
const leakQuery = "SELECT @@session.sql_mode, @@session.time_zone, DATABASE(), @@character_set_client, @@tx_isolation"

// canonicalModes sets each sql_mode on a direct connection and returns what the server reports
// back (it reorders and expands modes).
func canonicalModes(t *testing.T, modes []string) map[string]string {
	t.Helper()
	p := directClient(t, "test")
	p.SetMaxIdleConns(0)
	c := holdConn(t, p)
	defer c.Close()
	out := make(map[string]string, len(modes))
	for _, m := range modes {
		mustExec(t, c, "SET SESSION sql_mode = ?", m)
		out[m] = mustString(t, c, "SELECT @@session.sql_mode")
	}
	return out
}

// TestStateNoLeak (issue 4, must-show 1): 60 clients on 3 backend connections each set their own
// sql_mode, time_zone, character set, isolation level and default database, then read them back
// 50 times; every read matches what that client set. A client that set nothing sees a fresh
// direct connection's values throughout.
func TestStateNoLeak(t *testing.T) {
	mariadbtest.Need(t, db)
	const (
		clients = 60
		reads   = 50
	)
	modes := []string{"STRICT_TRANS_TABLES", "ANSI_QUOTES", "NO_ZERO_DATE,STRICT_ALL_TABLES",
		"NO_ENGINE_SUBSTITUTION", "PIPES_AS_CONCAT,IGNORE_SPACE", ""}
	canon := canonicalModes(t, modes)
	levels := []struct{ set, read string }{
		{"READ UNCOMMITTED", "READ-UNCOMMITTED"}, {"READ COMMITTED", "READ-COMMITTED"},
		{"REPEATABLE READ", "REPEATABLE-READ"}, {"SERIALIZABLE", "SERIALIZABLE"},
	}
	defaults := freshValues(t, leakQuery, "test")

	cfg := proxytest.Config(db, 3)
	cfg.Pool.AcquireTimeout.Duration = 30 * time.Second
	in := proxytest.Start(t, cfg)
	p := proxyClient(t, in, "test")
	conns := make([]*sql.Conn, clients)
	for i := range conns {
		conns[i] = holdConn(t, p)
	}
	control := holdConn(t, p)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var running atomic.Int64
	running.Store(clients)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer running.Add(-1)
			mode := modes[i%len(modes)]
			tz := fmt.Sprintf("+0%d:00", i%9+1)
			cs := "utf8mb4"
			if i%2 == 1 {
				cs = "latin1"
			}
			lv := levels[i%len(levels)]
			dbName := "test"
			if i%3 == 0 {
				dbName = "test2"
			}
			setup := []string{
				"SET SESSION sql_mode = '" + mode + "'",
				"SET time_zone = '" + tz + "'",
				"SET NAMES " + cs,
				"SET SESSION TRANSACTION ISOLATION LEVEL " + lv.set,
				"USE " + dbName,
			}
			for _, q := range setup {
				if _, err := c.ExecContext(ctx, q); err != nil {
					t.Errorf("client %d: %s: %s", i, q, describeErr(err))
					return
				}
			}
			want := []string{canon[mode], tz, dbName, cs, lv.read}
			bad := 0
			for r := range reads {
				got, err := readStrings(ctx, c, leakQuery)
				if err != nil {
					t.Errorf("client %d, read %d: %v", i, r, err)
					return
				}
				if !equalStrings(got, want) {
					if bad == 0 {
						t.Errorf("client %d, read %d: (sql_mode, time_zone, DATABASE(), character_set_client, tx_isolation) = %q, want %q", i, r, got, want)
					}
					bad++
				}
			}
			if bad > 1 {
				t.Errorf("client %d: %d of %d reads wrong", i, bad, reads)
			}
		}()
	}

	// The control client reads all along, at least `reads` times.
	controlReads, controlBad := 0, 0
	for controlReads < reads || running.Load() > 0 {
		got, err := readStrings(ctx, control, leakQuery)
		if err != nil {
			t.Errorf("control client, read %d: %v", controlReads, err)
			break
		}
		if !equalStrings(got, defaults) {
			if controlBad == 0 {
				t.Errorf("control client (set nothing), read %d: %q, want the server defaults %q", controlReads, got, defaults)
			}
			controlBad++
		}
		controlReads++
	}
	wg.Wait()
	if controlBad > 1 {
		t.Errorf("control client: %d of %d reads were not the server defaults", controlBad, controlReads)
	}
	st := in.Router().Stats()
	t.Logf("%d statements, %d borrows, %d state replays", st.Queries.Load(), st.Borrows.Load(), st.Syncs.Load())
	if st.Syncs.Load() < clients {
		t.Errorf("only %d state replays: the clients did not really share connections", st.Syncs.Load())
	}
	wantNoPins(t, in, "after the reads")
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ormMixes are opening sequences as ORMs and drivers send them, with what they leave in
// ormQuery's columns. The expected values are read on a direct connection.
var ormMixes = [][]string{
	{ // the list
		"SET NAMES utf8mb4",
		"SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
		"SET time_zone='+00:00'",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		"SET autocommit=1",
	},
	{ // Laravel-like: a collation, several variables in one SET
		"SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
		"SET SESSION sql_mode='ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES', time_zone='+00:00'",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		"SET autocommit=1",
	},
	{ // Rails-like: sql_mode from an expression, other variables alongside
		"SET NAMES utf8mb4",
		"SET @@SESSION.sql_mode = CONCAT(REPLACE(@@sql_mode, 'NO_ENGINE_SUBSTITUTION', ''), ',STRICT_ALL_TABLES'), @@SESSION.sql_auto_is_null = 0, @@SESSION.wait_timeout = 2147483",
		"SET time_zone='+00:00'",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		"SET autocommit=1",
	},
}

const ormQuery = "SELECT @@session.sql_mode, @@session.time_zone, @@character_set_client, @@collation_connection, @@tx_isolation, @@autocommit, @@session.wait_timeout, @@session.sql_auto_is_null"

// TestStateORMOpeningMix (issue 4, must-show 2): 500 clients on 8 backend connections each run an
// ORM's opening statements, then queries that see exactly that state. Afterwards, with all 500
// still connected, no session is pinned.
func TestStateORMOpeningMix(t *testing.T) {
	mariadbtest.Need(t, db)
	const clients = 500
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS state_orm")
	mustExec(t, direct, "CREATE TABLE state_orm (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
	mustExec(t, direct, "INSERT INTO state_orm VALUES (1, 'one'), (2, 'two')")
	wants := make([][]string, len(ormMixes))
	for m, mix := range ormMixes {
		dp := directClient(t, "test")
		dp.SetMaxIdleConns(0)
		c := holdConn(t, dp)
		execAll(t, c, mix...)
		wants[m] = mustStrings(t, c, ormQuery)
		c.Close()
	}

	cfg := proxytest.Config(db, 8)
	cfg.Pool.AcquireTimeout.Duration = 30 * time.Second
	in := proxytest.Start(t, cfg)
	p := proxyClient(t, in, "test")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conns := make([]*sql.Conn, clients)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ormClient(ctx, p, i, wants[i%len(ormMixes)], &conns[i])
			if err != nil {
				if failed.Add(1) <= 5 {
					t.Errorf("client %d (mix %d): %v", i, i%len(ormMixes), err)
				}
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d clients failed", n, clients)
	}
	if n := len(in.Router().Sessions()); n < clients {
		t.Fatalf("the proxy lists %d sessions, want at least %d (all clients still connected)", n, clients)
	}
	waitUntil(func() bool { return len(pinnedSessions(in)) == 0 })
	pinned := pinnedSessions(in)
	t.Logf("pinned sessions after the ORM opening mix: %d of %d", len(pinned), clients)
	if len(pinned) > 0 {
		byReason := map[string]int{}
		for _, r := range pinned {
			byReason[r]++
		}
		t.Errorf("%d of %d sessions pinned after the ORM opening mix, want 0; by reason: %v", len(pinned), clients, byReason)
	}
}

// ormClient connects (keeping the connection in *keep), runs its mix and three queries.
func ormClient(ctx context.Context, p *sql.DB, i int, want []string, keep **sql.Conn) error {
	c, err := p.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %v", err)
	}
	*keep = c
	for _, q := range ormMixes[i%len(ormMixes)] {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %s", q, describeErr(err))
		}
	}
	got, err := readStrings(ctx, c, ormQuery)
	if err != nil {
		return err
	}
	if !equalStrings(got, want) {
		return fmt.Errorf("after the opening mix: %s = %q, want %q", strings.TrimPrefix(ormQuery, "SELECT "), got, want)
	}
	var v string
	if err := c.QueryRowContext(ctx, "SELECT v FROM state_orm WHERE id = ?", 1+i%2).Scan(&v); err != nil {
		return fmt.Errorf("select: %s", describeErr(err))
	}
	if want := []string{"one", "two"}[i%2]; v != want {
		return fmt.Errorf("select: v = %q, want %q", v, want)
	}
	if got, err = readStrings(ctx, c, ormQuery); err != nil {
		return err
	}
	if !equalStrings(got, want) {
		return fmt.Errorf("third statement: %q, want %q", got, want)
	}
	return nil
}
