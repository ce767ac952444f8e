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
		return atom{sql: g.sub(fmt.Sprintf("SELECT SQL_CALC_FOUND_ROWS id FROM $T WHERE v > %d ORDER BY id LIMIT %d", n, g.pick(3))), cls: cd}
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
	switch g.pick(6) {
	case 0:
		return atom{sql: "PREPARE " + name + " FROM 'SELECT ? + 1, @v1'", eff: func(g *gen) { g.prepared[name] = true }}
	case 4:
		// A text the proxy cannot read: what p_exec last ran (NULL, a refused PREPARE, before).
		return atom{sql: "PREPARE " + name + " FROM @pq", eff: func(g *gen) { g.prepared[name] = true }}
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
