package proxy

// One lexical pass over one statement, allocation-free for ordinary statements: its first
// words, where it ends in a multi-statement, and every feature that decides whether the
// statement may leave state on its connection. Errs towards reporting a feature (which pins),
// never towards missing one.

// Features found in a statement.
const (
	featStoredFn        uint32 = 1 << iota // a call of a function that is not built in
	featStoredFnSelect                     // featStoredFn after a SELECT (CREATE TABLE ... SELECT)
	featGetLock                            // GET_LOCK(
	featReleaseLock                        // RELEASE_LOCK( / RELEASE_ALL_LOCKS(
	featSequence                           // NEXTVAL, LASTVAL, SETVAL, NEXT/PREVIOUS VALUE FOR
	featLastInsertID                       // reads LAST_INSERT_ID() or @@last_insert_id
	featSetLastInsertID                    // LAST_INSERT_ID(expr) sets it
	featFoundRows                          // FOUND_ROWS(
	featRowCount                           // ROW_COUNT(
	featCalcFoundRows                      // SQL_CALC_FOUND_ROWS
	featAssignVar                          // a user variable written: INTO @x or @x :=
	featDiagnostics                        // WARNINGS, ERRORS, DIAGNOSTICS, @@warning_count, @@error_count
	featLastGTID                           // reads @@last_gtid
	featTemporary                          // TEMPORARY
	featLock                               // LOCK as a word (FLUSH TABLES WITH READ LOCK)
	featExport                             // EXPORT as a word (FLUSH TABLES t FOR EXPORT)
	featKill                               // KILL as a word
	featFrom                               // FROM as a word
	featSelect                             // SELECT as a word
	featConnectionID                       // CONNECTION_ID(): the server thread of the moment
	featReleaseAll                         // RELEASE_ALL_LOCKS(
	featLockingRead                        // FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE
	featInto                               // INTO (of a SELECT: variables, OUTFILE, DUMPFILE)
	// featRowsUnclear: a part after which FOUND_ROWS() is not the rows a SELECT sent (UNION,
	// INTERSECT, EXCEPT, an offset, WITH ROLLUP).
	featRowsUnclear
	// featMultiTable: an UPDATE or DELETE of several tables (JOIN, USING, a table list), which
	// sets FOUND_ROWS() as a SELECT does.
	featMultiTable
)

// stmtScan is what the pass found.
type stmtScan struct {
	kw     keyword // the first keyword
	second token   // the second word, if any (tokEnd if none)
	feats  uint32
	end    int // where the statement ends: after its ';', or the end of the text
	// assigned are the user variables the statement writes outside SET (INTO @x, @x := ...);
	// nil for most statements.
	assigned []string
	// lockNames are the GET_LOCK names given as string literals; lockUnknown: a GET_LOCK whose
	// name is computed.
	lockNames   []string
	lockUnknown bool
	// calls are the functions called that are not built in ("name" or "db.name", lower-case).
	calls []string
}

func (s *stmtScan) has(f uint32) bool { return s.feats&f != 0 }

// secondIs reports whether the statement's second word (q is the statement) is one of ws.
func (s *stmtScan) secondIs(q []byte, ws ...string) bool {
	l := lexer{q: q}
	return l.isAnyWord(s.second, ws...)
}

// storedFn records a call of a function that is not built in.
func (s *stmtScan) storedFn(name string) {
	s.feats |= featStoredFn
	if s.has(featSelect) {
		s.feats |= featStoredFnSelect
	}
	if !containsString(s.calls, name) {
		s.calls = append(s.calls, name)
	}
}

// identName is an identifier token's name, lower-case, quotes removed.
func identName(q []byte, t token) string {
	name := q[t.start:t.end]
	if t.kind == tokQuoted {
		name = unquoteIdent(name)
	}
	return lowerString(name)
}

// scanStatement scans the statement at the start of q.
func scanStatement(q []byte, mode lexMode) stmtScan {
	l := lexer{q: q, mode: mode}
	sc := stmtScan{second: token{kind: tokEnd}}
	var word [maxWord]byte
	depth, words := 0, 0
	// Compound statements (a stored routine's body, BEGIN NOT ATOMIC) hold ';' inside
	// BEGIN ... END: blocks counts the open ones, in such statements only.
	compound, blocks := false, 0
	// The three tokens before t, newest first.
	var p1, p2, p3 token
	setSeen := false // the SET of an UPDATE: a table list ends there
	for t := l.next(); ; p3, p2, p1, t = p2, p1, t, l.next() {
		switch t.kind {
		case tokEnd:
			sc.end = len(q)
			return sc
		case tokPunct:
			switch q[t.start] {
			case '(':
				depth++
			case ')':
				depth = max(depth-1, 0)
			case ';':
				if depth == 0 && blocks <= 0 {
					sc.end = t.end
					return sc
				}
			case ',':
				if depth == 0 && sc.kw == kwUpdate && !setSeen {
					sc.feats |= featMultiTable
				}
			case ':':
				if t.end < len(q) && q[t.end] == '=' && p1.kind == tokUserVar {
					sc.feats |= featAssignVar
					sc.assigned = append(sc.assigned, userVarName(q, p1))
				}
			}
			continue
		case tokSysVar:
			sc.feats |= sysVarFeature(q[t.start:t.end])
			continue
		case tokQuoted:
			if l.followedByParen() && !namesTable(&l, p1) {
				if l.punct(p1, '.') && p2.kind != tokEnd {
					sc.storedFn(identName(q, p2) + "." + identName(q, t))
				} else {
					sc.storedFn(identName(q, t))
				}
			}
			continue
		case tokWord:
		default:
			continue
		}
		words++
		w := l.upper(t, &word)
		switch words {
		case 1:
			sc.kw = keywords[string(w)]
		case 2:
			sc.second = t
			if sc.kw == kwBegin && string(w) == "NOT" {
				compound, blocks = true, 1 // BEGIN NOT ATOMIC opens a block
			}
			if sc.kw == kwDelete && string(w) != "FROM" {
				sc.feats |= featMultiTable // DELETE t1 FROM ..., or modifiers: not proven one table
			}
		}
		switch string(w) {
		case "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE":
			compound = compound || (sc.kw == kwCreate && depth == 0)
		case "BEGIN", "CASE":
			if compound {
				blocks++
			}
		case "END":
			if compound && !l.isAnyWord(l.peek(), "IF", "LOOP", "WHILE", "REPEAT", "FOR") {
				blocks--
			}
		case "INTO":
			sc.feats |= featInto
			sc.into(&l)
		case "FOR":
			if l.isAnyWord(l.peek(), "UPDATE", "SHARE") {
				sc.feats |= featLockingRead
			}
		case "NEXT", "PREVIOUS":
			if l.is(l.peek(), "VALUE") {
				sc.feats |= featSequence
			}
		case "SET":
			setSeen = setSeen || depth == 0
		case "LIMIT":
			if l.punct(l.peek2(), ',') {
				sc.feats |= featRowsUnclear // LIMIT offset, count
			}
		case "UNION", "INTERSECT", "EXCEPT", "OFFSET", "ROLLUP":
			sc.feats |= featRowsUnclear
		case "JOIN", "STRAIGHT_JOIN", "USING":
			sc.feats |= featMultiTable
		default:
			sc.feats |= featureWord(w)
		}
		if !l.followedByParen() {
			continue
		}
		if l.punct(p1, '.') {
			// db.f( is always a stored function, unless db.t names a table (INSERT INTO db.t (...)).
			if !namesTable(&l, p3) {
				sc.storedFn(identName(q, p2) + "." + identName(q, t))
			}
			continue
		}
		switch builtins[string(w)] {
		case 0:
			if !namesTable(&l, p1) {
				sc.storedFn(identName(q, t))
			}
		case fnGetLock:
			sc.feats |= featGetLock
			sc.getLock(&l)
		case fnReleaseLock:
			sc.feats |= featReleaseLock
		case fnReleaseAll:
			sc.feats |= featReleaseLock | featReleaseAll
		case fnSequence:
			sc.feats |= featSequence
		case fnLastInsertID:
			sc.feats |= featLastInsertID
			if !l.punct(l.peek2(), ')') {
				sc.feats |= featSetLastInsertID
			}
		case fnFoundRows:
			sc.feats |= featFoundRows
		case fnRowCount:
			sc.feats |= featRowCount
		case fnConnectionState:
			sc.feats |= featConnectionID
		}
	}
}

// featureWord returns the feature a word (upper-cased) marks, 0 for most words.
func featureWord(w []byte) uint32 {
	switch string(w) {
	case "SQL_CALC_FOUND_ROWS":
		return featCalcFoundRows
	case "WARNINGS", "ERRORS", "DIAGNOSTICS":
		return featDiagnostics
	case "TEMPORARY":
		return featTemporary
	case "LOCK":
		return featLock // LOCK IN SHARE MODE is read by plainRead through featLock too
	case "EXPORT":
		return featExport
	case "KILL":
		return featKill
	case "FROM":
		return featFrom
	case "SELECT":
		return featSelect
	}
	return 0
}

// sysVarFeature classifies a read of @@name.
func sysVarFeature(v []byte) uint32 {
	name := v[2:]
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			name = name[i+1:]
			break
		}
	}
	switch {
	case equalFold(name, "last_insert_id"), equalFold(name, "identity"):
		return featLastInsertID
	case equalFold(name, "warning_count"), equalFold(name, "error_count"):
		return featDiagnostics
	case readsLastGTID(v):
		return featLastGTID
	}
	return 0
}

// equalFold reports whether b equals the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// into records the user variables an INTO writes (INTO @a, @b).
func (sc *stmtScan) into(l *lexer) {
	peek := *l
	for t := peek.next(); t.kind == tokUserVar; t = peek.next() {
		sc.feats |= featAssignVar
		sc.assigned = append(sc.assigned, userVarName(l.q, t))
		if !peek.punct(peek.next(), ',') {
			return
		}
	}
}

// getLock records the name of the GET_LOCK whose "(" comes next: a string literal, or unknown.
func (sc *stmtScan) getLock(l *lexer) {
	peek := *l
	peek.next() // "("
	name := peek.next()
	if name.kind == tokString && peek.punct(peek.next(), ',') {
		sc.lockNames = append(sc.lockNames, decodeString(l.q[name.start:name.end], l.mode.noBackslash))
		return
	}
	sc.lockUnknown = true
}

// userVarName is the name of a @name token, lower-cased, quotes removed.
func userVarName(q []byte, t token) string {
	name := q[t.start+1 : t.end]
	if len(name) >= 2 && (name[0] == '\'' || name[0] == '"' || name[0] == '`') {
		name = unquoteIdent(name)
	}
	return lowerString(name)
}

func lowerString(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// unquoteIdent strips the quotes of a quoted name and undoubles the quote inside.
func unquoteIdent(q []byte) []byte {
	quote := q[0]
	inner := q[1 : len(q)-1]
	out := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); i++ {
		if inner[i] == quote && i+1 < len(inner) && inner[i+1] == quote {
			i++
		}
		out = append(out, inner[i])
	}
	return out
}

// decodeString returns the value of a quoted string literal, with MariaDB's escapes.
func decodeString(lit []byte, noBackslash bool) string {
	quote := lit[0]
	inner := lit[1:max(len(lit)-1, 1)]
	out := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == quote && i+1 < len(inner) && inner[i+1] == quote:
			i++
		case c == '\\' && !noBackslash && i+1 < len(inner):
			i++
			switch c = inner[i]; c {
			case '0':
				c = 0
			case 'b':
				c = '\b'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'Z':
				c = 26
			case '%', '_':
				out = append(out, '\\')
			}
		}
		out = append(out, c)
	}
	return string(out)
}

// namesTable reports whether a name before "(" whose preceding token is p names a table, a
// view or a column list rather than a function: INSERT INTO t (...), CREATE TABLE t (...),
// REFERENCES t (...), WITH cte (...) AS, a derived table's column list. l is positioned at the
// name.
func namesTable(l *lexer, p token) bool {
	var word [maxWord]byte
	switch string(l.upper(p, &word)) {
	case "INTO", "INSERT", "REPLACE", "IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY",
		"TABLE", "EXISTS", "REFERENCES", "ON", "INDEX", "KEY", "CONSTRAINT", "VIEW", "PARTITION",
		"WITH", "RECURSIVE":
		return true
	}
	// A column list followed by AS: WITH a (x) AS (...), b (y) AS (...).
	peek := *l
	peek.next() // "("
	for depth := 1; depth > 0; {
		t := peek.next()
		switch {
		case t.kind == tokEnd:
			return false
		case peek.punct(t, '('):
			depth++
		case peek.punct(t, ')'):
			depth--
		}
	}
	return peek.is(peek.next(), "AS")
}
