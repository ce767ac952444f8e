package integration

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// Issue 4, must-show 3: state that pins, or is replayed, is right for its owner, invisible to
// others, and the pin ends with its cause. Cap 2 and ten background clients, so that between two
// statements of the client under test the connections serve others.

// stateProxy starts a proxy with pool cap maxConns in front of db and a client pool on it.
func stateProxy(t *testing.T, maxConns int) (*proxy.Instance, *sql.DB) {
	t.Helper()
	cfg := proxytest.Config(db, maxConns)
	cfg.Pool.AcquireTimeout.Duration = 20 * time.Second
	in := proxytest.Start(t, cfg)
	return in, proxyClient(t, in, "test")
}

// wantStrings checks a one-row query's columns.
func wantStrings(ctx context.Context, c execer, q string, want ...string) error {
	got, err := readStrings(ctx, c, q)
	if err != nil {
		return err
	}
	if !equalStrings(got, want) {
		return fmt.Errorf("%s = %q, want %q", q, got, want)
	}
	return nil
}

// checkStrings is wantStrings reporting to t.
func checkStrings(t testing.TB, step string, c execer, q string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wantStrings(ctx, c, q, want...); err != nil {
		t.Errorf("%s: %v", step, err)
	}
}

// TestStateUserVariables: literal user variables are replayed (no pin); the owner reads them on
// every later statement, other clients read NULL.
func TestStateUserVariables(t *testing.T) {
	mariadbtest.Need(t, db)
	in, p := stateProxy(t, 2)
	a := holdConn(t, p)
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		if err := wantStrings(ctx, c, "SELECT @x, @s", "<NULL>", "<NULL>"); err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, fmt.Sprintf("SET @y = %d", 100+i)); err != nil {
			return err
		}
		return wantStrings(ctx, c, "SELECT @y, @x", fmt.Sprint(100+i), "<NULL>")
	})
	execAll(t, a, "SET @x = 5", "SET @s = 'it''s'")
	for r := range 20 {
		checkStrings(t, fmt.Sprintf("read %d", r), a, "SELECT @x, @s, @y", "5", "it's", "<NULL>")
	}
	wantNoPins(t, in, "literal user variables set")
	execAll(t, a, "SET @x = NULL")
	for r := range 5 {
		checkStrings(t, fmt.Sprintf("after SET @x = NULL, read %d", r), a, "SELECT @x, @s", "<NULL>", "it's")
	}
	bg.stop()
}

// TestStateTempTable: a temporary table lives across statements for its owner only; the owner
// is pinned until it drops the table.
func TestStateTempTable(t *testing.T) {
	mariadbtest.Need(t, db)
	mustExec(t, directClient(t, "test"), "DROP TABLE IF EXISTS state_tmp")
	in, p := stateProxy(t, 2)
	a := holdConn(t, p)
	mustExec(t, a, "CREATE TEMPORARY TABLE state_tmp (a INT)")
	wantPinned(t, in, "after CREATE TEMPORARY TABLE", "temp_table", 1)
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		var n int
		err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM state_tmp").Scan(&n)
		if me := mysqlError(err); me == nil || me.Number != 1146 {
			return fmt.Errorf("another client's temporary table: SELECT COUNT(*) = %d, %s; want ERROR 1146", n, describeErrOrNil(err))
		}
		return wantStrings(ctx, c, "SELECT 1", "1")
	})
	for r := range 10 {
		mustExec(t, a, "INSERT INTO state_tmp VALUES (?)", r)
		if n := mustInt(t, a, "SELECT COUNT(*) FROM state_tmp"); n != int64(r+1) {
			t.Errorf("round %d: the owner counts %d rows in its temporary table, want %d", r, n, r+1)
		}
	}
	bg.stop()
	mustExec(t, a, "DROP TEMPORARY TABLE state_tmp")
	wantPinned(t, in, "after DROP TEMPORARY TABLE", "temp_table", 0)
	wantNoPins(t, in, "after DROP TEMPORARY TABLE")
	_, err := a.ExecContext(context.Background(), "SELECT COUNT(*) FROM state_tmp")
	wantServerError(t, "the dropped temporary table", err, 1146, "42S02")
}

// TestStateLockTables: LOCK TABLES pins until UNLOCK TABLES; meanwhile the owner works on the
// table and nobody else can.
func TestStateLockTables(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := holdConn(t, directClient(t, "test"))
	execAll(t, direct, "DROP TABLE IF EXISTS state_lt",
		"CREATE TABLE state_lt (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB",
		"SET SESSION lock_wait_timeout = 1")
	in, p := stateProxy(t, 2)
	a := holdConn(t, p)
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		return wantStrings(ctx, c, fmt.Sprintf("SELECT %d + 1", i), fmt.Sprint(i+1))
	})
	mustExec(t, a, "LOCK TABLES state_lt WRITE")
	wantPinned(t, in, "after LOCK TABLES", "lock_tables", 1)
	for r := range 10 {
		mustExec(t, a, "INSERT INTO state_lt (v) VALUES (?)", r)
		if n := mustInt(t, a, "SELECT COUNT(*) FROM state_lt"); n != int64(r+1) {
			t.Errorf("round %d: the lock holder counts %d rows, want %d", r, n, r+1)
		}
	}
	_, err := direct.ExecContext(context.Background(), "SELECT COUNT(*) FROM state_lt")
	wantServerError(t, "a direct client reading the WRITE-locked table", err, 1205, "HY000")
	mustExec(t, a, "UNLOCK TABLES")
	bg.stop()
	wantPinned(t, in, "after UNLOCK TABLES", "lock_tables", 0)
	wantNoPins(t, in, "after UNLOCK TABLES")
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM state_lt"); n != 10 {
		t.Errorf("after UNLOCK TABLES a direct client counts %d rows, want 10", n)
	}
}

// TestStateGetLock: GET_LOCK pins while held; B cannot take it; after RELEASE_LOCK B can and A is
// unpinned; a client that vanishes while holding a lock frees it.
func TestStateGetLock(t *testing.T) {
	mariadbtest.Need(t, db)
	const k = "mysqlmux_state_k"
	in, p := stateProxy(t, 2)
	a := holdConn(t, p)
	b := holdConn(t, p)
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		return wantStrings(ctx, c, fmt.Sprintf("SELECT %d + 1", i), fmt.Sprint(i+1))
	})
	getLock := func(who string, c execer, want int64) {
		t.Helper()
		if got := mustInt(t, c, "SELECT GET_LOCK(?, 0)", k); got != want {
			t.Errorf("%s: GET_LOCK(%q, 0) = %d, want %d", who, k, got, want)
		}
	}
	release := func(who string, c execer) {
		t.Helper()
		if got := mustInt(t, c, "SELECT RELEASE_LOCK(?)", k); got != 1 {
			t.Errorf("%s: RELEASE_LOCK(%q) = %d, want 1", who, k, got)
		}
	}

	getLock("A", a, 1)
	wantPinned(t, in, "A holds the lock", "get_lock", 1)
	getLock("B while A holds it", b, 0)
	for r := range 5 {
		if n := mustInt(t, a, "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", k); n != 1 {
			t.Errorf("statement %d of A after GET_LOCK: runs on a connection that does not hold the lock", r)
		}
	}
	wantPinned(t, in, "A holds the lock, B failed to get it", "get_lock", 1)
	release("A", a)
	wantPinned(t, in, "after A's RELEASE_LOCK", "get_lock", 0)
	getLock("B after A released it", b, 1)
	release("B", b)
	wantPinned(t, in, "after B's RELEASE_LOCK", "get_lock", 0)

	// A client that vanishes holding the lock.
	dsn, sockets := socketKeepingDSN(in.Addr(), "test")
	xPool := openPool(t, dsn)
	xPool.SetMaxIdleConns(0)
	x := holdConn(t, xPool)
	sock := <-sockets
	getLock("X", x, 1)
	getLock("B while X holds it", b, 0)
	if tc, ok := sock.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = sock.Close()
	// Freed for good, not inherited by whoever borrows the vanished client's connection next.
	direct := directClient(t, "test")
	freed := waitUntil(func() bool {
		n, err := queryInt(direct, "SELECT IS_FREE_LOCK(?)", k)
		return err == nil && n == 1
	})
	if !freed {
		t.Errorf("%q still held %v after the client holding it vanished", k, pinWait)
	} else {
		getLock("B after X vanished", b, 1)
		release("B", b)
	}
	bg.stop()
	_ = x.Close()
	wantNoPins(t, in, "after every lock is released")
}

// TestStateFoundRows: SQL_CALC_FOUND_ROWS then FOUND_ROWS() gives each of ten clients its own
// count although they share two connections.
func TestStateFoundRows(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS state_fr")
	mustExec(t, direct, "CREATE TABLE state_fr (id INT PRIMARY KEY) ENGINE=InnoDB")
	mustExec(t, direct, "INSERT INTO state_fr SELECT seq FROM seq_1_to_200")
	in, p := stateProxy(t, 2)
	const clients, rounds = 10, 15
	conns := make([]*sql.Conn, clients)
	for i := range conns {
		conns[i] = holdConn(t, p)
	}
	// Other clients whose SELECTs set FOUND_ROWS() to 1 on whatever connection they use.
	bg := startBackground(t, p, 3, func(ctx context.Context, c *sql.Conn, i int) error {
		return wantStrings(ctx, c, "SELECT id FROM state_fr ORDER BY id LIMIT 1", "1")
	})
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for r := range rounds {
				n := 10 + 7*i + r
				rows, err := c.QueryContext(ctx, "SELECT SQL_CALC_FOUND_ROWS id FROM state_fr WHERE id <= ? ORDER BY id LIMIT 2", n)
				if err != nil {
					t.Errorf("client %d, round %d: %s", i, r, describeErr(err))
					return
				}
				for rows.Next() {
				}
				rows.Close()
				if err := wantStrings(ctx, c, "SELECT FOUND_ROWS()", fmt.Sprint(n)); err != nil {
					t.Errorf("client %d, round %d: %v", i, r, err)
				}
			}
		}()
	}
	wg.Wait()
	bg.stop()
	wantPinned(t, in, "after the FOUND_ROWS() reads", "found_rows", 0)
	wantNoPins(t, in, "after the FOUND_ROWS() reads")
}

// TestStateLastInsertID: ten clients on two connections insert concurrently; each sees its own
// id in LAST_INSERT_ID() and in INSERT ... VALUES (LAST_INSERT_ID()), without a pin.
func TestStateLastInsertID(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS state_li")
	mustExec(t, direct, "DROP TABLE IF EXISTS state_li2")
	mustExec(t, direct, "CREATE TABLE state_li (id BIGINT AUTO_INCREMENT PRIMARY KEY, c INT, r INT) ENGINE=InnoDB")
	mustExec(t, direct, "CREATE TABLE state_li2 (c INT, r INT, v BIGINT, PRIMARY KEY (c, r)) ENGINE=InnoDB")
	in, p := stateProxy(t, 2)
	const clients, rounds = 10, 20
	conns := make([]*sql.Conn, clients)
	for i := range conns {
		conns[i] = holdConn(t, p)
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for r := range rounds {
				res, err := c.ExecContext(ctx, "INSERT INTO state_li (c, r) VALUES (?, ?)", i, r)
				if err != nil {
					t.Errorf("client %d, round %d: insert: %s", i, r, describeErr(err))
					return
				}
				id, _ := res.LastInsertId()
				if err := wantStrings(ctx, c, "SELECT LAST_INSERT_ID()", fmt.Sprint(id)); err != nil {
					t.Errorf("client %d, round %d (its insert got id %d): %v", i, r, id, err)
				}
				if _, err := c.ExecContext(ctx, "INSERT INTO state_li2 (c, r, v) VALUES (?, ?, LAST_INSERT_ID())", i, r); err != nil {
					t.Errorf("client %d, round %d: INSERT ... LAST_INSERT_ID(): %s", i, r, describeErr(err))
					return
				}
				if err := wantStrings(ctx, c, "SELECT LAST_INSERT_ID()", fmt.Sprint(id)); err != nil {
					t.Errorf("client %d, round %d, after the second insert: %v", i, r, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM state_li2"); n != clients*rounds {
		t.Errorf("state_li2 has %d rows, want %d", n, clients*rounds)
	}
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM state_li2 JOIN state_li USING (c, r) WHERE state_li2.v <> state_li.id"); n != 0 {
		t.Errorf("%d rows of INSERT ... VALUES (LAST_INSERT_ID()) stored another id than the client's own insert", n)
	}
	wantNoPins(t, in, "after the inserts")
}

// TestStateSaveRestoreSQLMode: SET @m=@@sql_mode, then an empty sql_mode, then SET sql_mode=@m
// restores the mode, for that client only.
func TestStateSaveRestoreSQLMode(t *testing.T) {
	mariadbtest.Need(t, db)
	def := freshValues(t, "SELECT @@session.sql_mode", "test")[0]
	_, p := stateProxy(t, 2)
	a := holdConn(t, p)
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		return wantStrings(ctx, c, "SELECT @@session.sql_mode, @m", def, "<NULL>")
	})
	mustExec(t, a, "SET SESSION sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES'")
	orig := mustString(t, a, "SELECT @@session.sql_mode")
	mustExec(t, a, "SET @m = @@sql_mode")
	mustExec(t, a, "SET sql_mode = ''")
	for r := range 5 {
		checkStrings(t, fmt.Sprintf("sql_mode cleared, read %d", r), a, "SELECT @@session.sql_mode, @m", "", orig)
	}
	mustExec(t, a, "SET sql_mode = @m")
	for r := range 10 {
		checkStrings(t, fmt.Sprintf("sql_mode restored, read %d", r), a, "SELECT @@session.sql_mode, @m", orig, orig)
	}
	bg.stop()
}

// observedLevel runs a transaction on c and tells its isolation level by behaviour (MariaDB's
// @@tx_isolation shows the session level, and INFORMATION_SCHEMA.INNODB_TRX is a cache that
// concurrent readers keep stale): c reads row id, then other (innodb_lock_wait_timeout=1,
// autocommit) updates it. SERIALIZABLE: c's plain read took a shared lock, the update times out;
// REPEATABLE READ: c reads the old value again; READ COMMITTED: c sees the update.
func observedLevel(ctx context.Context, c, other execer, id int) (string, error) {
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		return "", fmt.Errorf("BEGIN: %s", describeErr(err))
	}
	defer c.ExecContext(ctx, "ROLLBACK")
	read := func() (int64, error) {
		var v int64
		err := c.QueryRowContext(ctx, "SELECT v FROM state_iso WHERE id = ?", id).Scan(&v)
		if err != nil {
			return 0, fmt.Errorf("read in the transaction: %s", describeErr(err))
		}
		return v, nil
	}
	v1, err := read()
	if err != nil {
		return "", err
	}
	if _, err := other.ExecContext(ctx, "UPDATE state_iso SET v = v + 1 WHERE id = ?", id); err != nil {
		if me := mysqlError(err); me != nil && me.Number == 1205 {
			return "SERIALIZABLE", nil
		}
		return "", fmt.Errorf("the other connection's UPDATE: %s", describeErr(err))
	}
	v2, err := read()
	if err != nil {
		return "", err
	}
	if v2 == v1 {
		return "REPEATABLE READ", nil
	}
	return "READ COMMITTED", nil
}

// TestStateSetTransactionOneShot: SET TRANSACTION ISOLATION LEVEL SERIALIZABLE applies to the
// client's next transaction only; the one after runs at the session level. Nobody else's
// transactions are affected.
func TestStateSetTransactionOneShot(t *testing.T) {
	mariadbtest.Need(t, db)
	const bgClients = 10
	dp := directClient(t, "test")
	direct := holdConn(t, dp)
	execAll(t, direct, "DROP TABLE IF EXISTS state_iso",
		"CREATE TABLE state_iso (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB",
		"INSERT INTO state_iso SELECT seq, 0 FROM seq_1_to_200",
		"SET SESSION innodb_lock_wait_timeout = 1")
	others := make([]*sql.Conn, bgClients)
	for i := range others {
		others[i] = holdConn(t, dp)
		mustExec(t, others[i], "SET SESSION innodb_lock_wait_timeout = 1")
	}
	in, p := stateProxy(t, 2)
	a := holdConn(t, p)
	bg := startBackground(t, p, bgClients, func(ctx context.Context, c *sql.Conn, i int) error {
		got, err := observedLevel(ctx, c, others[i], 100+i)
		if err == nil && got != "REPEATABLE READ" {
			err = fmt.Errorf("a client that set no isolation level runs a %s transaction, want REPEATABLE READ", got)
		}
		return err
	})
	txn := func(step, want string) {
		t.Helper()
		got, err := observedLevel(context.Background(), a, direct, 1)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got != want {
			t.Errorf("%s: runs at %s, want %s", step, got, want)
		}
	}
	mustExec(t, a, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
	txn("first transaction at the session level", "READ COMMITTED")
	mustExec(t, a, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
	time.Sleep(50 * time.Millisecond) // others use the connections before A's next transaction
	txn("the transaction after SET TRANSACTION", "SERIALIZABLE")
	txn("the transaction after that", "READ COMMITTED")
	txn("and the next", "READ COMMITTED")
	bg.stop()
	wantNoPins(t, in, "after the one-shot transaction")
}

// TestStateWarningsThenShowWarnings: a statement's warnings (and an error) are what SHOW WARNINGS
// returns right after, although the connections are shared; another client's SHOW WARNINGS
// after a clean statement is empty, as on its own connection.
func TestStateWarningsThenShowWarnings(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS state_warn")
	mustExec(t, direct, "CREATE TABLE state_warn (s VARCHAR(2))")
	in, p := stateProxy(t, 2)
	a := holdConn(t, p)
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		if i%2 == 0 && i < 6 {
			// Some share A's sql_mode, so A's connection suits them without a replay.
			if _, err := c.ExecContext(ctx, "SET SESSION sql_mode = ''"); err != nil {
				return err
			}
		}
		if err := wantStrings(ctx, c, "SELECT COUNT(*) >= 0 FROM state_warn", "1"); err != nil {
			return err
		}
		rows, err := warningRows(ctx, c)
		if err != nil {
			return err
		}
		if len(rows) != 0 {
			return fmt.Errorf("SHOW WARNINGS after a clean SELECT returns %q, want none (another client's warnings)", rows)
		}
		return nil
	})
	mustExec(t, a, "SET SESSION sql_mode = ''")
	for r := range 10 {
		mustExec(t, a, "INSERT INTO state_warn VALUES ('toolong')")
		checkWarnings(t, fmt.Sprintf("round %d, after the truncating INSERT", r), a, 1265)
		if r%3 == 0 {
			time.Sleep(1100 * time.Millisecond) // past the idle grace: the session let the connection go
			mustExec(t, a, "SELECT 1")
		}
		_, err := a.ExecContext(context.Background(), "SELECT * FROM state_no_such_table")
		wantServerError(t, "missing table", err, 1146, "42S02")
		checkWarnings(t, fmt.Sprintf("round %d, after the failed SELECT", r), a, 1146)
		mustExec(t, a, "SELECT 1")
	}
	bg.stop()
	wantNoPins(t, in, "after the warnings were read and a clean statement ran")
}

// warningRows runs SHOW WARNINGS and returns its rows as "Level Code Message".
func warningRows(ctx context.Context, c execer) ([]string, error) {
	rows, err := c.QueryContext(ctx, "SHOW WARNINGS")
	if err != nil {
		return nil, fmt.Errorf("SHOW WARNINGS: %s", describeErr(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s %d %s", level, code, msg))
	}
	return out, rows.Err()
}

// checkWarnings runs SHOW WARNINGS on c and wants exactly one row, with code.
func checkWarnings(t testing.TB, step string, c execer, code int) {
	t.Helper()
	rows, err := warningRows(context.Background(), c)
	if err != nil {
		t.Errorf("%s: %v", step, err)
		return
	}
	if len(rows) != 1 || !strings.HasPrefix(strings.SplitN(rows[0], " ", 2)[1], fmt.Sprint(code)+" ") {
		t.Errorf("%s: SHOW WARNINGS returned %q, want one row with code %d", step, rows, code)
	}
}

// TestStateSoftPinShownEnded: after an error a session holds its connection through its next
// statement, but gives it back after a second idle, and then its listed pin reason is empty.
// Cap 1: another client gets the connection.
func TestStateSoftPinShownEnded(t *testing.T) {
	mariadbtest.Need(t, db)
	in, p := cappedProxy(t, 1, 5*time.Second)
	a, b := holdConn(t, p), holdConn(t, p)
	_, err := a.ExecContext(context.Background(), "SELECT * FROM state_no_such_table")
	wantServerError(t, "missing table", err, 1146, "42S02")
	start := time.Now()
	if n := mustInt(t, b, "SELECT 1"); n != 1 {
		t.Errorf("B: SELECT 1 = %d", n)
	}
	t.Logf("B waited %v for the connection A held after its error", time.Since(start).Round(time.Millisecond))
	wantPinned(t, in, "A idle past the grace after its error", "warnings", 0)
}

// TestStateWarningsDoNotLeak: a client's SHOW WARNINGS never shows another client's warnings.
// Cap 1: A's statement leaves a warning, A goes idle past the grace, B (whose own last statement
// was clean) gets the one connection and asks SHOW WARNINGS; on its own connection the answer
// would be empty. Then the same when A disconnects right after its warning.
func TestStateWarningsDoNotLeak(t *testing.T) {
	mariadbtest.Need(t, db)
	_, p := cappedProxy(t, 1, 5*time.Second)
	a, b := holdConn(t, p), holdConn(t, p)
	mustExec(t, b, "SELECT 1")
	if v := mustString(t, a, "SELECT CAST('1x' AS SIGNED)"); v != "1" {
		t.Fatalf("A: CAST = %s", v)
	}
	checkWarnings(t, "A's SHOW WARNINGS", a, 1292)
	time.Sleep(1200 * time.Millisecond) // A idle past the grace
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rows, err := warningRows(ctx, b); err != nil || len(rows) != 0 {
		t.Errorf("B's SHOW WARNINGS after A went idle: %q, %v; want no rows (they are A's)", rows, err)
	}

	// A leaves right after a warning.
	c := holdConn(t, p)
	mustExec(t, b, "SELECT 1")
	if v := mustString(t, c, "SELECT CAST('2x' AS SIGNED)"); v != "2" {
		t.Fatalf("C: CAST = %s", v)
	}
	_ = c.Close()
	if rows, err := warningRows(ctx, b); err != nil || len(rows) != 0 {
		t.Errorf("B's SHOW WARNINGS after C left: %q, %v; want no rows (they are C's)", rows, err)
	}
}

// TestStateWarningsAfterTheGrace: a client that asks SHOW WARNINGS (or SHOW ERRORS) long after
// its statement, as a person at the mariadb prompt does, gets its own warnings, as on a direct
// connection, although its connection went back to the pool and another client's warnings were
// made on it meanwhile (cap 1); after its next statement they are gone.
func TestStateWarningsAfterTheGrace(t *testing.T) {
	mariadbtest.Need(t, db)
	_, p := cappedProxy(t, 1, 5*time.Second)
	a, b := holdConn(t, p), holdConn(t, p)
	d := holdConn(t, directClient(t, "test"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rowsOf := func(c execer, q string) []string {
		t.Helper()
		sets, err := readAllResultSets(c, q)
		if err != nil {
			t.Fatalf("%s: %s", q, describeErr(err))
		}
		var out []string
		for _, set := range sets {
			for _, r := range set {
				out = append(out, strings.Join(r, " "))
			}
		}
		return out
	}
	same := func(step, q string) {
		t.Helper()
		if got, want := rowsOf(a, q), rowsOf(d, q); !slices.Equal(got, want) {
			t.Errorf("%s: %s through the proxy %q, direct %q", step, q, got, want)
		}
	}

	for _, c := range []execer{a, d} {
		if _, err := c.ExecContext(ctx, "SELECT CAST('12abc' AS SIGNED), CAST('7x' AS SIGNED)"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1200 * time.Millisecond) // past the grace: A's connection went back
	mustExec(t, b, "SELECT 1/0")
	checkWarnings(t, "B's own warning", b, 1365)
	same("after the grace", "SHOW WARNINGS")
	same("after the grace", "SHOW ERRORS")
	if len(rowsOf(a, "SHOW WARNINGS")) != 2 {
		t.Fatal("A's two warnings are not kept")
	}
	// A statement that uses a table starts a new diagnostics area (one that uses none, such as
	// SELECT 1, keeps the old one on MariaDB; the proxy then shows none: see the README).
	same("after the next statement", "SELECT COUNT(*) FROM information_schema.CHARACTER_SETS WHERE 1 = 0")
	same("after the next statement", "SHOW WARNINGS")

	for _, c := range []execer{a, d} {
		_, err := c.ExecContext(ctx, "SELECT * FROM state_no_such_table")
		wantServerError(t, "missing table", err, 1146, "42S02")
	}
	time.Sleep(1200 * time.Millisecond)
	mustExec(t, b, "SELECT 1")
	same("after an error and the grace", "SHOW ERRORS")
	same("after an error and the grace", "show warnings;")

	// More than the copy holds (16 KiB): not kept, and the connection is left clean.
	mustExec(t, a, "SET SESSION max_error_count = 1000")
	mustExec(t, a, "SELECT CAST(CONCAT(seq, 'x') AS SIGNED) FROM seq_1_to_400")
	time.Sleep(1200 * time.Millisecond)
	if n := mustInt(t, b, "SELECT 1"); n != 1 { // the one connection, after the drained copy
		t.Fatalf("B after A's long warnings: %d", n)
	}
	if rows := rowsOf(a, "SHOW WARNINGS"); len(rows) != 0 {
		t.Fatalf("%d warnings kept, beyond the bound", len(rows))
	}
}

// TestStateWarningsPrepared: SHOW WARNINGS and @@warning_count as server-side prepared
// statements read the client's own diagnostics, never those another client left on the shared
// connection (cap 1), as the text forms do.
func TestStateWarningsPrepared(t *testing.T) {
	mariadbtest.Need(t, db)
	_, p := cappedProxy(t, 1, 5*time.Second)
	a, b := holdConn(t, p), holdConn(t, p)
	ctx := context.Background()
	count := func(step string, c *sql.Conn) (rows, warningCount int) {
		t.Helper()
		show, err := c.PrepareContext(ctx, "SHOW WARNINGS")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		defer show.Close()
		r, err := show.QueryContext(ctx)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		for r.Next() {
			rows++
		}
		r.Close()
		wc, err := c.PrepareContext(ctx, "SELECT @@warning_count")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		defer wc.Close()
		if err := wc.QueryRowContext(ctx).Scan(&warningCount); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return rows, warningCount
	}
	mustExec(t, a, "SELECT 1")
	mustExec(t, b, "SELECT CAST('1x' AS SIGNED)")
	time.Sleep(1200 * time.Millisecond) // B idle past the grace: its connection, warnings on it, goes back
	if rows, wc := count("A, clean", a); rows != 0 || wc != 0 {
		t.Errorf("A's prepared SHOW WARNINGS / @@warning_count: %d rows, %d; want none (they are B's)", rows, wc)
	}
	mustExec(t, a, "SELECT CAST('2x' AS SIGNED), CAST('3x' AS SIGNED)")
	if rows, _ := count("A, right after its own warnings", a); rows != 2 {
		t.Errorf("A's prepared SHOW WARNINGS right after its two warnings: %d rows", rows)
	}
}
