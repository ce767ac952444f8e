package integration

import (
	"fmt"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// Issue 8: every leak and difference the issue lists, each compared with a direct connection
// and probed from another client of the one backend connection.

func TestFidelityExecuteImmediate(t *testing.T) {
	f := newFidelity(t)
	f.setup("DROP TABLE IF EXISTS fid_ei", "CREATE TABLE fid_ei (a INT)", "CREATE TABLE IF NOT EXISTS fid_ei_other (a INT)")
	f.lock("fid_ei_lock")
	f.temp("fid_ei_tmp")
	f.handler("fid_ei")
	f.both("EXECUTE IMMEDIATE 'SET @v = 42'")
	f.both("SELECT @v")
	f.both("EXECUTE IMMEDIATE 'SELECT 7 INTO @w'")
	f.both("SELECT @v, @w")
	f.both("EXECUTE IMMEDIATE 'CREATE TEMPORARY TABLE fid_ei_tmp (a INT)'")
	f.both("SELECT COUNT(*) FROM fid_ei_tmp")
	f.both("DROP TEMPORARY TABLE fid_ei_tmp")
	f.proxyOnly("EXECUTE IMMEDIATE 'SELECT GET_LOCK(''fid_ei_lock'', 0)'", "1;/")
	f.proxyOnly("SELECT IS_USED_LOCK('fid_ei_lock') = CONNECTION_ID()", "1;/")
	f.proxyOnly("SELECT RELEASE_LOCK('fid_ei_lock')", "1;/")
	f.both("EXECUTE IMMEDIATE 'HANDLER fid_ei OPEN'")
	f.both("HANDLER fid_ei READ FIRST")
	f.both("HANDLER fid_ei CLOSE")
	f.both("EXECUTE IMMEDIATE 'LOCK TABLES fid_ei READ'")
	f.both("SELECT COUNT(*) FROM fid_ei")
	f.both("SELECT COUNT(*) FROM fid_ei_other")
	f.both("UNLOCK TABLES")
	f.both("SELECT @v, @w")
}

func TestFidelityPreparedText(t *testing.T) {
	f := newFidelity(t)
	f.temp("fid_pt_tmp")
	f.both("PREPARE s FROM 'SELECT 7 INTO @pv'")
	f.both("EXECUTE s")
	f.both("DEALLOCATE PREPARE s")
	f.both("SELECT @pv")
	f.both("PREPARE s2 FROM 'CREATE TEMPORARY TABLE fid_pt_tmp (a INT)'")
	f.both("EXECUTE s2")
	f.both("DEALLOCATE PREPARE s2")
	f.both("SELECT COUNT(*) FROM fid_pt_tmp")
	f.both("DROP TEMPORARY TABLE fid_pt_tmp")
	f.both("SELECT @pv")
}

func TestFidelityMultiStatementErrorInTransaction(t *testing.T) {
	f := newFidelity(t)
	f.setup("DROP TABLE IF EXISTS fid_mt", "CREATE TABLE fid_mt (a INT)")
	f.both("BEGIN; INSERT INTO fid_mt VALUES (1); SELECT nosuchcol FROM fid_mt")
	f.idle()
	f.both("SELECT @@in_transaction")
	f.both("SELECT COUNT(*) FROM fid_mt")
	f.both("ROLLBACK")
	f.both("SELECT COUNT(*) FROM fid_mt")
}

func TestFidelityMultiStatementLocks(t *testing.T) {
	f := newFidelity(t)
	f.setup("DROP TABLE IF EXISTS fid_ml", "CREATE TABLE fid_ml (a INT)")
	f.lock("fid_ml_k")
	f.handler("fid_ml")
	f.proxyOnly("SELECT GET_LOCK('fid_ml_k', 0); SELECT 1", "1;/1;/")
	f.proxyOnly("SELECT RELEASE_LOCK('fid_ml_k')", "1;/")
	f.both("LOCK TABLES fid_ml READ; SELECT 1")
	f.both("UNLOCK TABLES")
	f.both("HANDLER fid_ml OPEN; SELECT 1")
	f.both("HANDLER fid_ml CLOSE")
	// A global read lock and a table exported: the owner's UNLOCK TABLES must reach the
	// connection that holds them, or every other client's writes wait.
	f.proxyOnly("FLUSH TABLES WITH READ LOCK; SELECT 1", "1;/")
	f.proxyOnly("UNLOCK TABLES", "/")
	f.proxyOnly("INSERT INTO fid_ml VALUES (1)", "/")
	f.proxyOnly("FLUSH TABLES fid_ml FOR EXPORT", "/")
	f.proxyOnly("UNLOCK TABLES", "/")
	f.proxyOnly("INSERT INTO fid_ml VALUES (2)", "/")
}

func TestFidelitySetStatement(t *testing.T) {
	f := newFidelity(t)
	f.setup("DROP TABLE IF EXISTS fid_ss", "CREATE TABLE fid_ss (a INT)")
	f.temp("fid_ss_tmp")
	f.handler("fid_ss")
	f.both("SET STATEMENT sql_mode='' FOR SELECT 8 INTO @v")
	f.both("SELECT @v, @@sql_mode = @@global.sql_mode")
	f.both("SET STATEMENT sql_mode='' FOR CREATE TEMPORARY TABLE fid_ss_tmp (a INT)")
	f.both("INSERT INTO fid_ss_tmp VALUES (1)")
	f.both("DROP TEMPORARY TABLE fid_ss_tmp")
	f.both("SET STATEMENT sql_mode='' FOR LOCK TABLES fid_ss READ")
	f.both("UNLOCK TABLES")
	f.both("SET STATEMENT sql_mode='' FOR HANDLER fid_ss OPEN")
	f.both("HANDLER fid_ss CLOSE")
	f.both("SELECT @v")
}

func TestFidelityRoutines(t *testing.T) {
	f := newFidelity(t)
	f.setup("DROP PROCEDURE IF EXISTS fid_out", "DROP FUNCTION IF EXISTS fid_fn", "DROP PROCEDURE IF EXISTS fid_lockp",
		"DROP PROCEDURE IF EXISTS fid_ins", "DROP TABLE IF EXISTS fid_rt",
		"CREATE TABLE fid_rt (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
		"CREATE PROCEDURE fid_out(OUT o INT, INOUT io INT) BEGIN SET o = 5; SET io = io + 1; END",
		"CREATE FUNCTION fid_fn() RETURNS INT BEGIN SET @fv = 9; RETURN 1; END",
		"CREATE PROCEDURE fid_lockp() BEGIN DO GET_LOCK('fid_rt_lock', 0); END",
		"CREATE PROCEDURE fid_ins() BEGIN INSERT INTO fid_rt (v) VALUES (1); INSERT INTO fid_rt (v) VALUES (2); END")
	f.lock("fid_rt_lock")
	f.both("SET @io = 1")
	f.both("CALL fid_out(@o, @io)")
	// The body is read from the server and understood: OUT values are read back, no pin.
	f.wantPins("CALL fid_out(@o, @io)", "")
	f.both("SELECT @o, @io")
	f.both("CALL fid_out(@o2, @io2)")
	f.both("SELECT @o2, @io2, COUNT(*) FROM information_schema.USER_VARIABLES")
	f.both("SELECT fid_fn(), @fv")
	f.wantPins("SELECT fid_fn()", "")
	f.both("SELECT @fv")
	f.both("CALL fid_ins()")
	f.both("SELECT LAST_INSERT_ID()")
	f.wantPins("CALL fid_ins()", "")
	// A body that takes a lock pins, until reset.
	f.proxyOnly("CALL fid_lockp()", "/")
	f.wantPins("CALL fid_lockp()", "routine")
	f.proxyOnly("SELECT RELEASE_LOCK('fid_rt_lock')", "1;/")
}

func TestFidelityIntoWithComments(t *testing.T) {
	f := newFidelity(t)
	f.both("SELECT 5 INTO /*c*/ @v")
	f.both("SELECT @v")
	f.both("SELECT 6 INTO -- line\n @w")
	f.both("SELECT @v, @w")
	f.both("SELECT @z := 3")
	f.both("SELECT @z")
}

func TestFidelityFoundRowsAndLastInsertID(t *testing.T) {
	f := newFidelity(t)
	f.setup("DROP TABLE IF EXISTS fid_fr", "CREATE TABLE fid_fr (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
		"INSERT INTO fid_fr (v) VALUES (1), (2), (3), (4), (5)")
	f.both("SELECT v FROM fid_fr ORDER BY id LIMIT 3")
	f.idle()
	f.both("SELECT FOUND_ROWS()")
	f.both("SELECT SQL_CALC_FOUND_ROWS v FROM fid_fr ORDER BY id LIMIT 1")
	f.idle()
	f.both("SELECT FOUND_ROWS()")
	f.both("SELECT ROW_COUNT()")
	f.setup("DROP TABLE IF EXISTS fid_li", "CREATE TABLE fid_li (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	f.both("INSERT INTO fid_li (v) VALUES (1)")
	f.both("INSERT INTO fid_li (id, v) VALUES (100, 2)")
	f.idle()
	f.both("SELECT LAST_INSERT_ID()")
	f.both("SELECT LAST_INSERT_ID(55); SELECT LAST_INSERT_ID()")
	f.idle()
	f.both("SELECT LAST_INSERT_ID()")
	f.both("UPDATE fid_li SET v = v + 1 WHERE id = 1")
	f.both("SELECT ROW_COUNT()")
}

func TestFidelityWarnings(t *testing.T) {
	f := newFidelity(t)
	f.both("SELECT CAST('1x' AS SIGNED), CAST('2y' AS SIGNED)")
	f.both("SHOW WARNINGS")
	f.both("SHOW WARNINGS")
	f.both("SHOW COUNT(*) WARNINGS")
	f.both("SELECT @@warning_count")
	f.both("SHOW WARNINGS")
	f.idle()
	f.both("SHOW WARNINGS")
	f.both("SHOW COUNT(*) WARNINGS")
	f.both("SELECT @@warning_count, @@error_count")
	f.both("SELECT 1")
	f.both("SHOW WARNINGS")
	f.both("SELECT COUNT(*) FROM information_schema.CHARACTER_SETS WHERE 1 = 0")
	f.both("SHOW WARNINGS")
	f.both("SELECT * FROM fid_no_such_table")
	f.idle()
	f.both("SHOW ERRORS")
	f.both("SELECT @@error_count")
}

func TestFidelityReplayExact(t *testing.T) {
	f := newFidelity(t)
	f.both("SET sql_mode = 'NO_BACKSLASH_ESCAPES'")
	f.both(`SET @nb = 'a\nb\\c'`)
	f.both("SET sql_mode = DEFAULT")
	f.both("SET @l = _latin1'abc', @x = X'00ff', @d = 1.50, @g = 0.1e0 + 0.2e0")
	f.both("SET @e = CONCAT('é', CHAR(0))")
	f.both("SET NAMES latin1")
	f.both("SET @m = 'caf\xe9'")
	f.both("SET NAMES utf8mb4")
	f.idle()
	f.both("SELECT HEX(@nb), CHARSET(@l), HEX(@x), @d, @g, HEX(@e), HEX(@m), CHARSET(@m), COLLATION(@e)")
}

func TestFidelityAutocommitOffFailedFirstStatement(t *testing.T) {
	f := newFidelity(t)
	f.setup("DROP TABLE IF EXISTS fid_ac", "CREATE TABLE fid_ac (a INT)")
	f.both("SET autocommit = 0")
	f.both("INSERT INTO fid_ac VALUES ('not a number', 1)")
	f.idle()
	f.both("SELECT @@in_transaction")
	f.both("INSERT INTO fid_ac VALUES (1)")
	f.both("ROLLBACK")
	f.both("SELECT COUNT(*) FROM fid_ac")
	f.both("SET autocommit = 1")
}

// TestFidelityResultCharset: the character set a result's string columns are reported in
// (result metadata) follows character_set_results as the client set it, with the collation of
// SET NAMES ... COLLATE or of the login, which session tracking does not report: through the
// proxy, replayed on whichever connection, it is what a direct connection reports.
func TestFidelityResultCharset(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 1))
	other := rawConnect(t, in.Addr(), mariadbtest.AppUser, mariadbtest.AppPassword, "test")
	steps := []string{"", "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", "SET character_set_results = 'utf8mb4'",
		"SET NAMES latin1 COLLATE latin1_german1_ci", "SET character_set_connection = 'utf8mb4'", "SET NAMES utf8mb4"}
	for _, login := range []string{"utf8mb4_general_ci", "utf8mb4_unicode_ci", "latin1_german1_ci"} {
		var conns [2]*client.Conn
		for i, addr := range []string{db.Addr, in.Addr()} {
			c, err := client.Connect(addr, mariadbtest.AppUser, mariadbtest.AppPassword, "test",
				func(c *client.Conn) error { return c.SetCollation(login) })
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		for _, step := range steps {
			var got [2]string
			for i, c := range conns {
				if step != "" {
					mustRawExec(t, c, step)
				}
				mustRawExec(t, other, "SET NAMES utf8mb3") // the one connection serves another state meanwhile
				r, err := c.Execute("SELECT 'x', @@collation_connection, @@character_set_results")
				if err != nil {
					t.Fatal(err)
				}
				v1, _ := r.GetString(0, 1)
				v2, _ := r.GetString(0, 2)
				got[i] = fmt.Sprintf("charset %d, %s, %s", r.Fields[0].Charset, v1, v2)
			}
			if got[0] != got[1] {
				t.Errorf("login %s, after %q: through the proxy %s, directly %s", login, step, got[1], got[0])
			}
		}
	}
}
