package parity

import "strings"

// The forms an atom is put into, the comments put between its tokens, and COM_CHANGE_USER.

// changeUser queues a COM_CHANGE_USER: to either account, one time in three with a wrong password
// or an unknown database (the server keeps the connection; so must the proxy).
func (g *gen) changeUser() {
	u, p, db := oneOf(g, mariadbUser, otherUser), "", oneOf(g, dbMain, dbMain, dbOther, "")
	if u == mariadbUser {
		p = mariadbPass
	} else {
		p = otherPass
	}
	ok := true
	switch g.pick(6) {
	case 0:
		p, ok = "wrong", false
	case 1:
		db, ok = "nosuchdb", false
	}
	g.push(Step{Op: OpChangeUser, User: u, Pass: p, DB: db}, 0)
	if ok {
		g.db = ""
		g.startOver(db)
	}
}

// Accounts clients change to (those of internal/mariadbtest, which the proxy's test config has).
const (
	mariadbUser = "app"
	mariadbPass = "secret"
	otherUser   = "other"
	otherPass   = "secret2"
)

// unplainAtom draws an atom that may go into another form.
func (g *gen) unplainAtom() atom {
	if a := g.atom(); !a.plainOnly {
		return a
	}
	return g.dmlAtom()
}

// statement queues one atom in one of the forms.
func (g *gen) statement() {
	a := g.atom()
	switch w := g.pick(100); {
	case w < 66 || a.plainOnly:
		g.plain(a)
	case w < 72:
		g.immediate(a)
	case w < 77:
		g.textPrepare(a)
	case w < 82:
		g.setStatement(a)
	case w < 94:
		g.multi(a)
	default:
		g.push(Step{Op: OpQuery, SQL: oneOf(g, "/*!40101 ", "/*M!100100 ", "/*!") + a.sql + " */"}, a.cls)
		a.apply(g)
	}
}

func (g *gen) plain(a atom) {
	g.push(Step{Op: OpQuery, SQL: g.comments(a.sql)}, a.cls)
	a.apply(g)
}

// quote makes a string literal that reads the same with and without NO_BACKSLASH_ESCAPES as long
// as s has no backslash.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (g *gen) immediate(a atom) {
	q := "EXECUTE IMMEDIATE " + quote(a.sql)
	if g.chance(20) {
		q = "EXECUTE IMMEDIATE CONCAT(" + quote(a.sql) + ", '')"
	}
	g.push(Step{Op: OpQuery, SQL: g.comments(q)}, a.cls)
	a.apply(g)
}

func (g *gen) textPrepare(a atom) {
	name := oneOf(g, "s1", "s2", "s3")
	prep := "PREPARE " + name + " FROM " + quote(a.sql)
	if g.chance(15) {
		v := oneOf(g, "@ps1", "@ps2")
		g.plain(atom{sql: "SET " + v + " = " + quote(a.sql), eff: setVar(v)})
		prep = "PREPARE " + name + " FROM " + v
	}
	g.prepared[name] = true
	if g.multiOn && g.chance(25) {
		// ends with DEALLOCATE, a statement that uses no table: it leaves the diagnostics area
		// of the EXECUTE, which a reader must not rely on (late_diagnostics)
		g.push(Step{Op: OpQuery, SQL: prep + "; EXECUTE " + name + "; DEALLOCATE PREPARE " + name}, 0)
		delete(g.prepared, name)
		a.apply(g)
		return
	}
	g.push(Step{Op: OpQuery, SQL: g.comments(prep)}, 0)
	for range 1 + g.pick(2) {
		g.push(Step{Op: OpQuery, SQL: g.comments("EXECUTE " + name)}, a.cls)
	}
	a.apply(g)
	if g.chance(60) {
		g.push(Step{Op: OpQuery, SQL: oneOf(g, "DEALLOCATE PREPARE ", "DROP PREPARE ") + name}, 0)
		delete(g.prepared, name)
	}
}

// setStatementVars are the variables SET STATEMENT … FOR sets for one statement.
var setStatementVars = []string{
	"sql_mode=''", "sql_mode='NO_BACKSLASH_ESCAPES'", "max_heap_table_size=65536", "div_precision_increment=9",
	"time_zone='+05:00'", "sql_select_limit=1", "group_concat_max_len=4", "sql_mode='ANSI_QUOTES', div_precision_increment=1",
}

func (g *gen) setStatement(a atom) {
	g.push(Step{Op: OpQuery, SQL: g.comments("SET STATEMENT " + oneOf(g, setStatementVars...) + " FOR " + a.sql)}, a.cls)
	a.apply(g)
}

// multi joins the atom with one to three others in one COM_QUERY, at a random position.
func (g *gen) multi(a atom) {
	parts := []atom{a}
	for range 1 + g.pick(3) {
		parts = append(parts, g.unplainAtom())
	}
	g.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	var sqls []string
	for _, p := range parts {
		sqls = append(sqls, p.sql)
		p.apply(g)
	}
	g.push(Step{Op: OpQuery, SQL: g.comments(strings.Join(sqls, oneOf(g, "; ", ";", ";\n", " ; ")))}, parts[len(parts)-1].cls)
}

// comments puts comments between some tokens (never inside quotes) of one statement in ten.
func (g *gen) comments(sql string) string {
	if !g.chance(10) {
		return sql
	}
	var b strings.Builder
	var quoteCh byte
	for i := 0; i < len(sql); i++ {
		ch := sql[i]
		switch {
		case quoteCh != 0:
			if ch == quoteCh {
				quoteCh = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quoteCh = ch
		case ch == ' ' && g.chance(30):
			b.WriteString(oneOf(g, " /*c*/ ", " /* x; y */ ", "/**/", " -- note\n", " #c\n", "\n"))
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}
