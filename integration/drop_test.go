package integration

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// dropNetSeq makes the go-sql-driver network names registered by tests unique.
var dropNetSeq atomic.Int64

// socketKeepingDSN returns a DSN for addr whose connections are dialled through a registered
// dialer that hands each net.Conn to the returned channel, so a test can cut it.
func socketKeepingDSN(addr, dbName string) (string, <-chan net.Conn) {
	conns := make(chan net.Conn, 4)
	name := fmt.Sprintf("mysqlmux-keep-%d", dropNetSeq.Add(1))
	mysql.RegisterDialContext(name, func(ctx context.Context, a string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			conns <- c
		}
		return c, err
	})
	return clientDSN(addr, dbName, func(c *mysql.Config) { c.Net = name }), conns
}

// TestDroppedClientReleasesRowLock: a client that vanishes mid-transaction holding a row lock
// (SELECT ... FOR UPDATE, or UPDATE without commit) leaves nothing behind: another client updates
// that row at once (no lock wait) and the vanished client's changes are gone. 20 times, cap 1, so
// every round reuses the one backend connection.
func TestDroppedClientReleasesRowLock(t *testing.T) {
	mariadbtest.Need(t, db)
	const rounds = 20
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS drop_row")
	mustExec(t, direct, "DROP TABLE IF EXISTS drop_marker")
	mustExec(t, direct, "CREATE TABLE drop_row (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB")
	mustExec(t, direct, "CREATE TABLE drop_marker (round INT NOT NULL) ENGINE=InnoDB")
	mustExec(t, direct, "INSERT INTO drop_row VALUES (1, 0)")

	cfg := proxytest.Config(db, 1)
	cfg.Pool.AcquireTimeout.Duration = 5 * time.Second
	in := proxytest.Start(t, cfg)

	for r := range rounds {
		if !droppedClientRound(t, in.Addr(), r) {
			return
		}
	}
	if v := mustInt(t, direct, "SELECT v FROM drop_row WHERE id = 1"); v != rounds {
		t.Errorf("after %d rounds v = %d (direct), want %d", rounds, v, rounds)
	}
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM drop_marker"); n != 0 {
		t.Errorf("%d rows inserted by dropped transactions survived", n)
	}
}

// droppedClientRound runs one round; false means stop (the failure is reported).
func droppedClientRound(t *testing.T, addr string, r int) bool {
	t.Helper()
	dsn, sockets := socketKeepingDSN(addr, "test")
	xPool := openPool(t, dsn)
	xPool.SetMaxIdleConns(0)
	x := holdConn(t, xPool)
	var sock net.Conn
	select {
	case sock = <-sockets:
	default:
		t.Fatalf("round %d: the dialer did not see the client's socket", r)
	}

	mustExec(t, x, "BEGIN")
	how := "UPDATE without commit"
	if r%2 == 0 {
		how = "SELECT ... FOR UPDATE"
		if v := mustInt(t, x, "SELECT v FROM drop_row WHERE id = 1 FOR UPDATE"); v != int64(r) {
			t.Errorf("round %d: dropped client read v = %d, want %d", r, v, r)
		}
	} else {
		mustExec(t, x, "UPDATE drop_row SET v = v + 1000 WHERE id = 1")
	}
	mustExec(t, x, "INSERT INTO drop_marker VALUES (?)", r)

	// Vanish: RST on even rounds, FIN on odd ones.
	if tc, ok := sock.(*net.TCPConn); ok && r%2 == 0 {
		_ = tc.SetLinger(0)
	}
	if err := sock.Close(); err != nil {
		t.Fatalf("round %d: closing the client socket: %v", r, err)
	}

	// A fresh client. Its SET STATEMENT may pin it to the one backend connection, so it
	// disconnects at the end of the round.
	yPool := openPool(t, clientDSN(addr, "test", nil))
	yPool.SetMaxIdleConns(0)
	y := holdConn(t, yPool)
	start := time.Now()
	_, err := y.ExecContext(context.Background(),
		"SET STATEMENT innodb_lock_wait_timeout=2 FOR UPDATE drop_row SET v = v + 1 WHERE id = 1")
	took := time.Since(start)
	if err != nil { // 1205: the dropped client's row lock outlived it; 9001: its connection was never freed
		t.Errorf("round %d (%s): the next client's UPDATE of the row failed after %v: %s", r, how, took, describeErr(err))
		return false
	}
	if v := mustInt(t, y, "SELECT v FROM drop_row WHERE id = 1"); v != int64(r+1) {
		t.Errorf("round %d (%s): v = %d after the next client's +1, want %d (the dropped client's change must be gone)", r, how, v, r+1)
		return false
	}
	if n := mustInt(t, y, "SELECT COUNT(*) FROM drop_marker"); n != 0 {
		t.Errorf("round %d (%s): the dropped client's INSERT is visible (%d rows)", r, how, n)
		return false
	}
	if err := y.Close(); err != nil {
		t.Errorf("round %d: closing the next client: %v", r, err)
	}
	_ = yPool.Close()
	_ = x.Close() // its socket is gone: the driver notices and discards it
	_ = xPool.Close()
	return true
}
