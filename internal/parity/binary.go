package parity

import (
	"slices"
)

// binAtom is a statement for the binary protocol; args draws the values of its placeholders.
type binAtom struct {
	sql  string
	cls  uint8
	args func(g *gen) []any
	eff  func(*gen)
	// reads the diagnostics area the previous statement left: executed only when the
	// generator allows such a reader
	diag bool
}

// allowed reports whether executing b now stays out of the excluded features.
func (b binAtom) allowed(g *gen) bool {
	return !b.diag || g.diagAllowed()
}

func noArgs(*gen) []any { return nil }

func (g *gen) intArg() any { return int64(g.num()) }

func (g *gen) anyArg() any {
	return oneOf[any](g, int64(g.num()), "str", "ü", "", nil, 2.5, int64(-1), "a\\b")
}

// valueArg is anyArg without NULL: a user variable assigned a NULL parameter takes a type that
// depends on whether that server statement was executed before (README, "What is not supported
// yet"), which a statement shared through the pool cannot keep.
func (g *gen) valueArg() any {
	return oneOf[any](g, int64(g.num()), "str", "ü", "", 2.5, int64(-1), "a\\b")
}

// binAtoms are statements with placeholders; any other atom may be prepared too.
func (g *gen) binAtomPick() binAtom {
	one := func(f func(*gen) any) func(*gen) []any { return func(g *gen) []any { return []any{f(g)} } }
	intArg := func(g *gen) any { return g.intArg() }
	anyArg := func(g *gen) any { return g.anyArg() }
	lockArg := func(g *gen) any { return oneOf(g, g.n.K1, g.n.K2) }
	switch g.pick(16) {
	case 0:
		return binAtom{sql: "SELECT ? + 1", args: one(intArg)}
	case 1:
		return binAtom{sql: "SELECT CONCAT(?, 'x'), ?", args: func(g *gen) []any { return []any{g.anyArg(), g.anyArg()} }}
	case 2:
		return binAtom{sql: g.sub("INSERT INTO $T (v, s) VALUES (?, ?)"), cls: clsClearsDA,
			args: func(g *gen) []any { return []any{g.intArg(), oneOf[any](g, "p", "long string over sixteen", nil)} }}
	case 3:
		return binAtom{sql: g.sub("SELECT id, v, s FROM $T WHERE id > ? ORDER BY id LIMIT 2"), cls: clsClearsDA, args: one(intArg)}
	case 4:
		return binAtom{sql: "SELECT GET_LOCK(?, 0)", args: one(lockArg), eff: func(g *gen) { g.locks[g.n.K1] = true }}
	case 5:
		return binAtom{sql: "SELECT RELEASE_LOCK(?)", args: one(lockArg)}
	case 6:
		return binAtom{sql: oneOf(g, "SET @v1 = ?", "SELECT @v2 := ?", "SELECT ? INTO @v3"), args: one((*gen).valueArg), eff: setVar("@v1")}
	case 7:
		return binAtom{sql: g.sub("SELECT SQL_CALC_FOUND_ROWS id FROM $T ORDER BY id LIMIT 1"), cls: clsClearsDA, args: noArgs}
	case 8:
		return binAtom{sql: "CALL p_out(?, ?)", args: func(g *gen) []any { return []any{nil, g.intArg()} }}
	case 9:
		return binAtom{sql: "SELECT f_set(?)", args: one(intArg), eff: setVar("@fv")}
	case 10:
		return binAtom{sql: g.sub("UPDATE $U SET v = ? WHERE k = ?"), cls: clsClearsDA,
			args: func(g *gen) []any { return []any{g.intArg(), g.intArg()} }}
	case 11:
		return binAtom{sql: g.sub("DELETE FROM $T WHERE id < ? ORDER BY id LIMIT 1"), cls: clsClearsDA, args: one(intArg)}
	case 12:
		return binAtom{sql: "SELECT LAST_INSERT_ID(), ?", args: one(anyArg)}
	default:
		a := g.unplainAtom()
		return binAtom{sql: a.sql, cls: a.cls, args: noArgs, eff: a.eff}
	}
}

// binDiag are the diagnostics readers prepared (text and binary results of them must agree).
var binDiag = []string{"SELECT @@warning_count", "SHOW WARNINGS", "SHOW COUNT(*) WARNINGS", "SELECT @@error_count"}

// binary prepares, executes or closes a binary-protocol statement.
func (g *gen) binary() {
	if len(g.stmts) > 0 && g.chance(50) {
		hs := make([]int, 0, len(g.stmts))
		for h := range g.stmts {
			hs = append(hs, h)
		}
		slices.Sort(hs)
		h := hs[g.pick(len(hs))]
		b := g.stmts[h]
		if g.chance(25) || !b.allowed(g) {
			g.push(Step{Op: OpClose, Stmt: h}, clsReader)
			delete(g.stmts, h)
			return
		}
		g.push(Step{Op: OpExecute, Stmt: h, Args: b.args(g)}, b.cls)
		if b.eff != nil {
			b.eff(g)
		}
		return
	}
	g.nextHandle++
	h := g.nextHandle
	var b binAtom
	executions := 1 + g.pick(2)
	switch {
	case g.diagAllowed() && g.chance(15):
		b, executions = binAtom{sql: oneOf(g, binDiag...), args: noArgs, diag: true}, 1
	case g.chance(15):
		b, executions = binAtom{sql: "SELECT FOUND_ROWS()", args: noArgs}, 1
	default:
		b = g.binAtomPick()
	}
	// Preparing does not reset the diagnostics area a reader prepared right after would read.
	g.push(Step{Op: OpPrepare, Stmt: h, SQL: b.sql}, clsReader)
	g.stmts[h] = b
	for range executions {
		g.push(Step{Op: OpExecute, Stmt: h, Args: b.args(g)}, b.cls)
	}
	if b.eff != nil {
		b.eff(g)
	}
	if g.chance(30) {
		g.push(Step{Op: OpClose, Stmt: h}, clsReader)
		delete(g.stmts, h)
	}
}
