package proxy

import (
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"
)

// SET statements are read with the TiDB parser: system variables are reported by session
// tracking (only the collation of SET NAMES ... COLLATE is not), user variables set to literals
// are recorded byte for byte, any other user variable assignment is read back from the server.

// parsers is a pool of TiDB parsers: one costs ~21 KB and 11 µs to make, and a session needs
// one only for the rare statements that are parsed.
type parsers struct{ pool sync.Pool }

// parse parses one statement under the session's sql_mode (quoting and escapes depend on it).
func (p *parsers) parse(sql, sqlMode string) (ast.StmtNode, error) {
	sql = unwrapExecutable(sql)
	ps, _ := p.pool.Get().(*parser.Parser)
	if ps == nil {
		ps = parser.New()
	}
	defer p.pool.Put(ps)
	ps.SetSQLMode(parserMode(sqlMode))
	return ps.ParseOneStmt(sql, "", "")
}

// parserMode keeps the sql_mode flags that change how a statement is read.
func parserMode(sqlMode string) mysql.SQLMode {
	var m mysql.SQLMode
	for f := range strings.SplitSeq(strings.ToUpper(sqlMode), ",") {
		switch f {
		case "ANSI_QUOTES":
			m |= mysql.ModeANSIQuotes
		case "NO_BACKSLASH_ESCAPES":
			m |= mysql.ModeNoBackslashEscapes
		case "PIPES_AS_CONCAT":
			m |= mysql.ModePipesAsConcat
		case "HIGH_NOT_PRECEDENCE":
			m |= mysql.ModeHighNotPrecedence
		case "IGNORE_SPACE":
			m |= mysql.ModeIgnoreSpace
		}
	}
	return m
}

func (p *parsers) planSet(e *effects, q []byte, ctx *analysisCtx) {
	stmt, err := p.parse(string(q), ctx.sqlMode)
	if err != nil {
		e.pins |= PinUnknown
		return
	}
	set, ok := stmt.(*ast.SetStmt)
	if !ok {
		if _, pwd := stmt.(*ast.SetPwdStmt); !pwd {
			e.pins |= PinUnknown // SET ROLE and the like: not replayed
		}
		return
	}
	for _, v := range set.Variables {
		switch {
		case v.IsGlobal || v.IsInstance:
		case v.Name == ast.SetNames || v.Name == ast.SetCharset:
			e.charsetSet = true
			e.namesSet, e.names = true, ""
			e.clientSet, e.client = true, ""
			if v.Name == ast.SetNames && v.ExtendValue != nil {
				e.collation = strings.ToLower(v.ExtendValue.GetString())
				e.names, e.client = e.collation, e.collation
			}
		case v.IsSystem:
			name := strings.ToLower(v.Name)
			if unreplayable(name) {
				e.pins |= PinUntracked
			}
			if strings.HasPrefix(name, "character_set_") || strings.HasPrefix(name, "collation_") {
				e.charsetSet = true
			}
			if name == "character_set_results" {
				e.namesSet, e.names = true, "" // back to the character set's default collation
			}
			if name == "character_set_client" {
				e.clientSet, e.client = true, ""
			}
		default:
			name := strings.ToLower(v.Name)
			lit, ok := literalSQL(v.Value, ctx)
			if !ok || e.charsetSet {
				// An expression, or a literal read in a character set this statement (or an
				// earlier one of the same multi-statement) changes: the server's value is read
				// back.
				e.assigned = append(e.assigned, name)
				delete(e.userVars, name) // the last assignment wins
				continue
			}
			if e.userVars == nil {
				e.userVars = make(map[string]string)
			}
			e.userVars[name] = lit
			e.assigned = slices.DeleteFunc(e.assigned, func(n string) bool { return n == name })
		}
	}
}

// literalSQL returns the SQL that sets a user variable to exactly the value of a constant
// expression (a literal, a negated number, a string with COLLATE), or false. Strings are
// written as hex with their character set and collation, so replaying them does not depend on
// the sql_mode or character set of the connection they are replayed on.
func literalSQL(e ast.ExprNode, ctx *analysisCtx) (string, bool) {
	collate := ""
	if c, ok := e.(*ast.SetCollationExpr); ok {
		collate, e = strings.ToLower(c.Collate), c.Expr
	}
	switch x := e.(type) {
	case *test_driver.ValueExpr:
		switch x.Kind() {
		case test_driver.KindNull:
			// NULL keeps the type the variable had (a DOUBLE stays a DOUBLE): read back.
			return "", false
		case test_driver.KindString:
			return stringLiteralSQL(x, collate, ctx), true
		case test_driver.KindBytes, test_driver.KindBinaryLiteral, test_driver.KindMysqlBit:
			// X'..', 0x.., b'..': a binary string, or with an introducer a string of its
			// character set (and that set's default collation, unless COLLATE says).
			data := "X'" + hex.EncodeToString(x.GetBytes()) + "'"
			if x.Type.GetFlag()&mysql.UnderScoreCharsetFlag != 0 {
				data = "_" + mariaCharset(x.Type.GetCharset()) + " " + data
				if collate != "" {
					data += " COLLATE `" + collate + "`"
				}
				return data, true
			}
			if collate != "" {
				return "", false
			}
			return data, true
		}
	case *ast.UnaryOperationExpr:
		if _, ok := x.V.(*test_driver.ValueExpr); !ok || (x.Op != opcode.Minus && x.Op != opcode.Plus) {
			return "", false
		}
	default:
		return "", false
	}
	if collate != "" {
		return "", false
	}
	var b strings.Builder
	if err := e.Restore(format.NewRestoreCtx(format.RestoreKeyWordUppercase, &b)); err != nil {
		return "", false
	}
	return b.String(), true
}

// stringLiteralSQL writes a string literal's bytes with the character set it has: its
// introducer's, or the connection's (converted from the client's, as the server converts it),
// with the connection's collation ("" for its character set's default).
func stringLiteralSQL(v *test_driver.ValueExpr, collate string, ctx *analysisCtx) string {
	data := "X'" + hex.EncodeToString(v.GetBytes()) + "'"
	var sql string
	switch {
	case v.Type.GetFlag()&mysql.UnderScoreCharsetFlag != 0:
		sql = "_" + mariaCharset(v.Type.GetCharset()) + " " + data
	case ctx.clientCharset == ctx.charset:
		sql = "_" + ctx.charset + " " + data
		if collate == "" {
			collate = ctx.collation
		}
	default:
		sql = "CONVERT(_" + ctx.clientCharset + " " + data + " USING " + ctx.charset + ")"
		if collate == "" {
			collate = ctx.collation
		}
	}
	if collate != "" {
		sql += " COLLATE `" + collate + "`"
	}
	return sql
}

// mariaCharset names a character set as MariaDB does (the parser says utf8 for N'...').
func mariaCharset(cs string) string {
	if cs == "utf8" {
		return "utf8mb3"
	}
	return cs
}

// unwrapExecutable strips an executable comment that wraps a whole statement, as mysqldump writes
// them ("/*!40101 SET ... */", MariaDB's "/*M!100100 ... */"): the server runs the content, and
// the parser does not know the MariaDB form.
func unwrapExecutable(sql string) string {
	t := strings.TrimSpace(sql)
	var rest string
	switch {
	case strings.HasPrefix(t, "/*!"):
		rest = t[3:]
	case strings.HasPrefix(t, "/*M!"), strings.HasPrefix(t, "/*m!"):
		rest = t[4:]
	default:
		return sql
	}
	rest = strings.TrimLeft(rest, "0123456789")
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(rest, ";")), "*/"))
	return rest
}
