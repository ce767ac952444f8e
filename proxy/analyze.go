package proxy

import (
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"
)

// plan is what the router decides about one COM_QUERY before it runs, and the bookkeeping to do
// if it succeeds. Most statements (SELECT, INSERT, ...) get a plan from the lexical scan alone;
// only statements that may change session state are parsed.
type plan struct {
	info stmtInfo
	// pins are added before the statement runs and stay until their cause ends.
	pins PinReason
	// explainsStateChange: the statement's own kind accounts for a "session state changed"
	// report from the server (SET, USE, temporary tables, PREPARE, ...). Any other statement that
	// changes untracked state pins the session.
	explainsStateChange bool

	// Effects, applied only if the statement succeeds.
	userVars     map[string]string // literal user variable assignments
	collation    string            // SET NAMES ... COLLATE x: not reported by session tracking
	tempCreate   []string          // temporary tables created (db.name)
	tempDrop     []string          // tables dropped that may be temporary (db.name)
	unknownTemp  bool              // a temporary table we could not name
	prepare      string            // PREPARE name
	deallocate   string            // DEALLOCATE PREPARE name
	unknownPrep  bool
	lockNames    []string // GET_LOCK names
	unknownLock  bool     // a GET_LOCK whose name is not a literal
	releasesLock bool
	unlockTables bool
	xaEnd        bool
}

// parsers is a pool of TiDB parsers: one costs ~21 KB and 11 µs to make, and a session needs
// one only for the rare statements that are parsed.
type parsers struct{ pool sync.Pool }

func (p *parsers) parse(sql string) (ast.StmtNode, error) {
	sql = unwrapExecutable(sql)
	ps, _ := p.pool.Get().(*parser.Parser)
	if ps == nil {
		ps = parser.New()
	}
	defer p.pool.Put(ps)
	return ps.ParseOneStmt(sql, "", "")
}

// analyze builds the plan for query q (without the command byte) in a session whose default
// database is db; hasTemp says whether the session has temporary tables (only then is DROP
// parsed).
func (p *parsers) analyze(q []byte, db string, hasTemp bool) plan {
	return p.planFor(classify(q), q, db, hasTemp)
}

// planFor is analyze for a statement already classified as info (a prepared statement's, at
// each EXECUTE).
func (p *parsers) planFor(info stmtInfo, q []byte, db string, hasTemp bool) plan {
	pl := plan{info: info}
	if info.has(featMulti) {
		// Each statement's effects cannot be followed; the server's state-change report decides.
		pl.userVarPins()
		return pl
	}
	switch info.kw {
	case kwSelect, kwInsert, kwUpdate, kwDelete, kwReplace, kwWith, kwShow, kwDescribe, kwExplain,
		kwBegin, kwStart, kwCommit, kwRollback, kwSavepoint, kwRelease, kwAlter, kwTruncate,
		kwRename, kwGrant, kwRevoke, kwAnalyze, kwOptimize, kwCheck, kwRepair, kwKill, kwValues,
		kwTable, kwDo, kwCall, kwLoad:
	case kwUse:
		pl.explainsStateChange = true
	case kwSet:
		pl.explainsStateChange = true
		if secondWord(q) == "STATEMENT" { // SET STATEMENT ... FOR: lasts one statement
			break
		}
		p.planSet(&pl, q)
	case kwCreate:
		if info.has(featTemporary) {
			pl.explainsStateChange = true
			pl.pins |= PinTempTable
			p.planCreateTemp(&pl, q, db)
		}
	case kwDrop:
		switch secondWord(q) {
		case "PREPARE":
			pl.explainsStateChange = true
			p.planPrepare(&pl, q)
		case "TEMPORARY", "TABLE", "TABLES":
			pl.explainsStateChange = true
			if hasTemp {
				p.planDrop(&pl, q, db)
			}
		}
	case kwFlush:
		if info.has(featLock) {
			pl.pins |= PinLockTables
		}
	case kwLock:
		pl.explainsStateChange = true
		pl.pins |= PinLockTables
	case kwUnlock:
		pl.explainsStateChange = true
		pl.unlockTables = secondWord(q) == "TABLES" || secondWord(q) == "TABLE"
	case kwPrepare, kwDeallocate:
		pl.explainsStateChange = true
		pl.pins |= PinPrepare
		p.planPrepare(&pl, q)
	case kwExecute:
		pl.explainsStateChange = true
	case kwXA:
		pl.pins |= PinXA
		w := secondWord(q)
		pl.xaEnd = w == "COMMIT" || w == "ROLLBACK"
	case kwGet:
		if !info.has(featDiagnostics) { // GET DIAGNOSTICS reads, the rest is unknown
			pl.pins |= PinOther
		}
	default:
		pl.pins |= PinOther
	}
	if info.kw != kwSet {
		pl.userVarPins()
	}
	if info.has(featSetLastInsertID) && info.kw != kwUpdate && info.kw != kwInsert {
		// SELECT LAST_INSERT_ID(5) sets the value without an OK packet to report it.
		pl.pins |= PinUntracked
	}
	if info.has(featGetLock) {
		pl.pins |= PinGetLock
		p.planGetLock(&pl, q)
	}
	pl.releasesLock = info.has(featReleaseLock)
	return pl
}

// userVarPins pins statements that write user variables outside SET (reads are replayed).
func (pl *plan) userVarPins() {
	if pl.info.has(featAssignVar) {
		pl.pins |= PinUserVariable
	}
}

func (p *parsers) planSet(pl *plan, q []byte) {
	stmt, err := p.parse(string(q))
	if err != nil {
		pl.pins |= PinSet
		return
	}
	set, ok := stmt.(*ast.SetStmt)
	if !ok {
		if _, pwd := stmt.(*ast.SetPwdStmt); !pwd {
			pl.pins |= PinSet // SET ROLE and the like: not replayed
		}
		return
	}
	for _, v := range set.Variables {
		switch {
		case v.IsGlobal || v.IsInstance:
		case v.Name == ast.SetNames:
			if v.ExtendValue != nil {
				pl.collation = strings.ToLower(v.ExtendValue.GetString())
			}
		case v.Name == ast.SetCharset:
		case v.IsSystem:
			if unreplayable(strings.ToLower(v.Name)) {
				pl.pins |= PinUntracked
			}
		default:
			lit, ok := literalSQL(v.Value)
			if !ok {
				pl.pins |= PinUserVariable
				continue
			}
			if pl.userVars == nil {
				pl.userVars = make(map[string]string)
			}
			pl.userVars[strings.ToLower(v.Name)] = lit
		}
	}
}

// literalSQL returns the SQL of a constant expression (a literal, a negated literal, a literal
// with COLLATE), or false.
func literalSQL(e ast.ExprNode) (string, bool) {
	switch x := e.(type) {
	case *test_driver.ValueExpr:
	case *ast.UnaryOperationExpr:
		if _, ok := x.V.(*test_driver.ValueExpr); !ok || (x.Op != opcode.Minus && x.Op != opcode.Plus) {
			return "", false
		}
	case *ast.SetCollationExpr:
		if _, ok := x.Expr.(*test_driver.ValueExpr); !ok {
			return "", false
		}
	default:
		return "", false
	}
	var b strings.Builder
	// No charset introducer: the literal is replayed after the session's character set.
	flags := format.RestoreStringSingleQuotes | format.RestoreKeyWordUppercase | format.RestoreStringWithoutCharset
	if err := e.Restore(format.NewRestoreCtx(flags, &b)); err != nil {
		return "", false
	}
	return b.String(), true
}

func qualified(tn *ast.TableName, db string) string {
	schema := tn.Schema.L
	if schema == "" {
		schema = strings.ToLower(db)
	}
	return schema + "." + tn.Name.L
}

func (p *parsers) planCreateTemp(pl *plan, q []byte, db string) {
	stmt, err := p.parse(string(q))
	ct, ok := stmt.(*ast.CreateTableStmt)
	if err != nil || !ok || ct.TemporaryKeyword == ast.TemporaryNone {
		pl.unknownTemp = true
		return
	}
	pl.tempCreate = append(pl.tempCreate, qualified(ct.Table, db))
}

func (p *parsers) planDrop(pl *plan, q []byte, db string) {
	stmt, err := p.parse(string(q))
	dt, ok := stmt.(*ast.DropTableStmt)
	if err != nil || !ok {
		return // the temporary tables stay recorded: still pinned, which is safe
	}
	for _, t := range dt.Tables {
		pl.tempDrop = append(pl.tempDrop, qualified(t, db))
	}
}

func (p *parsers) planPrepare(pl *plan, q []byte) {
	stmt, err := p.parse(string(q))
	if err != nil {
		pl.unknownPrep = true
		return
	}
	switch s := stmt.(type) {
	case *ast.PrepareStmt:
		pl.prepare = strings.ToLower(s.Name)
	case *ast.DeallocateStmt:
		pl.deallocate = strings.ToLower(s.Name)
	default:
		pl.unknownPrep = true
	}
}

// lockVisitor collects the literal names passed to GET_LOCK.
type lockVisitor struct {
	names   []string
	unknown bool
}

func (v *lockVisitor) Enter(n ast.Node) (ast.Node, bool) {
	if f, ok := n.(*ast.FuncCallExpr); ok && f.FnName.L == "get_lock" {
		if len(f.Args) > 0 {
			if ve, ok := f.Args[0].(*test_driver.ValueExpr); ok && ve.Kind() == test_driver.KindString {
				v.names = append(v.names, ve.GetString())
				return n, false
			}
		}
		v.unknown = true
	}
	return n, false
}

func (v *lockVisitor) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func (p *parsers) planGetLock(pl *plan, q []byte) {
	stmt, err := p.parse(string(q))
	if err != nil {
		pl.unknownLock = true
		return
	}
	var v lockVisitor
	stmt.Accept(&v)
	pl.lockNames, pl.unknownLock = v.names, v.unknown || len(v.names) == 0
}

// secondWord returns the second word of a statement, upper-cased (comments are not skipped:
// only used for statements whose first word was plain).
func secondWord(q []byte) string {
	fields := strings.Fields(strings.TrimLeft(string(q[:min(len(q), 64)]), " \t\r\n("))
	if len(fields) < 2 {
		return ""
	}
	w := fields[1]
	if i := strings.IndexAny(w, "(;`'\""); i >= 0 {
		w = w[:i]
	}
	return strings.ToUpper(w)
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
