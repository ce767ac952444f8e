package shapes

import (
	"sync"
	"sync/atomic"
	"testing"
)

// smokeScript is run on a client of the proxy and on a direct client, step by step, and each
// step's answer compared, while other clients of the proxy change their own session state on the
// same two backend connections.
var smokeScript = []struct {
	q    string
	args []any // with arguments, go-sql-driver prepares the statement on the server
}{
	{q: "DROP TABLE IF EXISTS smoke"},
	{q: "CREATE TABLE smoke (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(300), b LONGBLOB)"},
	{q: "INSERT INTO smoke (v) VALUES ('a'), ('b')"},
	{q: "SELECT LAST_INSERT_ID()"},
	{q: "SELECT id, v FROM smoke ORDER BY id"},
	{q: "SELECT @@character_set_client, @@collation_connection, @@time_zone, @@tx_isolation, @@sql_mode, @@autocommit"},
	{q: "SET NAMES latin1"},
	{q: "SELECT @@character_set_client, @@collation_connection, CHARSET('x')"},
	{q: "SET sql_mode = 'NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES'"},
	{q: "SET @nb = 'a\\nb'"},
	{q: "SELECT @@sql_mode, HEX(@nb)"},
	{q: "SET time_zone = '+02:00'"},
	{q: "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"},
	{q: "SELECT @@time_zone, @@tx_isolation"},
	{q: "SET @u = 'it''s', @n = 42"},
	{q: "SELECT @u, @n"},
	{q: "BEGIN"},
	{q: "INSERT INTO smoke (v) VALUES ('c')"},
	{q: "SELECT COUNT(*), @@in_transaction FROM smoke"},
	{q: "ROLLBACK"},
	{q: "SELECT COUNT(*), @@in_transaction FROM smoke"},
	{q: "CREATE TEMPORARY TABLE tmp (a INT)"},
	{q: "INSERT INTO tmp VALUES (1), (2)"},
	{q: "SELECT SUM(a) FROM tmp"},
	{q: "DROP TEMPORARY TABLE tmp"},
	{q: "SELECT ? + 1, ?", args: []any{41, "prepared"}},
	{q: "INSERT INTO smoke (v, b) VALUES ('big', REPEAT('x', 200000))"},
	{q: "SELECT id, LENGTH(b), MD5(b) FROM smoke WHERE v = ?", args: []any{"big"}},
	{q: "SELECT LAST_INSERT_ID()"},
	{q: "SELECT CAST('1x' AS SIGNED)"},
	{q: "SHOW WARNINGS"},
	{q: "SELECT nosuchcolumn FROM smoke"},
	{q: "SET NAMES utf8mb4"},
	{q: "SELECT @@character_set_client, @u, @n, @@time_zone"},
	{q: "DROP TABLE smoke"},
}

// smoke runs smokeScript through the proxy (database test) and directly (database test2).
func smoke(t *testing.T, e *env) {
	viaProxy := conn(t, e.proxyPool(t, "test"))
	direct := conn(t, e.directPool(t, "test2"))
	stop := noise(t, e)
	defer stop()
	for i, step := range smokeScript {
		got, want := rows(viaProxy, step.q, step.args...), rows(direct, step.q, step.args...)
		if got != want {
			t.Errorf("step %d %q:\nproxy:  %q\ndirect: %q", i, step.q, got, want)
		}
	}
}

// noise runs two clients of e's proxy that change their session state and write, until the
// returned function is called; it fails the test if they hit an error.
func noise(t *testing.T, e *env) (stop func()) {
	p := e.proxyPool(t, "test")
	var done atomic.Bool
	var wg sync.WaitGroup
	var rounds atomic.Int64
	for i := range 2 {
		c := conn(t, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !done.Load(); n++ {
				for _, q := range []string{
					"SET NAMES utf8mb3, time_zone = '-03:00', sql_mode = 'ANSI'",
					"SET @u = 'noise', @nb = NULL",
					"SELECT @@time_zone, @u",
					"SET NAMES latin1, sql_mode = DEFAULT, time_zone = DEFAULT",
				} {
					if s := rows(c, q); len(s) > 5 && s[:5] == "ERROR" {
						t.Errorf("noise client %d: %s: %s", i, q, s)
						return
					}
				}
				rounds.Add(1)
			}
		}()
	}
	return func() {
		done.Store(true)
		wg.Wait()
		if rounds.Load() == 0 {
			t.Error("the noise clients completed no round")
		}
	}
}
