package proxy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A CALL, or a statement that calls a stored function, runs code the statement's text does not
// show, so it pins the session (routine) — unless the server's own copy of that code proves it
// harmless. After such a statement the session reads the bodies of the routines it ran from
// information_schema (with the modes of their parameters, and the sql_mode they were created
// with), on the connection it still holds, and analyses them as it analyses statements: a body
// whose every statement is understood and leaves no state the proxy cannot replay lets the
// connection go; the user variables it writes (and a CALL's OUT and INOUT arguments) are read
// back like any other. The bodies are read again after every such statement: a routine
// replaced behind the proxy is never judged by its old text.

// maxRoutineDepth bounds how deep the routines called by routines are followed.
const maxRoutineDepth = 4

// maxRoutineParams bounds the parameters read of one routine (a routine with more is unknown).
const maxRoutineParams = 256

// routine is what the proxy learnt of one stored routine.
type routine struct {
	body    []byte
	sqlMode string
	modes   []string // parameter modes in order: IN, OUT, INOUT (functions: none)
}

// proveRoutines decides, from the routines' bodies, whether the statement with effects e that
// ran on the held connection may leave the session unpinned; before is the session's pins from
// before the statement. An error is a broken connection.
func (s *Session) proveRoutines(e *effects, before PinReason) error {
	if before&PinRoutine != 0 || e.pins&PinRoutine == 0 || len(e.calls) == 0 || e.compound ||
		e.pins&(untilResetPins&^PinRoutine) != 0 {
		return nil
	}
	// Reading the bodies uses a table, which empties the diagnostics area, and sets FOUND_ROWS()
	// and ROW_COUNT(): the statement's warnings and values are read first, and answered from
	// the copy.
	s.diagDirty = s.diagDirty || s.pins&PinWarnings != 0
	if err := s.gather(); err != nil {
		return err
	}
	known := make(map[string]*routine)
	var body effects
	queue := qualify(e.calls, s.db)
	for depth := 0; len(queue) > 0; depth++ {
		if depth == maxRoutineDepth {
			return nil
		}
		found, err := s.readRoutines(queue)
		if err != nil {
			return err
		}
		var next []string
		for _, name := range queue {
			r := found[name]
			if r == nil {
				return nil // not readable (privileges, a UDF): it stays pinned
			}
			known[name] = r
			inner := s.r.parsers.bodyEffects(r, dbOf(name))
			if inner.pins&^PinRoutine != 0 || inner.pins&PinRoutine != 0 && len(inner.calls) == 0 {
				return nil
			}
			body.merge(&inner)
			for _, c := range qualify(inner.calls, dbOf(name)) {
				if known[c] == nil && !containsString(next, c) && !containsString(queue, c) {
					next = append(next, c)
				}
			}
		}
		queue = next
	}
	// Proven: what the bodies wrote is read back, with the CALL's OUT and INOUT arguments.
	for _, name := range body.assigned {
		s.readBack(name)
	}
	for name := range body.userVars {
		s.readBack(name) // a literal in the body, but did that branch run?
	}
	for _, a := range e.callArgs {
		if r := known[qualifyOne(a.routine, s.db)]; r != nil && a.pos < len(r.modes) && r.modes[a.pos] != "IN" {
			s.readBack(a.name)
		}
	}
	s.values.unsure |= unsureInsertID | unsureFoundRows | unsureRowCount
	s.pins &^= PinRoutine
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// qualify names routines "db.name", in db when they do not say.
func qualify(names []string, db string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, qualifyOne(n, db))
	}
	return out
}

func qualifyOne(name, db string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return db + "." + name
}

func dbOf(qualified string) string {
	db, _, _ := strings.Cut(qualified, ".")
	return db
}

// readRoutines reads the bodies, sql_modes and parameter modes of the named routines on the
// held connection, in one round trip.
func (s *Session) readRoutines(names []string) (map[string]*routine, error) {
	var in strings.Builder
	for i, n := range names {
		if i > 0 {
			in.WriteString(", ")
		}
		db, name, _ := strings.Cut(n, ".")
		fmt.Fprintf(&in, "(%s, %s)", quote(db, s.noBackslash()), quote(name, s.noBackslash()))
	}
	// The parameters come as rows of their own (a GROUP_CONCAT would be cut by the session's
	// group_concat_max_len, with a warning left in the diagnostics area the client reads).
	list := in.String()
	q := "SELECT 'r', CONCAT(ROUTINE_SCHEMA, '.', ROUTINE_NAME), ROUTINE_DEFINITION, SQL_MODE " +
		"FROM information_schema.ROUTINES WHERE (ROUTINE_SCHEMA, ROUTINE_NAME) IN (" + list + ") UNION ALL " +
		"SELECT 'p', CONCAT(SPECIFIC_SCHEMA, '.', SPECIFIC_NAME), ORDINAL_POSITION, PARAMETER_MODE " +
		"FROM information_schema.PARAMETERS WHERE (SPECIFIC_SCHEMA, SPECIFIC_NAME) IN (" + list + ") " +
		"AND ORDINAL_POSITION > 0" + noSelectLimit
	found := make(map[string]*routine, len(names))
	modes := make(map[string][]string, len(names))
	odd := make(map[string]bool)
	err := s.be.QueryRows(q, func(row []*string) error {
		if len(row) != 4 || row[0] == nil || row[1] == nil {
			return nil
		}
		name := strings.ToLower(*row[1])
		switch *row[0] {
		case "r":
			if row[2] != nil { // else a body the account may not read: unknown
				found[name] = &routine{body: []byte(*row[2]), sqlMode: deref(row[3])}
			}
		case "p":
			pos, err := strconv.Atoi(deref(row[2]))
			if err != nil || pos < 1 || pos > maxRoutineParams {
				odd[name] = true
				return nil
			}
			m := modes[name]
			for len(m) < pos {
				m = append(m, "")
			}
			m[pos-1] = deref(row[3])
			modes[name] = m
		}
		return nil
	})
	for name, r := range found {
		r.modes = modes[name]
		if odd[name] || slices.Contains(r.modes, "") {
			delete(found, name) // a parameter without its mode, or a gap: unknown, pinned
		}
	}
	if err != nil && isServerError(err) {
		return nil, nil // cannot read them: the statement stays pinned
	}
	return found, err
}

// bodyEffects analyses a stored routine's body: its statements as the session's, its control
// flow (labels, BEGIN ... END, IF, CASE, loops, handlers, cursors) followed to the statements
// inside, its local variables (SET x, SELECT ... INTO x) harmless.
func (p *parsers) bodyEffects(r *routine, db string) effects {
	ctx := &analysisCtx{db: db, sqlMode: r.sqlMode, hasTemp: true,
		mode: lexMode{noBackslash: strings.Contains(r.sqlMode, "NO_BACKSLASH_ESCAPES"),
			ansiQuotes: strings.Contains(r.sqlMode, "ANSI_QUOTES")},
		clientCharset: "utf8mb4", charset: "utf8mb4"}
	var e effects
	body := r.body
	for len(body) > 0 {
		sc := scanStatement(body, ctx.mode)
		piece := body[:sc.end]
		body = body[sc.end:]
		p.bodyStatement(&e, piece, ctx)
	}
	return e
}

// bodyStatement adds the effects of one ';'-separated piece of a body, after the control words
// that open or close blocks.
func (p *parsers) bodyStatement(e *effects, piece []byte, ctx *analysisCtx) {
	l := lexer{q: piece, mode: ctx.mode}
	for {
		t := l.peek()
		if t.kind == tokEnd || l.punct(t, ';') {
			return
		}
		switch {
		case t.kind == tokWord && l.punct(l.peek2(), ':') && !l.followedByAssign2():
			l.next() // a label
			l.next()
		case l.isAnyWord(t, "BEGIN"):
			l.next()
			skipWords(&l, "NOT", "ATOMIC")
		case l.isAnyWord(t, "END"):
			l.next()
			if l.isAnyWord(l.peek(), "IF", "LOOP", "WHILE", "REPEAT", "CASE", "FOR") {
				l.next()
			}
			if l.peek().kind == tokWord {
				l.next() // END LOOP label
			}
		case l.isAnyWord(t, "ELSE", "LOOP", "REPEAT"):
			l.next()
		case l.isAnyWord(t, "IF", "ELSEIF", "WHILE", "WHEN", "UNTIL", "CASE"):
			// A condition, to THEN / DO (or END for UNTIL; WHEN for a CASE with a value):
			// its functions count like a statement's.
			l.next()
			start := l.pos
			end := p.skipCondition(&l)
			p.conditionEffects(e, piece[start:end], ctx)
		default:
			p.bodySimple(e, piece[t.start:], ctx)
			return
		}
	}
}

// followedByAssign2 reports whether the token after next starts ":=" (a label is "name:").
func (l *lexer) followedByAssign2() bool {
	peek := *l
	peek.next()
	c := peek.next()
	return c.end < len(l.q) && l.q[c.end] == '='
}

// skipCondition moves l past a control condition and returns where the condition ends.
func (p *parsers) skipCondition(l *lexer) int {
	depth := 0
	for {
		t := l.peek()
		switch {
		case t.kind == tokEnd:
			return t.start
		case l.punct(t, '('):
			depth++
		case l.punct(t, ')'):
			depth--
		case depth == 0 && (l.isAnyWord(t, "THEN", "DO", "END", "WHEN")):
			if l.isAnyWord(t, "THEN", "DO") {
				l.next()
			}
			return t.start
		}
		l.next()
	}
}

// conditionEffects adds what evaluating a condition may do (a function call).
func (p *parsers) conditionEffects(e *effects, cond []byte, ctx *analysisCtx) {
	sc := scanStatement(cond, ctx.mode)
	e.feats |= sc.feats
	p.applyFeatures(e, &sc)
}

// bodySimple adds the effects of a statement inside a body.
func (p *parsers) bodySimple(e *effects, stmt []byte, ctx *analysisCtx) {
	l := lexer{q: stmt, mode: ctx.mode}
	t := l.next()
	switch {
	case l.isAnyWord(t, "OPEN", "CLOSE", "FETCH", "LEAVE", "ITERATE", "SIGNAL", "RESIGNAL", "GOTO"):
		return
	case l.is(t, "RETURN"):
		p.conditionEffects(e, stmt[t.end:], ctx)
		return
	case l.is(t, "DECLARE"):
		p.declareEffects(e, &l, stmt, ctx)
		return
	}
	var inner effects
	p.analyzeInto(&inner, stmt, ctx, 1)
	if inner.kw == kwSet {
		// SET x = ... of a local variable reads as a system variable to the parser: those the
		// server tracks come back in the CALL's OK; only user variables and functions matter.
		inner.pins &^= PinUntracked
	}
	e.merge(&inner)
}

// declareEffects reads DECLARE: a cursor's query runs at OPEN, a handler's statement when its
// condition comes; variables and conditions do nothing (their DEFAULT is an expression).
func (p *parsers) declareEffects(e *effects, l *lexer, stmt []byte, ctx *analysisCtx) {
	for t := l.next(); t.kind != tokEnd; t = l.next() {
		switch {
		case l.is(t, "CURSOR"):
			if l.is(l.next(), "FOR") {
				p.bodySimple(e, stmt[l.pos:], ctx)
			}
			return
		case l.is(t, "HANDLER"):
			if !l.is(l.next(), "FOR") {
				e.pins |= PinUnknown
				return
			}
			// Conditions: SQLSTATE [VALUE] 'x', SQLWARNING, NOT FOUND, SQLEXCEPTION, numbers,
			// names, commas; the rest is the handler's statement.
			for {
				c := l.peek()
				if l.isAnyWord(c, "SQLSTATE", "VALUE", "SQLWARNING", "NOT", "FOUND", "SQLEXCEPTION") ||
					c.kind == tokString || c.kind == tokNumber || l.punct(c, ',') ||
					c.kind == tokWord && (l.punct(l.peek2(), ',') || !l.isStatementStart(c)) {
					l.next()
					continue
				}
				p.bodyStatement(e, stmt[c.start:], ctx)
				return
			}
		case l.is(t, "DEFAULT"):
			p.conditionEffects(e, stmt[t.end:], ctx)
			return
		}
	}
}

// isStatementStart reports whether word t can begin a statement (so a handler's conditions
// end before it).
func (l *lexer) isStatementStart(t token) bool {
	var word [maxWord]byte
	w := string(l.upper(t, &word))
	if keywords[w] != kwOther {
		return true
	}
	switch w {
	case "BEGIN", "IF", "CASE", "WHILE", "LOOP", "REPEAT", "OPEN", "CLOSE", "FETCH", "LEAVE",
		"ITERATE", "SIGNAL", "RESIGNAL", "RETURN", "DECLARE":
		return true
	}
	return false
}
