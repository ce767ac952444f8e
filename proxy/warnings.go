package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// A statement that leaves warnings (or fails) keeps its connection through the client's next
// statement, for at most softPinGrace idle: programs read their warnings at once. A person at
// the mariadb prompt types SHOW WARNINGS seconds later, when the connection has gone back to the
// pool. So before it goes, the session copies the answer to SHOW WARNINGS with the counts
// (gather), and answers SHOW WARNINGS, SHOW ERRORS, SHOW COUNT(*) WARNINGS / ERRORS,
// @@warning_count and @@error_count from the copy, for as long as the server would keep them: up
// to the next statement that uses a table or makes conditions of its own. GET DIAGNOSTICS then
// reads an empty area, never another client's: pooled connections have empty ones.

// maxKeptWarnings bounds the copy an idle client may hold (a few warnings take a few hundred
// bytes; MariaDB keeps up to max_error_count = 64 of up to 512 characters): a larger answer is
// not kept.
const maxKeptWarnings = 16 << 10

// keptWarnings is a SHOW WARNINGS answer: the packets up to the column definitions' EOF, and
// the rows (Level, Code, Message), with @@warning_count and @@error_count as they were. The
// final EOF is made when answering, with the session's status.
type keptWarnings struct {
	head, rows               [][]byte
	warningCount, errorCount int
}

// readWarnings reads the answer to a SHOW WARNINGS gather sent; nil when it is too large to
// keep (it is drained).
func (s *Session) readWarnings() (*keptWarnings, error) {
	be := s.be
	be.Seq = 1
	kw := &keptWarnings{}
	size, eofs := 0, 0
	for eofs < 2 {
		p, err := be.ReadPacket(wire.MaxPayload)
		if err != nil {
			return nil, err
		}
		if len(kw.head) == 0 && len(p) > 0 && p[0] == 0xff {
			return nil, nil
		}
		size += len(p)
		if size > maxKeptWarnings { // drained, not kept (a session may raise max_error_count)
			if wire.IsEOF(p) {
				eofs++
			}
			continue
		}
		p = bytes.Clone(p)
		switch {
		case wire.IsEOF(p):
			eofs++
			if eofs == 1 {
				kw.head = append(kw.head, p)
			}
		case eofs == 0:
			kw.head = append(kw.head, p)
		default:
			kw.rows = append(kw.rows, p)
		}
	}
	if size > maxKeptWarnings {
		return nil, nil
	}
	return kw, nil
}

// showForm is a SHOW WARNINGS / SHOW ERRORS the session can answer from its copy.
type showForm struct {
	errorsOnly bool // SHOW ERRORS
	count      bool // SHOW COUNT(*) ...
	// offset and limit: the LIMIT clause (limit < 0: none).
	offset, limit int
}

// showWarningsForm reads SHOW WARNINGS or SHOW ERRORS with an optional LIMIT (n; o, n; n OFFSET
// o), or SHOW COUNT(*) WARNINGS / ERRORS, comments and spacing as the server allows them.
func showWarningsForm(q []byte) (showForm, bool) {
	sf := showForm{limit: -1}
	l := lexer{q: q}
	if !l.is(l.next(), "SHOW") {
		return sf, false
	}
	t := l.next()
	if l.is(t, "COUNT") {
		if !l.punct(l.next(), '(') || !l.punct(l.next(), '*') || !l.punct(l.next(), ')') {
			return sf, false
		}
		sf.count, t = true, l.next()
	}
	switch {
	case l.is(t, "WARNINGS"):
	case l.is(t, "ERRORS"):
		sf.errorsOnly = true
	default:
		return sf, false
	}
	t = l.next()
	if !sf.count && l.is(t, "LIMIT") {
		n, ok := numberAt(&l)
		if !ok {
			return sf, false
		}
		sf.limit = n
		switch t = l.next(); {
		case l.punct(t, ','):
			sf.offset = n
			sf.limit, ok = numberAt(&l)
			t = l.next()
		case l.is(t, "OFFSET"):
			sf.offset, ok = numberAt(&l)
			t = l.next()
		}
		if !ok {
			return sf, false
		}
	}
	if l.punct(t, ';') {
		t = l.next()
	}
	return sf, t.kind == tokEnd
}

// numberAt reads the next token as a small decimal integer.
func numberAt(l *lexer) (int, bool) {
	t := l.next()
	if t.kind != tokNumber || t.end-t.start > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(string(l.q[t.start:t.end]))
	return n, err == nil
}

// answerKeptCount answers SHOW COUNT(*) WARNINGS or ERRORS from the copy, as MariaDB answers
// it: one BIGINT UNSIGNED column named after the variable it reads, in a binary row for a
// COM_STMT_EXECUTE.
func (s *Session) answerKeptCount(errorsOnly, binaryRow bool) error {
	n, name := s.warnings.warningCount, "@@session.warning_count"
	if errorsOnly {
		n, name = s.warnings.errorCount, "@@session.error_count"
	}
	s.answeredShow(true)
	col := wire.Column{Name: []byte(name), Charset: 63, Length: 21, Type: wire.TypeLongLong, Flags: 0xa0}
	var row []byte
	if binaryRow {
		row = binary.LittleEndian.AppendUint64([]byte{0, 0}, uint64(n))
	} else {
		row = wire.AppendLenencString(nil, strconv.AppendInt(nil, int64(n), 10))
	}
	s.c.Seq = 1
	for _, p := range [][]byte{{1}, wire.AppendColumn(nil, col), wire.AppendEOF(nil, 0, s.status()), row,
		wire.AppendEOF(nil, 0, s.status())} {
		if err := s.c.WritePacket(p); err != nil {
			return err
		}
	}
	return s.c.Flush()
}

// answeredShow records what the server's own SHOW WARNINGS or ERRORS would have left, which an
// answer from the copy does not run on any connection: ROW_COUNT() -1; after the COUNT(*) form,
// a one-row SELECT there, FOUND_ROWS() 1 (the list leaves it; checked on MariaDB 10.11).
func (s *Session) answeredShow(count bool) {
	v := &s.values
	v.rowCount, v.rowCountHere, v.unsure = -1, false, v.unsure&^unsureRowCount
	if count {
		v.foundRows, v.foundRowsHere, v.unsure = 1, false, v.unsure&^unsureFoundRows
	}
}

// answerKeptWarnings answers SHOW WARNINGS (or SHOW ERRORS: the rows at level Error), within
// its LIMIT, from the copy, in binary rows for a COM_STMT_EXECUTE.
func (s *Session) answerKeptWarnings(sf showForm, binaryRows bool) error {
	s.answeredShow(false)
	kw := s.warnings
	var cols []wire.Column
	if binaryRows {
		// The head is the column count, the definitions and their EOF.
		for _, d := range kw.head[1 : len(kw.head)-1] {
			c, err := wire.ParseColumn(d)
			if err != nil {
				return errors.New("proxy: a kept warning column is malformed")
			}
			cols = append(cols, c)
		}
	}
	s.c.Seq = 1
	for _, p := range kw.head {
		if err := s.c.WritePacket(p); err != nil {
			return err
		}
	}
	skip, left := sf.offset, sf.limit
	for _, p := range kw.rows {
		if sf.errorsOnly {
			level, _, err := wire.ReadLenencString(p)
			if err != nil {
				return errors.New("proxy: a kept warning row is malformed")
			}
			if string(level) != "Error" {
				continue
			}
		}
		if skip > 0 {
			skip--
			continue
		}
		if left == 0 {
			break
		}
		left--
		if binaryRows {
			var err error
			if p, err = wire.BinaryRow(nil, p, cols); err != nil {
				return errors.New("proxy: a kept warning row does not fit its columns")
			}
		}
		if err := s.c.WritePacket(p); err != nil {
			return err
		}
	}
	if err := s.c.WritePacket(wire.AppendEOF(nil, 0, s.status())); err != nil {
		return err
	}
	return s.c.Flush()
}
