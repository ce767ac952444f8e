package proxy

import (
	"bytes"
	"errors"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// A statement that leaves warnings (or fails) keeps its connection through the client's next
// statement, for at most softPinGrace idle: programs read their warnings at once. A person at
// the mariadb prompt types SHOW WARNINGS seconds later, when the connection has gone back to the
// pool. So before it goes, the session copies the answer to SHOW WARNINGS, and answers a plain
// SHOW WARNINGS or SHOW ERRORS from the copy until its next command. Other readers of the
// diagnostics area (SHOW COUNT(*) WARNINGS, @@warning_count, GET DIAGNOSTICS) see an empty one
// then, never another client's.

// maxKeptWarnings bounds the copy an idle client may hold (a few warnings take a few hundred
// bytes; MariaDB keeps up to max_error_count = 64 of up to 512 characters): a larger answer is
// not kept.
const maxKeptWarnings = 16 << 10

// keptWarnings is a SHOW WARNINGS answer: the packets up to the column definitions' EOF, and
// the rows (Level, Code, Message). The final EOF is made when answering, with the session's
// status.
type keptWarnings struct {
	head, rows [][]byte
}

// keepWarnings runs SHOW WARNINGS on the session's connection and keeps the answer. An error is
// a broken connection.
func (s *Session) keepWarnings() error {
	be := s.be
	if err := be.Command(append([]byte{byte(wire.ComQuery)}, "SHOW WARNINGS"...)); err != nil {
		return err
	}
	if err := be.Flush(); err != nil {
		return err
	}
	be.Seq = 1
	kw := &keptWarnings{}
	size, eofs := 0, 0
	for eofs < 2 {
		p, err := be.ReadPacket(wire.MaxPayload)
		if err != nil {
			return err
		}
		if len(kw.head) == 0 && len(p) > 0 && p[0] == 0xff {
			return nil // nothing kept: the diagnostics read empty, as before
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
	if size <= maxKeptWarnings {
		s.warnings = kw
	}
	return nil
}

// showWarningsForm reports whether q is a plain SHOW WARNINGS or SHOW ERRORS (errorsOnly).
func showWarningsForm(q []byte) (errorsOnly, ok bool) {
	f := bytes.Fields(bytes.TrimRight(q, "; \t\r\n"))
	if len(f) != 2 || !bytes.EqualFold(f[0], []byte("SHOW")) {
		return false, false
	}
	switch {
	case bytes.EqualFold(f[1], []byte("WARNINGS")):
		return false, true
	case bytes.EqualFold(f[1], []byte("ERRORS")):
		return true, true
	}
	return false, false
}

// answerKeptWarnings answers SHOW WARNINGS (or SHOW ERRORS: the rows at level Error) from the
// copy.
func (s *Session) answerKeptWarnings(errorsOnly bool) error {
	kw := s.warnings
	s.c.Seq = 1
	for _, p := range kw.head {
		if err := s.c.WritePacket(p); err != nil {
			return err
		}
	}
	for _, p := range kw.rows {
		if errorsOnly {
			level, _, err := wire.ReadLenencString(p)
			if err != nil {
				return errors.New("proxy: a kept warning row is malformed")
			}
			if string(level) != "Error" {
				continue
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
