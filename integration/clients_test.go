package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// clientDSN returns a go-sql-driver DSN for app/secret at addr with interpolateParams on, so
// statements with arguments go as plain COM_QUERY (no prepared statements unless a test asks),
// and with I/O timeouts.
// tweak, when non-nil, adjusts the config further.
func clientDSN(addr, dbName string, tweak func(*mysql.Config)) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = mariadbtest.AppUser, mariadbtest.AppPassword, "tcp", addr, dbName
	c.InterpolateParams = true
	c.Timeout = 5 * time.Second
	// A proxy that loses track of a response leaves the client waiting for packets that never
	// come (context cancellation does not cover draining rows on Close): fail instead of hang.
	c.ReadTimeout = 15 * time.Second
	c.WriteTimeout = 15 * time.Second
	if tweak != nil {
		tweak(c)
	}
	return c.FormatDSN()
}

// openPool opens a database/sql handle (closed at cleanup).
func openPool(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	p, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// holdConn takes one client connection out of p (one proxy session), closed at cleanup.
func holdConn(t testing.TB, p *sql.DB) *sql.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.Conn(ctx)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if err := c.PingContext(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// proxyClient opens a pool of clients of the proxy in with default database dbName.
func proxyClient(t testing.TB, in *proxy.Instance, dbName string) *sql.DB {
	return openPool(t, clientDSN(in.Addr(), dbName, nil))
}

// cappedProxy starts a proxy with cap maxConns and acquire_timeout acquire, and opens a pool of
// its clients with default database test.
func cappedProxy(t testing.TB, maxConns int, acquire time.Duration) (*proxy.Instance, *sql.DB) {
	cfg := proxytest.Config(db, maxConns)
	cfg.Pool.AcquireTimeout.Duration = acquire
	in := proxytest.Start(t, cfg)
	return in, proxyClient(t, in, "test")
}

// directClient opens a pool of clients connected straight to MariaDB.
func directClient(t testing.TB, dbName string) *sql.DB {
	return openPool(t, clientDSN(db.Addr, dbName, nil))
}

// execer is what *sql.DB and *sql.Conn have in common for the helpers below.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// mustExec runs a statement with a bound and fails the test on error.
func mustExec(t testing.TB, e execer, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// queryInt runs a one-value query.
func queryInt(e execer, q string, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	err := e.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// mustInt runs a one-value query and fails the test on error.
func mustInt(t testing.TB, e execer, q string, args ...any) int64 {
	t.Helper()
	n, err := queryInt(e, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// mustString runs a one-value query returning a string (NULL as "<NULL>").
func mustString(t testing.TB, e execer, q string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s sql.NullString
	if err := e.QueryRowContext(ctx, q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !s.Valid {
		return "<NULL>"
	}
	return s.String
}

// mysqlError returns err as a server error, or nil when it is none.
func mysqlError(err error) *mysql.MySQLError {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me
	}
	return nil
}

// describeErr prints an error as code/state/message when it is a server error.
func describeErr(err error) string {
	if me := mysqlError(err); me != nil {
		return fmt.Sprintf("ERROR %d (%s): %s", me.Number, me.SQLState[:], me.Message)
	}
	return fmt.Sprintf("%v (%T)", err, err)
}

// wantServerError fails the test unless err is a server error with this code and SQL state.
func wantServerError(t testing.TB, what string, err error, code uint16, state string) *mysql.MySQLError {
	t.Helper()
	me := mysqlError(err)
	if me == nil {
		t.Errorf("%s: got %v, want ERROR %d (%s)", what, describeErrOrNil(err), code, state)
		return nil
	}
	if me.Number != code || string(me.SQLState[:]) != state {
		t.Errorf("%s: got %s, want ERROR %d (%s)", what, describeErr(err), code, state)
	}
	return me
}

func describeErrOrNil(err error) string {
	if err == nil {
		return "no error"
	}
	return describeErr(err)
}

// mustWork checks that the client connection c still answers SELECT 1.
func mustWork(t testing.TB, what string, c execer) {
	t.Helper()
	n, err := queryInt(c, "SELECT 1")
	if err != nil || n != 1 {
		t.Errorf("%s: SELECT 1 afterwards = %d, %s", what, n, describeErrOrNil(err))
	}
}
