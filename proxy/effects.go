package proxy

// Step 1 of a statement's way through the router: from its text to what it may do to the
// session state of the connection it runs on. The verdict is positive: a statement is harmless
// only when every part of it is understood; anything else carries a pin (see settle.go), of
// which unknown_statement is the catch-all. Most statements (SELECT, INSERT, UPDATE, DELETE)
// get their effects from the lexical scan alone; the rare ones that may change session state
// are read further, by the lexer or the TiDB parser.

import "slices"

// keyword is the first keyword of a statement, as far as the router cares.
type keyword uint8

const (
	kwOther keyword = iota
	kwSelect
	kwInsert
	kwUpdate
	kwDelete
	kwReplace
	kwWith
	kwShow
	kwDescribe
	kwExplain
	kwBegin
	kwStart
	kwCommit
	kwRollback
	kwSavepoint
	kwRelease
	kwSet
	kwUse
	kwCreate
	kwDrop
	kwAlter
	kwTruncate
	kwRename
	kwLock
	kwUnlock
	kwPrepare
	kwExecute
	kwDeallocate
	kwCall
	kwDo
	kwHandler
	kwXA
	kwLoad
	kwFlush
	kwGrant
	kwRevoke
	kwAnalyze
	kwOptimize
	kwCheck
	kwRepair
	kwKill
	kwValues
	kwTable
	kwGet
	kwHarmless // statements that touch no session state: HELP, CHECKSUM, INSTALL, PURGE, ...
)

var keywords = map[string]keyword{
	"SELECT": kwSelect, "INSERT": kwInsert, "UPDATE": kwUpdate, "DELETE": kwDelete,
	"REPLACE": kwReplace, "WITH": kwWith, "SHOW": kwShow, "DESCRIBE": kwDescribe, "DESC": kwDescribe,
	"EXPLAIN": kwExplain, "BEGIN": kwBegin, "START": kwStart, "COMMIT": kwCommit,
	"ROLLBACK": kwRollback, "SAVEPOINT": kwSavepoint, "RELEASE": kwRelease, "SET": kwSet,
	"USE": kwUse, "CREATE": kwCreate, "DROP": kwDrop, "ALTER": kwAlter, "TRUNCATE": kwTruncate,
	"RENAME": kwRename, "LOCK": kwLock, "UNLOCK": kwUnlock, "PREPARE": kwPrepare,
	"EXECUTE": kwExecute, "DEALLOCATE": kwDeallocate, "CALL": kwCall, "DO": kwDo,
	"HANDLER": kwHandler, "XA": kwXA, "LOAD": kwLoad, "FLUSH": kwFlush, "GRANT": kwGrant,
	"REVOKE": kwRevoke, "ANALYZE": kwAnalyze, "OPTIMIZE": kwOptimize, "CHECK": kwCheck,
	"REPAIR": kwRepair, "KILL": kwKill, "VALUES": kwValues, "TABLE": kwTable, "GET": kwGet,
	"HELP": kwHarmless, "CHECKSUM": kwHarmless, "CACHE": kwHarmless, "INSTALL": kwHarmless,
	"UNINSTALL": kwHarmless, "PURGE": kwHarmless, "CHANGE": kwHarmless, "STOP": kwHarmless,
	"RESET": kwHarmless, "SHUTDOWN": kwHarmless, "SIGNAL": kwHarmless, "RESIGNAL": kwHarmless,
}

// effects is what a statement (every statement of a multi-statement together) may do to the
// session state of its connection, and what it reads of it.
type effects struct {
	kw keyword // of the first statement
	// forKW is the kind of the statement SET STATEMENT ... FOR runs (kw is kwSet).
	forKW keyword
	multi bool   // more than one statement
	feats uint32 // every statement's features together
	// pins are the reasons the statement leaves if it ran; settle keeps each until its cause
	// ends. PinUnknown marks a statement the proxy does not understand.
	pins PinReason
	// assigned are user variables written with values the proxy cannot know from the text
	// (SELECT ... INTO @x, @x := ..., SET @x = <expression>): their values are read back from
	// the server before the connection goes back.
	assigned []string
	// readsInsertIDUnknown: LAST_INSERT_ID(expr) outside INSERT/UPDATE, whose value no OK
	// packet reports: read back too.
	setsInsertID bool
	// explains: the statement's own kind accounts for a "session state changed" report.
	explains bool
	// diagOnly: the statement only reads the diagnostics area (SHOW WARNINGS, SELECT
	// @@warning_count), leaving it as it was.
	diagOnly bool
	showDiag showDiagForm // SHOW WARNINGS / ERRORS: which form
	kill     bool         // a KILL
	load     bool         // LOAD DATA: may read the client's file
	ddl      bool         // may change table definitions (prepared statement metadata)
	release  bool         // COMMIT/ROLLBACK ... RELEASE: the server closes the connection
	// stmtVars are variables SET STATEMENT sets for one statement: what tracking reports of
	// them is not the session's.
	stmtVars []string
	// calls are the stored routines run ("name" or "db.name"); callArgs the user variables a
	// CALL passes, which its OUT and INOUT parameters write (routines.go).
	calls    []string
	callArgs []callArg
	compound bool // BEGIN NOT ATOMIC: code no routine body proves harmless

	// Effects applied when the statement succeeds.
	userVars     map[string]string // user variables set to values known exactly (SQL to replay)
	collation    string            // SET NAMES ... COLLATE x: not reported by session tracking
	namesSet     bool              // SET NAMES, SET CHARACTER SET, SET character_set_results:
	names        string            // the collation they leave on character_set_results (see namesKey)
	clientSet    bool              // SET NAMES, SET CHARACTER SET, SET character_set_client:
	client       string            // the collation they leave on character_set_client (see clientKey)
	charsetSet   bool              // a character set or collation variable set: later literals are read in it
	tempCreate   []string          // temporary tables created
	tempDrop     []string          // tables dropped that may be temporary
	tempUnknown  bool              // a temporary table the proxy could not name
	lockNames    []string          // GET_LOCK names
	lockUnknown  bool              // a GET_LOCK whose name is computed
	releasesLock bool              // RELEASE_LOCK, RELEASE_ALL_LOCKS
	unlockTables bool
	handlerOpen  []string // HANDLER ... OPEN names
	handlerClose []string
	prepare      string   // PREPARE name
	prepared     *effects // the effects of its text; nil when not known
	runs         *effects // EXECUTE: the effects of the statement it runs; nil when not known
	noTables     bool     // a FLUSH that names no table
	deallocate   string
	xaEnd        bool
	xaIdle       bool // XA END: the connection refuses prepares until the transaction ends
	savepoint    bool // SAVEPOINT
	endsTx       bool // COMMIT, ROLLBACK (not ROLLBACK TO): no savepoint is left
}

func (e *effects) has(f uint32) bool { return e.feats&f != 0 }

// showDiagForm tells SHOW WARNINGS (or ERRORS) from SHOW COUNT(*) WARNINGS, which the server
// runs as a SELECT: it sets FOUND_ROWS() to 1, the list leaves it.
type showDiagForm uint8

const (
	showDiagNone showDiagForm = iota
	showDiagList
	showDiagCount
)

// What a statement does to FOUND_ROWS(), which a direct connection keeps between statements.
type foundRowsEffect uint8

const (
	// frUnknown: only the connection can tell afterwards, so before the statement it must
	// carry the session's value (sync): whatever the statement did or did not do, reading it
	// back then gives the session's.
	frUnknown foundRowsEffect = iota
	// frNone: the statement never sets it (an allow-list: INSERT, REPLACE, UPDATE and DELETE
	// of one table and without a SELECT, SET, DO, transaction control, ...), failed or not.
	frNone
	// frRows: a SELECT alone, without SQL_CALC_FOUND_ROWS, INTO, an offset or a set
	// operation: the rows it sent (to its error, if it failed sending them); left as it was
	// if it failed before sending a result set.
	frRows
)

func (e *effects) foundRows() foundRowsEffect {
	if e.multi || e.pins&(PinRoutine|PinUnknown) != 0 {
		return frUnknown
	}
	switch e.kw {
	case kwSelect, kwWith:
		if !e.has(featCalcFoundRows | featAssignVar | featInto | featRowsUnclear) {
			return frRows
		}
	case kwShow:
		switch e.showDiag {
		case showDiagList:
			return frNone
		case showDiagCount:
			return frRows
		}
	case kwInsert, kwReplace, kwUpdate, kwDelete, kwDo, kwBegin, kwStart, kwCommit, kwRollback,
		kwSavepoint, kwRelease, kwUse, kwPrepare, kwDeallocate, kwLock, kwUnlock, kwXA,
		kwCreate, kwDrop, kwAlter, kwTruncate, kwRename, kwGrant, kwRevoke:
		if !e.has(featSelect | featMultiTable) {
			return frNone
		}
	case kwSet:
		if len(e.stmtVars) == 0 && !e.has(featSelect) {
			return frNone
		}
	}
	return frUnknown
}

// plainRead reports whether the statement is proven a plain read: a SELECT (or WITH, VALUES,
// TABLE) alone, that writes nothing (no INTO), locks nothing (no FOR UPDATE / SHARE, LOCK IN
// SHARE MODE, named locks), calls no stored function or sequence, and pins nothing. Only such a
// statement may go to a replica.
func (e *effects) plainRead() bool {
	return isSelectKind(e.kw) && !e.multi && e.pins == 0 && len(e.assigned) == 0 && !e.setsInsertID &&
		!e.has(featInto|featLockingRead|featLock|featGetLock|featReleaseLock|featSequence|featStoredFn|featKill)
}

// harmlessRead reports whether a statement a rule sends to a replica may go there: a plain
// read, or a SHOW / DESCRIBE / EXPLAIN that pins nothing.
func (e *effects) harmlessRead() bool {
	return e.plainRead() || (e.kw == kwShow || e.kw == kwDescribe || e.kw == kwExplain) && !e.multi && e.pins == 0
}

// writes reports whether the statement may write (read-your-writes starts from it).
func (e *effects) writes() bool {
	if e.plainRead() {
		return false
	}
	switch e.kw {
	case kwSet, kwUse, kwShow, kwDescribe, kwExplain, kwBegin, kwStart, kwRollback, kwSavepoint,
		kwRelease, kwKill, kwHarmless:
		return e.multi
	}
	return true
}

// usesTables reports whether the statement may use a table, and so start a new diagnostics area
// (MariaDB keeps the previous statement's warnings through statements that use none).
func (e *effects) usesTables() bool {
	k := e.kind()
	switch {
	case e.multi:
		return true
	case k == kwPrepare:
		// PREPARE and EXECUTE open the tables of the text they prepare or run (PREPARE's own
		// FROM is no table): one that uses none leaves the area as it was (MariaDB 10.11).
		return e.prepared == nil || e.prepared.usesTables()
	case k == kwExecute:
		return e.runs == nil || e.runs.usesTables()
	case e.has(featFrom):
		return true
	case k == kwFlush:
		return !e.noTables // FLUSH TABLES WITH READ LOCK, FLUSH STATUS: none
	}
	switch k {
	case kwSelect, kwSet, kwDo, kwBegin, kwStart, kwCommit, kwRollback, kwSavepoint, kwRelease,
		kwUse, kwValues, kwXA, kwUnlock, kwDeallocate, kwKill:
		return false
	}
	return true
}

// callArg is a user variable passed to a CALL at position pos.
type callArg struct {
	routine, name string
	pos           int
}

// analysisCtx is what the analysis needs to know of the session.
type analysisCtx struct {
	db        string
	hasTemp   bool
	mode      lexMode // NO_BACKSLASH_ESCAPES, ANSI_QUOTES
	sqlMode   string  // the session's sql_mode, for the parser
	foldNames bool    // lower_case_table_names is not 0: table names are case-insensitive
	// The character sets a string literal is read in (client) and converted to (connection).
	clientCharset, charset, collation string
	// prepared returns the effects of a text PREPAREd under name; nil when not known.
	prepared func(name string) *effects
}

// maxNesting bounds EXECUTE IMMEDIATE / PREPARE texts analysed inside each other.
const maxNesting = 4

// effectsOf analyses query q.
func (p *parsers) effectsOf(q []byte, ctx *analysisCtx) effects {
	var e effects
	p.analyzeInto(&e, q, ctx, 0)
	return e
}

// analyzeInto adds the effects of every statement of q to e.
func (p *parsers) analyzeInto(e *effects, q []byte, ctx *analysisCtx, depth int) {
	for n := 0; len(q) > 0; n++ {
		sc := scanStatement(q, ctx.mode)
		if n == 0 {
			e.kw = sc.kw // nested statements fill their own effects (see nested)
		}
		stmt := q[:sc.end]
		q = q[sc.end:]
		if sc.kw == kwOther && emptyStatement(stmt, ctx.mode) {
			if n == 0 && depth == 0 && len(q) == 0 {
				return // an empty query: the server refuses it, nothing runs
			}
			continue
		}
		if n > 0 {
			e.multi = true
		}
		p.statement(e, stmt, &sc, ctx, depth)
	}
}

// emptyStatement reports whether q holds no token but ';'.
func emptyStatement(q []byte, mode lexMode) bool {
	l := lexer{q: q, mode: mode}
	for t := l.next(); t.kind != tokEnd; t = l.next() {
		if !l.punct(t, ';') {
			return false
		}
	}
	return true
}

// statement adds the effects of one statement.
func (p *parsers) statement(e *effects, q []byte, sc *stmtScan, ctx *analysisCtx, depth int) {
	e.feats |= sc.feats
	features := true // whether the statement's features (functions, INTO, ...) apply
	switch sc.kw {
	case kwSelect, kwWith, kwValues, kwTable, kwDo, kwInsert, kwUpdate, kwDelete, kwReplace,
		kwDescribe, kwExplain, kwStart, kwSavepoint, kwRelease, kwAnalyze, kwOptimize, kwCheck,
		kwRepair, kwGrant, kwRevoke, kwHarmless:
		if sc.kw == kwSelect && sc.has(featDiagnostics) && !sc.has(featFrom) && sc.feats&^(featDiagnostics|featSelect) == 0 {
			e.diagOnly = true
		}
		e.savepoint = e.savepoint || sc.kw == kwSavepoint
	case kwShow:
		e.diagOnly = sc.has(featDiagnostics)
		if sf, ok := showWarningsForm(q); ok {
			e.showDiag = showDiagList
			if sf.count {
				e.showDiag = showDiagCount
			}
		}
	case kwLoad:
		e.load = true
	case kwKill:
		e.kill = true
	case kwUse:
		e.explains = true
	case kwBegin:
		if sc.secondIs(q, "NOT") {
			e.pins |= PinRoutine // BEGIN NOT ATOMIC ... END: a block of any statements
			e.compound = true
		}
	case kwCommit, kwRollback:
		var to bool
		e.release, to = commitRelease(q, ctx)
		e.endsTx = !to
	case kwSet:
		e.explains = true
		if inner, vars, ok := setStatementInner(q, ctx); ok {
			// SET STATEMENT var = value FOR stmt: the variables last one statement (session
			// tracking reports their passing values, which are not the session's).
			e.stmtVars = append(e.stmtVars, vars...)
			e.forKW = kwOther
			if in := p.nested(e, inner, ctx, depth); in != nil {
				e.forKW = in.kind()
			}
			return
		}
		p.planSet(e, q, ctx)
	case kwCreate:
		features = p.planCreate(e, q, sc, ctx)
	case kwDrop:
		p.planDrop(e, q, ctx)
	case kwAlter, kwTruncate, kwRename:
		e.ddl = true
	case kwLock:
		e.explains = true
		if sc.secondIs(q, "TABLES", "TABLE") {
			e.pins |= PinLockTables
			e.unlockTables = false // after an UNLOCK TABLES of the same text: locked
		} else {
			e.pins |= PinUnknown
		}
	case kwUnlock:
		e.explains = true
		e.unlockTables = sc.secondIs(q, "TABLES", "TABLE")
	case kwFlush:
		e.noTables = !flushNamesTables(q, ctx)
		if sc.has(featLock) || sc.has(featExport) {
			e.pins |= PinLockTables // FLUSH TABLES WITH READ LOCK, FLUSH TABLES t FOR EXPORT
			e.unlockTables = false
		}
	case kwHandler:
		planHandler(e, q, ctx)
	case kwPrepare:
		e.explains = true
		p.planPrepare(e, q, ctx, depth)
	case kwDeallocate:
		e.explains = true
		planDeallocate(e, q, ctx)
	case kwExecute:
		e.explains = true
		p.planExecute(e, q, ctx, depth)
	case kwCall:
		e.pins |= PinRoutine
		planCall(e, q, ctx)
	case kwXA:
		e.pins |= PinXA
		e.xaEnd = sc.secondIs(q, "COMMIT", "ROLLBACK")
		e.xaIdle = sc.secondIs(q, "END")
	case kwGet:
		if !sc.has(featDiagnostics) {
			e.pins |= PinUnknown
			break
		}
		e.diagOnly = true
		// GET DIAGNOSTICS @n = NUMBER writes user variables.
		for _, name := range assignedInGet(q, ctx) {
			e.assign(name)
			e.diagOnly = false
		}
	default:
		e.pins |= PinUnknown
	}
	if features {
		p.applyFeatures(e, sc)
	}
}

// setPrepare and setDeallocate record the statement name a PREPARE or DEALLOCATE names. A
// statement that does either more than once (a multi-statement) is not followed name by name:
// it pins until reset.
func (e *effects) setPrepare(name string) {
	e.onePrepare()
	e.prepare = name
}

func (e *effects) setDeallocate(name string) {
	e.onePrepare()
	e.deallocate = name
}

func (e *effects) onePrepare() {
	if e.prepare != "" || e.deallocate != "" {
		e.pins |= PinPrepare | PinUnknown
	}
}

// later records that a statement did to name what list says (create, open), undoing what an
// earlier one of the same multi-statement did in other (drop, close): settle applies each list
// as a whole, so DROP TEMPORARY TABLE t; CREATE TEMPORARY TABLE t must leave t recorded.
func later(list, other []string, name string) ([]string, []string) {
	other = slices.DeleteFunc(other, func(n string) bool { return n == name })
	if !slices.Contains(list, name) {
		list = append(list, name)
	}
	return list, other
}

// assignedVars lists the user variables the statement writes.
func (e *effects) assignedVars() []string {
	names := slices.Clone(e.assigned)
	for name := range e.userVars {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// mayChangeInsertID reports whether the statement may change LAST_INSERT_ID() in a way its OK
// packet does not tell exactly: several statements, code the text does not show, an explicit
// LAST_INSERT_ID(expr), or an INSERT whose reported id may be an explicit one (which leaves
// LAST_INSERT_ID() as it was), however it is run (EXECUTE, SET STATEMENT ... FOR, CREATE ...
// SELECT, LOAD DATA). Only the kinds listed here are known not to.
func (e *effects) mayChangeInsertID() bool {
	if e.multi || e.setsInsertID || e.pins&(PinRoutine|PinUnknown) != 0 {
		return true
	}
	switch e.kind() {
	case kwSelect, kwWith, kwValues, kwTable, kwShow, kwDescribe, kwExplain, kwUpdate, kwDelete, kwDo,
		kwBegin, kwStart, kwCommit, kwRollback, kwSavepoint, kwRelease, kwUse, kwLock, kwUnlock,
		kwPrepare, kwDeallocate, kwHandler, kwXA, kwGet, kwKill, kwFlush, kwHarmless, kwSet:
		return false
	}
	return true
}

// applyFeatures adds what the functions and clauses found anywhere in the statement do.
func (p *parsers) applyFeatures(e *effects, sc *stmtScan) {
	if sc.has(featStoredFn) {
		e.pins |= PinRoutine
	}
	if sc.has(featSequence) {
		e.pins |= PinSequence
	}
	if sc.has(featGetLock) {
		e.pins |= PinGetLock
		e.lockNames = append(e.lockNames, sc.lockNames...)
		e.lockUnknown = e.lockUnknown || sc.lockUnknown
	}
	if sc.has(featReleaseLock) {
		e.releasesLock = true
	}
	if sc.has(featSetLastInsertID) && sc.kw != kwInsert && sc.kw != kwUpdate && sc.kw != kwReplace {
		e.setsInsertID = true // no OK packet reports it
	}
	if len(sc.assigned) > 0 {
		if sc.kw == kwSet {
			// planSet sorted this SET's own assignments (literal or read back) in order.
			e.assigned = append(e.assigned, sc.assigned...)
		} else {
			e.assign(sc.assigned...)
		}
		e.explains = true
	}
	for _, c := range sc.calls {
		if !containsString(e.calls, c) {
			e.calls = append(e.calls, c)
		}
	}
}

// nested adds the effects of a statement text run by another (EXECUTE IMMEDIATE, SET
// STATEMENT ... FOR) and returns them: beyond maxNesting it is unknown (nil).
func (p *parsers) nested(e *effects, q []byte, ctx *analysisCtx, depth int) *effects {
	if depth+1 > maxNesting {
		e.pins |= PinUnknown
		return nil
	}
	inner := &effects{}
	p.analyzeInto(inner, q, ctx, depth+1)
	e.merge(inner)
	return inner
}

// kind is the kind of statement that runs: the one SET STATEMENT ... FOR wraps, else kw.
func (e *effects) kind() keyword {
	if e.kw == kwSet && len(e.stmtVars) > 0 {
		return e.forKW
	}
	return e.kw
}

// assign records user variables written with values to read back: a literal an earlier
// statement of the same text set them to (e.userVars) is no longer their value.
func (e *effects) assign(names ...string) {
	e.assigned = append(e.assigned, names...)
	for _, n := range names {
		delete(e.userVars, n)
	}
}

// merge adds o's effects to e.
func (e *effects) merge(o *effects) {
	e.feats |= o.feats
	e.pins |= o.pins
	e.multi = e.multi || o.multi
	e.charsetSet = e.charsetSet || o.charsetSet
	e.assign(o.assigned...)
	e.setsInsertID = e.setsInsertID || o.setsInsertID
	e.explains = e.explains || o.explains
	e.kill = e.kill || o.kill
	e.load = e.load || o.load
	e.ddl = e.ddl || o.ddl
	e.release = e.release || o.release
	e.stmtVars = append(e.stmtVars, o.stmtVars...)
	for _, c := range o.calls {
		if !containsString(e.calls, c) {
			e.calls = append(e.calls, c)
		}
	}
	e.compound = e.compound || o.compound
	if o.runs != nil {
		e.runs = o.runs
	}
	e.callArgs = append(e.callArgs, o.callArgs...)
	for k, v := range o.userVars {
		if e.userVars == nil {
			e.userVars = make(map[string]string, len(o.userVars))
		}
		e.userVars[k] = v
	}
	if o.collation != "" {
		e.collation = o.collation
	}
	if o.clientSet {
		e.clientSet, e.client = true, o.client
	}
	if o.namesSet {
		e.namesSet, e.names = true, o.names
	}
	for _, t := range o.tempDrop {
		e.tempDrop, e.tempCreate = later(e.tempDrop, e.tempCreate, t)
	}
	for _, t := range o.tempCreate {
		e.tempCreate, e.tempDrop = later(e.tempCreate, e.tempDrop, t)
	}
	e.tempUnknown = e.tempUnknown || o.tempUnknown
	e.lockNames = append(e.lockNames, o.lockNames...)
	e.lockUnknown = e.lockUnknown || o.lockUnknown
	e.releasesLock = e.releasesLock || o.releasesLock
	// A later statement decides: EXECUTE IMMEDIATE 'UNLOCK TABLES'; EXECUTE IMMEDIATE 'LOCK
	// TABLES t WRITE' leaves a lock.
	if o.pins&PinLockTables != 0 {
		e.unlockTables = false
	}
	e.unlockTables = e.unlockTables || o.unlockTables
	for _, h := range o.handlerClose {
		e.handlerClose, e.handlerOpen = later(e.handlerClose, e.handlerOpen, h)
	}
	for _, h := range o.handlerOpen {
		e.handlerOpen, e.handlerClose = later(e.handlerOpen, e.handlerClose, h)
	}
	e.xaEnd = e.xaEnd || o.xaEnd
	e.xaIdle = e.xaIdle || o.xaIdle
	e.savepoint = e.savepoint || o.savepoint
	if o.prepare != "" || o.deallocate != "" || o.pins&PinPrepare != 0 {
		// Nested PREPAREs are not followed name by name: the names stay until reset.
		e.pins |= PinPrepare | PinUnknown
	}
}
