package proxy

import (
	"bytes"
	"strconv"
)

// Some values a statement reads belong to the session but live on a connection it no longer
// holds, and cannot be set on another one: @@last_gtid (the server maintains it), FOUND_ROWS()
// and ROW_COUNT() (results of the previous statement), @@warning_count and @@error_count (of
// the diagnostics area the session kept a copy of). The proxy answers such reads from the
// session's own record by writing the value into the statement in place of the read. A read
// that is a whole select item keeps the column name a direct connection gives it
// (`SELECT FOUND_ROWS()` is still named FOUND_ROWS()).

// readKind is a value the proxy may write into a statement.
type readKind uint8

const (
	readNone readKind = iota
	readLastGTID
	readFoundRows
	readRowCount
	readWarningCount
	readErrorCount
)

// answer returns the literal for a read, or false to leave it to the server.
type answer func(readKind) (string, bool)

// sessionAnswer is the session's: last_gtid always (its record is the truth), the others only
// when the connection does not hold them.
func (s *Session) sessionAnswer(k readKind) (string, bool) {
	switch k {
	case readLastGTID:
		return "'" + s.lastGTID + "'", true
	case readFoundRows:
		return typedAs(strconv.FormatInt(s.values.foundRows, 10), "FOUND_ROWS()"), !s.values.foundRowsHere
	case readRowCount:
		return typedAs(strconv.FormatInt(s.values.rowCount, 10), "ROW_COUNT()"), !s.values.rowCountHere
	case readWarningCount:
		if s.warnings != nil {
			return typedAs("CAST("+strconv.Itoa(s.warnings.warningCount)+" AS UNSIGNED)", "@@warning_count"), true
		}
	case readErrorCount:
		if s.warnings != nil {
			return typedAs("CAST("+strconv.Itoa(s.warnings.errorCount)+" AS UNSIGNED)", "@@error_count"), true
		}
	}
	return "", false
}

// typedAs is the value v with the type of the read it replaces: MariaDB gives an IF() the type
// both branches fit in, so with read as the branch never taken the column (BIGINT(21), signed
// or not, nullable or not) and whatever is computed from it are what a direct connection shows;
// a bare literal would be an INT as wide as its digits.
func typedAs(v, read string) string {
	return "IF(TRUE, " + v + ", " + read + ")"
}

// answersNeeded reports whether a statement with effects e may read something the session
// answers.
func answersNeeded(e *effects) bool {
	return e.has(featLastGTID | featFoundRows | featRowCount | featDiagnostics)
}

// withAnswers returns the COM_QUERY pkt with the session's answers written in (pkt itself when
// there are none). The buffer is reused across statements.
func (s *Session) withAnswers(pkt []byte, mode lexMode) []byte {
	b, ok := rewriteReads(append(s.rewritten[:0], pkt[0]), pkt[1:], mode, s.sessionAnswer)
	if cap(b) <= 64<<10 {
		s.rewritten = b
	}
	if !ok {
		return pkt
	}
	return b
}

// readAt reports the kind of read at token t and the end of its text: @@name, or NAME().
func readAt(l *lexer, t token) (readKind, int) {
	q := l.q
	switch t.kind {
	case tokSysVar:
		v := q[t.start:t.end]
		if readsLastGTID(v) {
			return readLastGTID, t.end
		}
		if sessionScoped(v) {
			switch f := sysVarFeature(v); {
			case f == featDiagnostics && bytes.HasSuffix(bytes.ToLower(v), []byte("warning_count")):
				return readWarningCount, t.end
			case f == featDiagnostics:
				return readErrorCount, t.end
			}
		}
	case tokWord:
		var word [maxWord]byte
		k := readNone
		switch string(l.upper(t, &word)) {
		case "FOUND_ROWS":
			k = readFoundRows
		case "ROW_COUNT":
			k = readRowCount
		default:
			return readNone, 0
		}
		peek := *l
		if open := peek.next(); !peek.punct(open, '(') {
			return readNone, 0
		}
		if cl := peek.next(); peek.punct(cl, ')') {
			*l = peek
			return k, cl.end
		}
	}
	return readNone, 0
}

// sessionScoped reports whether @@[session.|local.]name reads the session's value.
func sessionScoped(v []byte) bool {
	name := v[2:]
	if i := bytes.IndexByte(name, '.'); i >= 0 {
		return equalFold(name[:i], "session") || equalFold(name[:i], "local")
	}
	return true
}

// readsLastGTID reports whether sysvar token text names the session's last_gtid.
func readsLastGTID(v []byte) bool {
	name := v[2:] // "@@"
	if i := bytes.IndexByte(name, '.'); i >= 0 {
		if !sessionScoped(v) {
			return false // @@global.last_gtid: the server refuses it, as it should
		}
		name = name[i+1:]
	}
	return equalFold(name, "last_gtid")
}

// selectModifiers may stand between SELECT and its first item.
var selectModifiers = map[string]bool{
	"SELECT": true, "DISTINCT": true, "ALL": true, "DISTINCTROW": true, "HIGH_PRIORITY": true,
	"STRAIGHT_JOIN": true, "SQL_SMALL_RESULT": true, "SQL_BIG_RESULT": true, "SQL_BUFFER_RESULT": true,
	"SQL_CACHE": true, "SQL_NO_CACHE": true, "SQL_CALC_FOUND_ROWS": true,
}

// selectListEnd are the words that end a select list.
var selectListEnd = map[string]bool{
	"FROM": true, "INTO": true, "WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true,
	"LIMIT": true, "UNION": true, "EXCEPT": true, "INTERSECT": true, "WINDOW": true, "FOR": true,
	"LOCK": true, "PROCEDURE": true,
}

// rewriteReads appends to dst the statement text q with the reads ans answers replaced, and
// reports whether it replaced any. Only the first statement of a multi-statement reads the
// values of the statement before it; in later ones only @@last_gtid is replaced, up to the first
// statement that may write (and so change it).
func rewriteReads(dst, q []byte, mode lexMode, ans answer) ([]byte, bool) {
	l := lexer{q: q, mode: mode}
	// inSelect[d]: the tokens at paren depth d are a select list (deeper is never treated as
	// one, so no alias is added there).
	var inSelect [16]bool
	var word [maxWord]byte
	depth, copied, stmt, found := 0, 0, 0, false
	writer := false // the current statement may write
	prev := token{kind: tokEnd}
	for t := l.next(); t.kind != tokEnd; prev, t = t, l.next() {
		switch {
		case l.punct(t, '('):
			depth++
			if depth < len(inSelect) {
				inSelect[depth] = false
			}
			continue
		case l.punct(t, ')'):
			depth = max(depth-1, 0)
			continue
		case l.punct(t, ';'):
			if depth == 0 {
				stmt++
				if writer {
					return finish(dst, q, copied, found)
				}
				inSelect = [16]bool{}
			}
			continue
		}
		if t.kind == tokWord {
			w := string(l.upper(t, &word))
			switch {
			case w == "SELECT" && depth < len(inSelect):
				inSelect[depth] = true
			case selectListEnd[w] && depth < len(inSelect):
				inSelect[depth] = false
			}
			if prev.kind == tokEnd || l.punct(prev, ';') {
				switch keywords[w] {
				case kwSelect, kwSet, kwDo, kwShow, kwValues, kwTable, kwWith:
				default:
					writer = true
				}
			}
		}
		start := t.start
		k, end := readAt(&l, t)
		if k == readNone || (stmt > 0 && k != readLastGTID) {
			continue
		}
		lit, ok := ans(k)
		if !ok {
			continue
		}
		found = true
		dst = append(append(dst, q[copied:start]...), lit...)
		copied = end
		if depth >= len(inSelect) || !inSelect[depth] {
			continue
		}
		// A whole select item without an alias: keep the name a direct connection gives it.
		before := l.punct(prev, ',') || selectModifiers[string(l.upper(prev, &word))]
		nt := l.peek()
		after := nt.kind == tokEnd || l.punct(nt, ',') || l.punct(nt, ';') || l.punct(nt, ')') ||
			selectListEnd[string(l.upper(nt, &word))]
		if before && after {
			name := itemName(q, &l, prev, start, end)
			dst = append(append(append(dst, " AS `"...), bytes.ReplaceAll(name, []byte("`"), []byte("``"))...), '`')
		}
	}
	return finish(dst, q, copied, found)
}

// itemName is the name MariaDB gives the select item whose read spans q[start:end] (prev is the
// token before it). After a comma the name starts at the first character that is not a space,
// so comments before the item are part of it (`SELECT 1, /* c */ @@warning_count` names the
// second column "/* c */ @@warning_count"), in the text as the server's lexer passes it on:
// without the markers of versioned comments (`/*!`, `/*M!` and their version). After SELECT or
// a modifier the name starts at the item.
func itemName(q []byte, l *lexer, prev token, start, end int) []byte {
	if !l.punct(prev, ',') {
		return q[start:end]
	}
	var name []byte
	for i := prev.end; i < end; {
		if q[i] == '/' && i+1 < end && q[i+1] == '*' {
			if n := executableCommentStart(q[i:end]); n > 0 {
				i += n
				continue
			}
		}
		if len(name) > 0 || !isSpace(q[i]) {
			name = append(name, q[i])
		}
		i++
	}
	return name
}

func finish(dst, q []byte, copied int, found bool) ([]byte, bool) {
	if !found {
		return dst, false
	}
	return append(dst, q[copied:]...), true
}
