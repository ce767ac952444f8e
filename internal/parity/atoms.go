package parity

import (
	"fmt"
	"strings"
)

// atom is one SQL statement of the grammar, with its class (see clsClearsDA) and its effect on
// the generator's model.
type atom struct {
	sql       string
	cls       uint8
	eff       func(*gen)
	plainOnly bool // keep it out of the other forms (it would lose its meaning there)
}

func (a atom) apply(g *gen) {
	if a.eff != nil {
		a.eff(g)
	}
}

// atom draws a statement: ordinary reads and writes most often, then every kind of session state.
func (g *gen) atom() atom {
	switch w := g.pick(100); {
	case w < 28:
		return g.dmlAtom()
	case w < 36:
		return g.varAtom()
	case w < 43:
		return g.sessionAtom()
	case w < 50:
		return g.txnAtom()
	case w < 55:
		return g.tempAtom()
	case w < 60:
		return g.lockAtom()
	case w < 64:
		return g.handlerAtom()
	case w < 68:
		return g.tableLockAtom()
	case w < 70:
		return g.xaAtom()
	case w < 77:
		return g.routineAtom()
	case w < 83:
		return g.lastIDAtom()
	case w < 91:
		return g.warnAtom()
	case w < 95:
		return g.prepNameAtom()
	default:
		return atom{sql: oneOf(g, "SELECT 1", "SELECT 1 + 1, 'x'", "DO 1", "SELECT DATABASE()", "SELECT USER() = CURRENT_USER()")}
	}
}

func (g *gen) num() int { return 1 + g.pick(9) }

func (g *gen) sub(s string) string {
	return strings.NewReplacer("$T", g.n.T, "$U", g.n.U, "$K1", g.n.K1, "$K2", g.n.K2, "$X", g.n.X, "$P", g.n.P).Replace(s)
}

// dmlAtom reads or writes the client's own tables. Tables stay small: deletes balance inserts and
// reads have a LIMIT (but for a rare full scan, to see sql_select_limit).
func (g *gen) dmlAtom() atom {
	n := g.num()
	cd := uint8(clsClearsDA)
	switch g.pick(20) {
	case 0:
		return atom{sql: g.sub("SELECT id, v, s FROM $T ORDER BY id DESC LIMIT 3"), cls: cd}
	case 1:
		return atom{sql: g.sub("SELECT COUNT(*), SUM(v), MAX(s) FROM $T"), cls: cd}
	case 2:
		return atom{sql: g.sub(fmt.Sprintf("SELECT SQL_CALC_FOUND_ROWS id FROM $T WHERE v > %d ORDER BY id LIMIT %d", n, g.pick(3))), cls: cd | clsCalc}
	case 3:
		return atom{sql: g.sub(fmt.Sprintf("SELECT k, v FROM $U WHERE k = %d", n)), cls: cd}
	case 4:
		return atom{sql: g.sub("SELECT $T.id, $U.v FROM $T JOIN $U ON $U.k = $T.v ORDER BY $T.id LIMIT 2"), cls: cd}
	case 5:
		return atom{sql: g.sub(fmt.Sprintf("SELECT v FROM $T WHERE id >= %d ORDER BY id LIMIT 1 FOR UPDATE", n)), cls: cd}
	case 6, 7:
		return atom{sql: g.sub(fmt.Sprintf("INSERT INTO $T (v, s) VALUES (%d, '%s')", n, oneOf(g, "a", "b", "ü", "x y"))), cls: cd}
	case 8:
		return atom{sql: g.sub(fmt.Sprintf("INSERT INTO $T (v, s) VALUES (%d, 'm1'), (%d, 'm2')", n, n+1)), cls: cd}
	case 9:
		return atom{sql: g.sub(fmt.Sprintf("INSERT INTO $T (id, v, s) VALUES (%d, %d, 'explicit')", 1000+g.pick(30), n)), cls: cd}
	case 10:
		return atom{sql: g.sub(fmt.Sprintf("INSERT IGNORE INTO $U (k, v) VALUES (%d, %d)", n, n)), cls: cd}
	case 11:
		return atom{sql: g.sub(fmt.Sprintf("INSERT INTO $U (k, v) VALUES (%d, 1) ON DUPLICATE KEY UPDATE v = v + 1", n)), cls: cd}
	case 12:
		return atom{sql: g.sub(fmt.Sprintf("REPLACE INTO $U (k, v) VALUES (%d, %d)", n, g.pick(3))), cls: cd}
	case 13:
		return atom{sql: g.sub(fmt.Sprintf("UPDATE $U SET v = %d WHERE k <= %d", g.pick(3), n)), cls: cd}
	case 14:
		return atom{sql: g.sub(fmt.Sprintf("UPDATE $T SET v = v + 1 WHERE id %% 3 = %d", n%3)), cls: cd}
	case 15, 16:
		return atom{sql: g.sub(fmt.Sprintf("DELETE FROM $T ORDER BY id LIMIT %d", 1+g.pick(4))), cls: cd}
	case 17:
		return atom{sql: g.sub(fmt.Sprintf("DELETE FROM $U WHERE k > %d", n)), cls: cd}
	case 18:
		return atom{sql: g.sub("INSERT INTO $T (v, s) SELECT v, 'copy' FROM $U ORDER BY k LIMIT 2"), cls: cd}
	default:
		return atom{sql: g.sub("SELECT id, s FROM $T ORDER BY id"), cls: cd}
	}
}

// literals cover what a proxy replaying `SET @x = <literal>` must reproduce exactly: types,
// character sets, introducers, escapes (read differently under NO_BACKSLASH_ESCAPES).
var literals = []string{
	"42", "-7", "0", "18446744073709551615", "-9223372036854775808", "1.50", "-0.0", "1e300", "3.14159265358979",
	"'plain'", "''", "'it''s'", `'a\nb\\c'`, `'tab\there'`, "_latin1'abc'", "_latin1 X'E9'", "_utf8mb4'ü'",
	"_binary'bin'", "X'4142'", "0x4142", "b'101'", "NULL", "TRUE", "DATE'2020-01-02'",
	"TIMESTAMP'2020-01-02 03:04:05'", "'ü'", "N'national'", "'abc' COLLATE latin1_bin", "_utf8mb4'x' COLLATE utf8mb4_bin",
}

func (g *gen) expr() string {
	if g.chance(60) {
		return oneOf(g, literals...)
	}
	return g.sub(oneOf(g, "CONCAT('x', 5)", "3 + 4", "(SELECT COUNT(*) FROM $T)", "@v1 + 1", "f_plain(6)",
		"REPEAT('ab', 3)", "CAST(12 AS CHAR)", "UPPER('abc')", "1 = 1", "(SELECT MAX(id) FROM $T)", "@v2"))
}

func setVar(name string) func(*gen) { return func(g *gen) { g.vars[name] = true } }

// varAtom sets or reads user variables, in every syntax that sets one.
func (g *gen) varAtom() atom {
	v := oneOf(g, "@v1", "@v2", "@v3", "@nb", "@l")
	e := g.expr()
	switch g.pick(12) {
	case 0, 1:
		return atom{sql: "SET " + v + " = " + e, eff: setVar(v)}
	case 2:
		return atom{sql: "SET " + v + " := " + e + ", @v4 = " + g.expr(), eff: setVar(v)}
	case 3:
		return atom{sql: "SELECT " + e + " INTO " + v, eff: setVar(v)}
	case 4:
		return atom{sql: "SELECT " + e + " INTO /*c*/ " + v, eff: setVar(v)}
	case 5:
		return atom{sql: "SELECT " + v + " := " + e, eff: setVar(v)}
	case 6:
		return atom{sql: g.sub("SELECT id INTO " + v + " FROM $T ORDER BY id LIMIT 1"), cls: clsClearsDA, eff: setVar(v)}
	case 7:
		return atom{sql: "SELECT @v1, @v2, @v3, @v4, @nb, @l, @o, @io, @fv, @pv, @pu"}
	case 8:
		return atom{sql: "SELECT HEX(" + v + "), CHARSET(" + v + "), COLLATION(" + v + ")"}
	case 9:
		return atom{sql: "SELECT VARIABLE_NAME, VARIABLE_VALUE, VARIABLE_TYPE, CHARACTER_SET_NAME FROM information_schema.USER_VARIABLES ORDER BY 1", cls: clsClearsDA}
	case 10:
		return atom{sql: "SET " + v + " = NULL"}
	default:
		return atom{sql: "SELECT " + v + " = " + e + ", " + v + " IS NULL"}
	}
}

// sqlModes are whole sql_mode values a client sets.
var sqlModes = []string{"", "NO_BACKSLASH_ESCAPES", "STRICT_TRANS_TABLES", "ANSI_QUOTES,NO_BACKSLASH_ESCAPES",
	"STRICT_ALL_TABLES,NO_ZERO_DATE", "PIPES_AS_CONCAT", "ORACLE", "TRADITIONAL"}

// sessionAtom sets or reads session variables the proxy tracks and replays.
func (g *gen) sessionAtom() atom {
	switch g.pick(18) {
	case 0:
		return atom{sql: "SET NAMES " + oneOf(g, "latin1", "utf8mb4", "utf8mb4 COLLATE utf8mb4_bin", "binary", "utf8")}
	case 1:
		return atom{sql: "SET CHARACTER SET " + oneOf(g, "latin1", "utf8mb4")}
	case 2:
		return atom{sql: "SET character_set_results = " + oneOf(g, "NULL", "latin1", "binary")}
	case 3, 4:
		m := oneOf(g, sqlModes...)
		return atom{sql: "SET sql_mode = '" + m + "'", eff: func(g *gen) { g.noBackslash = strings.Contains(m, "NO_BACKSLASH") }}
	case 5:
		return atom{sql: "SET SESSION sql_mode = CONCAT(@@sql_mode, '," + oneOf(g, "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES") + "')"}
	case 6:
		return atom{sql: "SET time_zone = " + oneOf(g, "'+02:00'", "'SYSTEM'", "'+00:00'", "'-11:30'")}
	case 7:
		return atom{sql: fmt.Sprintf("SET max_heap_table_size = %d", 16384*(1+g.pick(8)))}
	case 8:
		return atom{sql: "SET @@session.group_concat_max_len = " + oneOf(g, "4", "1024", "DEFAULT")}
	case 9:
		return atom{sql: "SET div_precision_increment = " + oneOf(g, "0", "9", "DEFAULT")}
	case 10:
		return atom{sql: "SET sql_select_limit = " + oneOf(g, "1", "2", "DEFAULT")}
	case 11:
		return atom{sql: "SET lc_time_names = " + oneOf(g, "'de_DE'", "'en_US'", "'fr_FR'")}
	case 12:
		return atom{sql: "SET timestamp = " + oneOf(g, "1000000000", "DEFAULT")}
	case 13:
		return atom{sql: "SET " + oneOf(g, "sql_auto_is_null", "foreign_key_checks", "unique_checks", "sql_safe_updates",
			"sql_big_selects", "sql_quote_show_create") + " = " + oneOf(g, "0", "1")}
	case 14:
		return atom{sql: "SET " + oneOf(g, "net_write_timeout = 120", "wait_timeout = 3000", "interactive_timeout = 600",
			"sql_notes = 0", "sql_warnings = 1", "max_sort_length = 2048", "optimizer_search_depth = 10")}
	case 15:
		return atom{sql: "SELECT @@sql_mode, @@time_zone, @@character_set_client, @@character_set_results, @@collation_connection, " +
			"@@max_heap_table_size, @@tx_isolation, @@autocommit, @@sql_select_limit, @@div_precision_increment"}
	case 16:
		return atom{sql: "SELECT 2/3, GROUP_CONCAT('abcdef'), DATE_FORMAT('2020-01-05', '%W %M'), @@timestamp = 1000000000, " +
			"NOW() = FROM_UNIXTIME(1000000000), 'a' || 'b', HEX('a\\nb\\\\c')"}
	default:
		return atom{sql: "SELECT @@session.net_write_timeout, @@wait_timeout, @@sql_notes, @@sql_safe_updates, @@unique_checks, " +
			"@@foreign_key_checks, @@sql_auto_is_null, @@lc_time_names, @@group_concat_max_len"}
	}
}

var isolationLevels = []string{"READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"}

func beginTxn(g *gen) { g.inTxn = true }

// txnAtom begins, ends and shapes transactions.
func (g *gen) txnAtom() atom {
	switch g.pick(16) {
	case 0, 1:
		return atom{sql: oneOf(g, "BEGIN", "START TRANSACTION", "START TRANSACTION READ ONLY",
			"START TRANSACTION WITH CONSISTENT SNAPSHOT", "BEGIN WORK"), eff: beginTxn}
	case 2:
		return atom{sql: oneOf(g, "COMMIT", "ROLLBACK", "COMMIT AND CHAIN", "ROLLBACK AND CHAIN", "COMMIT WORK"), eff: endTxn}
	case 3:
		return atom{sql: "SET autocommit = 0", eff: func(g *gen) { g.autocommitOff = true }}
	case 4:
		return atom{sql: "SET autocommit = 1", eff: func(g *gen) { g.autocommitOff, g.inTxn = false, false }}
	case 5:
		return atom{sql: "SET TRANSACTION ISOLATION LEVEL " + oneOf(g, isolationLevels...)}
	case 6:
		return atom{sql: "SET TRANSACTION " + oneOf(g, "READ ONLY", "READ WRITE")}
	case 7:
		return atom{sql: "SET SESSION TRANSACTION ISOLATION LEVEL " + oneOf(g, isolationLevels...)}
	case 8:
		return atom{sql: "SET SESSION tx_read_only = " + oneOf(g, "0", "1")}
	case 9:
		return atom{sql: "SAVEPOINT " + oneOf(g, "sp1", "sp2")}
	case 10:
		return atom{sql: oneOf(g, "ROLLBACK TO SAVEPOINT ", "RELEASE SAVEPOINT ") + oneOf(g, "sp1", "sp2")}
	case 11, 12:
		return atom{sql: "SELECT @@in_transaction, @@autocommit, @@tx_read_only"}
	case 13:
		return atom{sql: g.sub("SELECT COUNT(*) FROM $T WHERE s LIKE 'm%'"), cls: clsClearsDA}
	default:
		return atom{sql: "SELECT @@session.tx_isolation, @@transaction_read_only"}
	}
}

// tempAtom creates, uses and drops temporary tables tt1..tt3 (the names the observers probe).
func (g *gen) tempAtom() atom {
	t := oneOf(g, "tt1", "tt2", "tt3")
	created := func(g *gen) { g.temps[t] = true }
	dropped := func(g *gen) { delete(g.temps, t) }
	switch g.pick(9) {
	case 0:
		return atom{sql: "CREATE TEMPORARY TABLE " + t + " (a INT PRIMARY KEY, b VARCHAR(20))", cls: clsClearsDA, eff: created}
	case 1:
		return atom{sql: g.sub("CREATE TEMPORARY TABLE " + t + " ENGINE=" + oneOf(g, "MEMORY", "InnoDB", "Aria") +
			" AS SELECT id AS a, s AS b FROM $T ORDER BY id LIMIT 3"), cls: clsClearsDA, eff: created}
	case 2:
		return atom{sql: "CREATE TEMPORARY TABLE IF NOT EXISTS " + t + " (a INT PRIMARY KEY, b VARCHAR(20))", cls: clsClearsDA, eff: created}
	case 3, 4:
		return atom{sql: fmt.Sprintf("INSERT INTO %s (a, b) VALUES (%d, 'x')", t, g.num()), cls: clsClearsDA}
	case 5:
		return atom{sql: "SELECT a, b FROM " + t + " ORDER BY a, b LIMIT 3", cls: clsClearsDA}
	case 6:
		return atom{sql: "DROP TEMPORARY TABLE " + t, cls: clsClearsDA, eff: dropped}
	case 7:
		return atom{sql: "DROP TEMPORARY TABLE IF EXISTS " + t, cls: clsClearsDA, eff: dropped}
	default:
		return atom{sql: "DROP TABLE " + t, cls: clsClearsDA, eff: dropped}
	}
}

// lockAtom takes and releases named locks.
func (g *gen) lockAtom() atom {
	k := oneOf(g, g.n.K1, g.n.K2)
	taken := func(g *gen) { g.locks[k] = true }
	released := func(g *gen) { delete(g.locks, k) }
	switch g.pick(9) {
	case 0, 1:
		return atom{sql: "SELECT GET_LOCK('" + k + "', " + oneOf(g, "0", "1") + ")", eff: taken}
	case 2:
		return atom{sql: "DO GET_LOCK('" + k + "', 0)", eff: taken}
	case 3, 4:
		return atom{sql: "SELECT RELEASE_LOCK('" + k + "')", eff: released}
	case 5:
		return atom{sql: "SELECT RELEASE_ALL_LOCKS()", eff: func(g *gen) { clear(g.locks) }}
	case 6:
		return atom{sql: "SELECT IS_FREE_LOCK('" + k + "'), IS_USED_LOCK('" + k + "') IS NULL"}
	case 7:
		return atom{sql: "SELECT GET_LOCK('" + k + "', 0), RELEASE_LOCK('" + k + "')"}
	default:
		return atom{sql: "CALL p_lock('" + k + "')", eff: taken}
	}
}

// handlerAtom opens, reads and closes HANDLERs on the client's tables (names the observers probe).
func (g *gen) handlerAtom() atom {
	h := oneOf(g, "h1", "h2", g.n.T)
	opened := func(g *gen) { g.handlers[h] = true }
	switch g.pick(7) {
	case 0, 1:
		if h == g.n.T {
			return atom{sql: "HANDLER " + g.n.T + " OPEN", cls: clsClearsDA, eff: opened}
		}
		return atom{sql: "HANDLER " + g.n.T + " OPEN AS " + h, cls: clsClearsDA, eff: opened}
	case 2, 3:
		return atom{sql: "HANDLER " + h + " READ " + oneOf(g, "FIRST", "NEXT", "`PRIMARY` FIRST", "`PRIMARY` NEXT") + " LIMIT 2", cls: clsClearsDA}
	case 4:
		return atom{sql: "HANDLER " + h + " READ `PRIMARY` >= (" + fmt.Sprint(g.num()) + ")", cls: clsClearsDA}
	default:
		return atom{sql: "HANDLER " + h + " CLOSE", cls: clsClearsDA, eff: func(g *gen) { delete(g.handlers, h) }}
	}
}

// tableLockAtom takes LOCK TABLES, FLUSH … WITH READ LOCK and FOR EXPORT locks.
func (g *gen) tableLockAtom() atom {
	locked := func(g *gen) { g.lockTables = true }
	switch g.pick(8) {
	case 0, 1:
		return atom{sql: g.sub("LOCK TABLES $T " + oneOf(g, "READ", "WRITE", "READ LOCAL")), eff: locked}
	case 2:
		return atom{sql: g.sub("LOCK TABLES $T WRITE, $U READ"), eff: locked}
	case 3:
		return atom{sql: "FLUSH TABLES WITH READ LOCK", eff: func(g *gen) { g.globalLock = true }}
	case 4:
		return atom{sql: g.sub("FLUSH TABLES $T FOR EXPORT"), eff: locked}
	case 5:
		return atom{sql: g.sub("FLUSH TABLES $U WITH READ LOCK"), eff: locked}
	default:
		return atom{sql: "UNLOCK TABLES", eff: func(g *gen) { g.lockTables, g.globalLock = false, false }}
	}
}

// xaAtom walks an XA transaction through its states.
func (g *gen) xaAtom() atom {
	x := "'" + g.n.X + "'"
	set := func(st int) func(*gen) { return func(g *gen) { g.xa = st } }
	switch g.xa {
	case 0:
		return atom{sql: "XA START " + x, eff: set(1), plainOnly: true}
	case 1:
		if g.chance(50) {
			return g.dmlAtom()
		}
		return atom{sql: "XA END " + x, eff: set(2), plainOnly: true}
	case 2:
		return oneOf(g, atom{sql: "XA PREPARE " + x, eff: set(3), plainOnly: true},
			atom{sql: "XA COMMIT " + x + " ONE PHASE", eff: set(0), plainOnly: true})
	default:
		return atom{sql: "XA " + oneOf(g, "COMMIT ", "ROLLBACK ") + x, eff: set(0), plainOnly: true}
	}
}

// routineAtom calls the fixture's routines: OUT and INOUT parameters, a function that sets a user
// variable, procedures that take a lock, insert, set a variable or a time zone, create a
// temporary table, or run any atom as dynamic SQL.
func (g *gen) routineAtom() atom {
	switch g.pick(11) {
	case 0:
		return atom{sql: fmt.Sprintf("SET @io = %d", g.num())}
	case 1, 2:
		return atom{sql: "CALL p_out(@o, @io)", eff: setVar("@o")}
	case 3:
		return atom{sql: "SELECT @o, @io"}
	case 4:
		return atom{sql: fmt.Sprintf("SELECT f_set(%d), @fv", g.num()), eff: setVar("@fv")}
	case 5:
		return atom{sql: g.sub(fmt.Sprintf("SELECT id FROM $T WHERE f_set(id) > %d ORDER BY id LIMIT 1", g.num())), cls: clsClearsDA, eff: setVar("@fv")}
	case 6:
		return atom{sql: g.sub("CALL $P()"), cls: clsClearsDA}
	case 7:
		return atom{sql: "CALL " + oneOf(g, "p_uv()", "p_tz()", "p_tmp()")}
	case 8:
		inner := g.unplainAtom()
		return atom{sql: "CALL p_exec(" + quote(inner.sql) + ")", eff: inner.eff}
	case 9:
		return atom{sql: "SELECT @fv, @pu, @@time_zone"}
	default:
		return atom{sql: fmt.Sprintf("SELECT f_plain(%d)", g.num())}
	}
}

// lastIDAtom exercises LAST_INSERT_ID(): after auto and explicit ids, set by LAST_INSERT_ID(n),
// after a CALL that inserts, and SET insert_id.
func (g *gen) lastIDAtom() atom {
	switch g.pick(8) {
	case 0, 1, 2:
		return atom{sql: "SELECT LAST_INSERT_ID()"}
	case 3:
		return atom{sql: fmt.Sprintf("SELECT LAST_INSERT_ID(%d)", 50+g.num())}
	case 4:
		return atom{sql: g.sub(fmt.Sprintf("UPDATE $U SET v = LAST_INSERT_ID(v + 1) WHERE k = %d", g.num())), cls: clsClearsDA}
	case 5:
		return atom{sql: fmt.Sprintf("SET insert_id = %d", 2000+g.pick(50))}
	case 6:
		return atom{sql: "SELECT @@last_insert_id, @@identity, @@insert_id"}
	default:
		return atom{sql: g.sub("INSERT INTO $T (v, s) VALUES (LAST_INSERT_ID(), 'lid')"), cls: clsClearsDA}
	}
}

// warnAtom produces warnings or errors (which reset the diagnostics area).
func (g *gen) warnAtom() atom {
	return atom{cls: clsClearsDA, sql: g.sub(oneOf(g, "SELECT 1/0", "SELECT CAST('12abc' AS SIGNED)",
		"SELECT nosuchcol FROM $T", "SELECT * FROM nosuchtable", "SELEKT 1", "INSERT INTO $T (v, s) VALUES (1, REPEAT('x', 20))",
		"INSERT INTO $T (id, v) VALUES (1000, 1)", "DROP TABLE IF EXISTS nosuchtable", "SELECT 1/0, CAST('x' AS SIGNED), 1/0",
		"INSERT INTO $U (k, v) VALUES (NULL, 1)", "SELECT GROUP_CONCAT(s ORDER BY id) FROM $T", "DO 1/0",
		"UPDATE $T SET v = 'abc' WHERE id < 0", "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'mine'"))}
}

// prepNameAtom uses text-prepared statement names directly (the forms put atoms into them too).
func (g *gen) prepNameAtom() atom {
	name := oneOf(g, "s1", "s2", "s3")
	switch g.pick(5) {
	case 0:
		return atom{sql: "PREPARE " + name + " FROM 'SELECT ? + 1, @v1'", eff: func(g *gen) { g.prepared[name] = true }}
	case 1:
		return atom{sql: "PREPARE " + name + " FROM 'SELECT 7 INTO @pv'", eff: func(g *gen) { g.prepared[name] = true }}
	case 2:
		return atom{sql: "EXECUTE " + name + oneOf(g, "", " USING 5", " USING @v1")}
	case 3:
		return atom{sql: "DEALLOCATE PREPARE " + name, eff: func(g *gen) { delete(g.prepared, name) }}
	default:
		return atom{sql: "PREPARE " + name + " FROM 'CREATE TEMPORARY TABLE tt3 (a INT)'", eff: func(g *gen) { g.prepared[name] = true }}
	}
}
