package parity

import (
	"fmt"
	"strings"
)

// The atoms that leave state in the session: user and session variables, transactions, temporary
// tables, named locks, HANDLERs, table locks, XA.

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
