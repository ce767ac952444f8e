package proxy

import "strings"

// The statements whose effects depend on more than their features: read with the lexer, word
// by word. A form not recognised is unknown (it pins), never harmless.

// identAt reads a name at l's position: a word or a `quoted` identifier (a "quoted" one under
// ANSI_QUOTES is a string to this lexer, and so not a name: unknown).
func identAt(l *lexer) (string, bool) {
	t := l.next()
	switch t.kind {
	case tokWord:
		return string(l.q[t.start:t.end]), true
	case tokQuoted:
		return string(unquoteIdent(l.q[t.start:t.end])), true
	}
	return "", false
}

// tableNameAt reads a table name, db.name or name, and returns it as the proxy keys temporary
// tables: "db.name", case-folded when the server folds table names.
func tableNameAt(l *lexer, ctx *analysisCtx) (string, bool) {
	name, ok := identAt(l)
	if !ok {
		return "", false
	}
	db := ctx.db
	if l.punct(l.peek(), '.') {
		l.next()
		db = name
		if name, ok = identAt(l); !ok {
			return "", false
		}
	}
	key := db + "." + name
	if ctx.foldNames {
		key = strings.ToLower(key)
	}
	return key, true
}

// skipWords moves l past the words ws (in order, each optional), e.g. IF NOT EXISTS.
func skipWords(l *lexer, ws ...string) {
	for _, w := range ws {
		if l.is(l.peek(), w) {
			l.next()
		}
	}
}

// planCreate reads a CREATE statement; it returns whether the statement's features apply (a
// stored routine's or view's body does not run when it is created).
func (p *parsers) planCreate(e *effects, q []byte, sc *stmtScan, ctx *analysisCtx) bool {
	e.ddl = true
	l := lexer{q: q, mode: ctx.mode}
	l.next() // CREATE
	temporary := false
	for i := 0; i < 16; i++ {
		t := l.next()
		switch {
		case t.kind == tokEnd || l.punct(t, '('):
			return true
		case l.isAnyWord(t, "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE", "VIEW"):
			return false
		case l.is(t, "TEMPORARY"):
			temporary = true
		case l.is(t, "TABLE"):
			if !sc.has(featStoredFnSelect) {
				sc.feats &^= featStoredFn // a column default or check is not a stored function
			}
			if !temporary {
				return true
			}
			e.explains = true
			e.pins |= PinTempTable
			skipWords(&l, "IF", "NOT", "EXISTS")
			if name, ok := tableNameAt(&l, ctx); ok {
				e.tempCreate, e.tempDrop = later(e.tempCreate, e.tempDrop, name)
			} else {
				e.tempUnknown = true
			}
			return true
		}
	}
	return true
}

// planDrop reads DROP [TEMPORARY] TABLE and DROP PREPARE.
func (p *parsers) planDrop(e *effects, q []byte, ctx *analysisCtx) {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // DROP
	t := l.next()
	switch {
	case l.is(t, "PREPARE"):
		e.explains = true
		if name, ok := identAt(&l); ok {
			e.setDeallocate(strings.ToLower(name))
		}
		return
	case l.is(t, "TEMPORARY"):
		t = l.next()
	case !l.isAnyWord(t, "TABLE", "TABLES"):
		e.ddl = true
		return
	}
	e.ddl = true
	e.explains = true
	if !ctx.hasTemp {
		return
	}
	skipWords(&l, "TABLE")
	skipWords(&l, "IF", "EXISTS")
	for {
		name, ok := tableNameAt(&l, ctx)
		if !ok {
			return // the temporary tables stay recorded: still pinned, which is safe
		}
		e.tempDrop, e.tempCreate = later(e.tempDrop, e.tempCreate, name)
		if !l.punct(l.next(), ',') {
			return
		}
	}
}

// planHandler reads HANDLER name OPEN [[AS] alias] and HANDLER name CLOSE; HANDLER ... READ
// changes nothing.
func planHandler(e *effects, q []byte, ctx *analysisCtx) {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // HANDLER
	name, ok := identAt(&l)
	if ok && l.punct(l.peek(), '.') {
		l.next()
		name, ok = identAt(&l)
	}
	if !ok {
		e.pins |= PinUnknown
		return
	}
	if ctx.foldNames {
		name = strings.ToLower(name)
	}
	switch t := l.next(); {
	case l.is(t, "OPEN"):
		e.pins |= PinHandler
		skipWords(&l, "AS")
		if alias, ok := identAt(&l); ok {
			name = alias
			if ctx.foldNames {
				name = strings.ToLower(name)
			}
		}
		e.handlerOpen, e.handlerClose = later(e.handlerOpen, e.handlerClose, name)
	case l.is(t, "CLOSE"):
		e.handlerClose, e.handlerOpen = later(e.handlerClose, e.handlerOpen, name)
	case l.is(t, "READ"):
	default:
		e.pins |= PinUnknown
	}
}

// stringLiteralAt reads a string literal (adjacent literals concatenate, as in SQL); false for
// anything else, an introducer included (its bytes would need converting).
func stringLiteralAt(l *lexer) (string, bool) {
	t := l.next()
	if t.kind != tokString {
		return "", false
	}
	var b strings.Builder
	b.WriteString(decodeString(l.q[t.start:t.end], l.mode.noBackslash))
	for l.peek().kind == tokString {
		t = l.next()
		b.WriteString(decodeString(l.q[t.start:t.end], l.mode.noBackslash))
	}
	return b.String(), true
}

// planPrepare reads PREPARE name FROM 'text' (the text's effects are those of each EXECUTE)
// or FROM @var (not known).
func (p *parsers) planPrepare(e *effects, q []byte, ctx *analysisCtx, depth int) {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // PREPARE
	name, ok := identAt(&l)
	if !ok || !l.is(l.next(), "FROM") {
		e.pins |= PinUnknown | PinPrepare
		return
	}
	e.setPrepare(strings.ToLower(name))
	text, ok := stringLiteralAt(&l)
	if t := l.next(); !ok || (t.kind != tokEnd && !l.punct(t, ';')) || depth+1 > maxNesting {
		// A text the proxy cannot read (FROM @var, an expression): prepared stays nil, each
		// EXECUTE of it is unknown, and the PREPARE itself — refused or not — may have created
		// the user variables the text assigns, whose names the proxy does not know.
		e.pins |= PinUnknown
		return
	}
	inner := &effects{}
	p.analyzeInto(inner, []byte(text), ctx, depth+1)
	e.prepared = inner
}

// flushNamesTables reports whether a FLUSH names tables (FLUSH TABLES t1, t2 [WITH READ LOCK |
// FOR EXPORT]), which it opens; FLUSH TABLES WITH READ LOCK and the other flushes open none.
func flushNamesTables(q []byte, ctx *analysisCtx) bool {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // FLUSH
	t := l.next()
	if l.isAnyWord(t, "LOCAL", "NO_WRITE_TO_BINLOG") {
		t = l.next()
	}
	if !l.isAnyWord(t, "TABLE", "TABLES") {
		return false
	}
	t = l.next()
	return t.kind == tokQuoted || t.kind == tokWord && !l.isAnyWord(t, "WITH", "FOR")
}

// planDeallocate reads DEALLOCATE PREPARE name.
func planDeallocate(e *effects, q []byte, ctx *analysisCtx) {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // DEALLOCATE
	if !l.is(l.next(), "PREPARE") {
		e.pins |= PinUnknown
		return
	}
	if name, ok := identAt(&l); ok {
		e.setDeallocate(strings.ToLower(name))
	}
}

// planExecute reads EXECUTE IMMEDIATE 'text' and EXECUTE name [USING ...]: the effects of the
// text run, when the proxy knows it.
func (p *parsers) planExecute(e *effects, q []byte, ctx *analysisCtx, depth int) {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // EXECUTE
	if l.is(l.peek(), "IMMEDIATE") {
		l.next()
		text, ok := stringLiteralAt(&l)
		if t := l.next(); !ok || (t.kind != tokEnd && !l.punct(t, ';') && !l.is(t, "USING")) {
			e.pins |= PinUnknown
			return
		}
		e.runs = p.nested(e, []byte(text), ctx, depth)
		return
	}
	name, ok := identAt(&l)
	var inner *effects
	if ok && ctx.prepared != nil {
		inner = ctx.prepared(strings.ToLower(name))
	}
	if inner == nil {
		e.pins |= PinUnknown
		return
	}
	e.merge(inner)
	e.runs = inner
}

// planCall reads CALL [db.]name [(args)]: the routine, and the user variables passed as whole
// arguments (an OUT or INOUT parameter writes them).
func planCall(e *effects, q []byte, ctx *analysisCtx) {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // CALL
	t := l.next()
	if t.kind != tokWord && t.kind != tokQuoted {
		return
	}
	name := identName(q, t)
	if l.punct(l.peek(), '.') {
		l.next()
		if t = l.next(); t.kind != tokWord && t.kind != tokQuoted {
			return
		}
		name += "." + identName(q, t)
	}
	if !containsString(e.calls, name) {
		e.calls = append(e.calls, name)
	}
	if !l.punct(l.next(), '(') {
		return
	}
	depth, pos := 0, 0
	var only token // the argument's only token so far
	count := 0
	for t := l.next(); t.kind != tokEnd; t = l.next() {
		switch {
		case l.punct(t, '('):
			depth++
		case l.punct(t, ')') && depth > 0:
			depth--
		case depth == 0 && (l.punct(t, ',') || l.punct(t, ')')):
			if count == 1 && only.kind == tokUserVar {
				e.callArgs = append(e.callArgs, callArg{routine: name, pos: pos, name: userVarName(q, only)})
			}
			if l.punct(t, ')') {
				return
			}
			pos, count = pos+1, 0
			continue
		}
		only = t
		count++
	}
}

// commitRelease reports whether a COMMIT or ROLLBACK ends the connection (... RELEASE), and
// whether it is a ROLLBACK TO a savepoint, which ends no transaction.
func commitRelease(q []byte, ctx *analysisCtx) (release, to bool) {
	l := lexer{q: q, mode: ctx.mode}
	var prev token
	for t := l.next(); t.kind != tokEnd; prev, t = t, l.next() {
		release = release || l.is(t, "RELEASE") && !l.is(prev, "NO")
		to = to || l.is(t, "TO")
	}
	return release && !to, to
}

// setStatementInner returns the statement of SET STATEMENT var = value, ... FOR statement, and
// the variables it sets for that statement only.
func setStatementInner(q []byte, ctx *analysisCtx) (inner []byte, vars []string, ok bool) {
	l := lexer{q: q, mode: ctx.mode}
	l.next() // SET
	if !l.is(l.next(), "STATEMENT") {
		return nil, nil, false
	}
	depth := 0
	prev := token{kind: tokEnd}
	for t := l.next(); t.kind != tokEnd; prev, t = t, l.next() {
		switch {
		case l.punct(t, '('):
			depth++
		case l.punct(t, ')'):
			depth--
		case depth == 0 && l.punct(t, '=') && prev.kind == tokWord:
			vars = append(vars, lowerString(q[prev.start:prev.end]))
		case depth == 0 && l.punct(t, '=') && prev.kind == tokQuoted:
			vars = append(vars, lowerString(unquoteIdent(q[prev.start:prev.end]))) // `sql_mode`
		case depth == 0 && l.is(t, "FOR"):
			return q[t.end:], vars, true
		}
	}
	return []byte{}, vars, true // no FOR: the server refuses it
}

// assignedInGet returns the user variables GET DIAGNOSTICS writes (@n = NUMBER, ...).
func assignedInGet(q []byte, ctx *analysisCtx) []string {
	l := lexer{q: q, mode: ctx.mode}
	var names []string
	for t := l.next(); t.kind != tokEnd; t = l.next() {
		if t.kind == tokUserVar && l.punct(l.peek(), '=') {
			names = append(names, userVarName(q, t))
		}
	}
	return names
}
