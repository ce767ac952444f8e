package integration

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// prepared runs q as a server-side prepared statement (COM_STMT_PREPARE, EXECUTE) on c and
// scans its one row into dest.
func prepared(t *testing.T, c *sql.Conn, q string, args []any, dest ...any) {
	t.Helper()
	st, err := c.PrepareContext(context.Background(), q)
	if err != nil {
		t.Fatalf("prepare %s: %v", q, err)
	}
	defer st.Close()
	if err := st.QueryRowContext(context.Background(), args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %s", q, describeErr(err))
	}
}

// TestStmtSessionEffects: a prepared statement changes the session as its text would in a
// COM_QUERY, although a result set ends with no session-state report: GET_LOCK (as
// golang-migrate takes its lock) pins the session and a user variable written is read back from
// the server and replayed, so the lock and the variable never reach another client.
func TestStmtSessionEffects(t *testing.T) {
	mariadbtest.Need(t, db)
	in, p := cappedProxy(t, 2, 5*time.Second)
	a, b := holdConn(t, p), holdConn(t, p)

	var got sql.NullInt64
	prepared(t, a, "SELECT GET_LOCK(?, 10)", []any{"mysqlmux_migrate"}, &got)
	if got.Int64 != 1 {
		t.Fatalf("A's GET_LOCK = %v", got)
	}
	wantPinned(t, in, "after a prepared GET_LOCK", "get_lock", 1)
	prepared(t, b, "SELECT GET_LOCK(?, 0)", []any{"mysqlmux_migrate"}, &got)
	if got.Int64 != 0 {
		t.Fatalf("B got A's lock: GET_LOCK = %v", got)
	}
	prepared(t, a, "SELECT RELEASE_LOCK(?)", []any{"mysqlmux_migrate"}, &got)
	if got.Int64 != 1 {
		t.Fatalf("A's RELEASE_LOCK = %v, want 1 (A holds it)", got)
	}
	mustExec(t, a, "SELECT 1")
	// The lock names were parameters, which the proxy does not read: both sessions stay pinned
	// until reset (see README), B although its GET_LOCK failed.
	wantPinned(t, in, "after GET_LOCK / RELEASE_LOCK of a parameter name", "get_lock", 2)

	prepared(t, b, "SELECT @mysqlmux_v := ?", []any{42}, &got)
	wantPinned(t, in, "after a prepared user variable write (read back, not pinned)", "user_variable", 0)
	var v sql.NullInt64
	prepared(t, a, "SELECT @mysqlmux_v", nil, &v)
	if v.Valid {
		t.Fatalf("A reads B's user variable: %v", v)
	}
	prepared(t, b, "SELECT @mysqlmux_v", nil, &v)
	if v.Int64 != 42 {
		t.Fatalf("B reads its user variable as %v", v)
	}

}

// TestStmtLastInsertID: a prepared SELECT LAST_INSERT_ID() returns the session's last insert id,
// not that of the client that used the shared connection since (cap 1).
func TestStmtLastInsertID(t *testing.T) {
	mariadbtest.Need(t, db)
	_, p := cappedProxy(t, 1, 5*time.Second)
	a, b := holdConn(t, p), holdConn(t, p)
	mustExec(t, a, "CREATE TABLE IF NOT EXISTS stmt_lastid (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	mustExec(t, a, "INSERT INTO stmt_lastid (v) VALUES (1)")
	want := mustInt(t, a, "SELECT LAST_INSERT_ID()")
	mustExec(t, b, "INSERT INTO stmt_lastid (v) VALUES (2)")
	mustExec(t, b, "INSERT INTO stmt_lastid (v) VALUES (3)")
	var got int64
	prepared(t, a, "SELECT LAST_INSERT_ID()", nil, &got)
	if got != want {
		t.Fatalf("A's prepared LAST_INSERT_ID() = %d, want %d (its own)", got, want)
	}
}
