package integration

import (
	"context"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// TestServerErrorsPassThrough: MariaDB's errors reach the client through the proxy with the
// code, SQL state and message a direct connection gets, and the connection keeps working.
func TestServerErrorsPassThrough(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := holdConn(t, directClient(t, "test"))
	mustExec(t, direct, "DROP TABLE IF EXISTS err_dup")
	mustExec(t, direct, "DROP TABLE IF EXISTS err_no_such_table")
	mustExec(t, direct, "CREATE TABLE err_dup (id INT PRIMARY KEY, u VARCHAR(10), UNIQUE KEY u_key (u)) ENGINE=InnoDB")
	mustExec(t, direct, "INSERT INTO err_dup VALUES (1, 'a')")

	in := proxytest.Start(t, proxytest.Config(db, 1))
	through := holdConn(t, proxyClient(t, in, "test"))

	cases := []struct {
		name  string
		code  uint16
		query string
	}{
		{"syntax", 1064, "SELEC 1 FROM dual WHERE"},
		{"no such table", 1146, "SELECT * FROM err_no_such_table"},
		{"duplicate primary key", 1062, "INSERT INTO err_dup VALUES (1, 'b')"},
		{"duplicate unique key", 1062, "INSERT INTO err_dup VALUES (2, 'a')"},
		{"syntax in UPDATE", 1064, "UPDATE err_dup SET WHERE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, derr := direct.ExecContext(ctx, c.query)
			_, perr := through.ExecContext(ctx, c.query)
			dme := wantServerError(t, "direct", derr, c.code, stateOf(derr))
			pme := wantServerError(t, "through the proxy", perr, c.code, stateOf(derr))
			if dme != nil && dme.Number != c.code {
				t.Fatalf("direct connection got %s, want ERROR %d: the case is wrong", describeErr(derr), c.code)
			}
			if dme != nil && pme != nil && *dme != *pme {
				t.Errorf("through the proxy: %s\ndirect:            %s", describeErr(perr), describeErr(derr))
			}
			mustWork(t, "proxy client after the error", through)
			mustWork(t, "direct client after the error", direct)
		})
	}
	if n := mustInt(t, through, "SELECT COUNT(*) FROM err_dup"); n != 1 {
		t.Errorf("err_dup has %d rows, want 1", n)
	}
}

// stateOf is the SQL state of a server error, "" for anything else.
func stateOf(err error) string {
	if me := mysqlError(err); me != nil {
		return string(me.SQLState[:])
	}
	return ""
}

// TestUnknownDatabaseAtConnect: a client naming a database that does not exist gets ERROR 1049,
// as from a direct connection: first while the pool is empty, then with a pooled connection idle.
func TestUnknownDatabaseAtConnect(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 1)
	// Shorter than the handshake timeout, so a proxy that waits for a backend shows as 9001.
	cfg.Pool.AcquireTimeout.Duration = 3 * time.Second
	in := proxytest.Start(t, cfg)
	const name = "no_such_db_mysqlmux"
	derr := directClient(t, name).Ping()
	if dme := wantServerError(t, "direct", derr, 1049, "42000"); dme == nil {
		return
	}
	check := func(when string) {
		t.Helper()
		start := time.Now()
		perr := openPool(t, clientDSN(in.Addr(), name, nil)).Ping()
		pme := wantServerError(t, when+": through the proxy", perr, 1049, "42000")
		if pme != nil && *pme != *mysqlError(derr) {
			t.Errorf("%s: through the proxy: %s\ndirect:            %s", when, describeErr(perr), describeErr(derr))
		}
		t.Logf("%s: %s after %v", when, describeErrOrNil(perr), time.Since(start))
	}
	check("empty pool")
	good := proxyClient(t, in, "test")
	mustWork(t, "client naming an existing database", good)
	check("pooled connection idle")
	mustWork(t, "client naming an existing database, afterwards", good)
}
