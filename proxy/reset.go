package proxy

import (
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Starting over: COM_RESET_CONNECTION, COM_CHANGE_USER, and giving the connection back when the
// client leaves.

// clearState forgets everything a reset clears on the server: variables, temporary tables,
// locks, prepared statements, pins. The default database stays, as on MariaDB.
func (s *Session) clearState() {
	s.pins = 0
	s.stmts, s.tempTables, s.locks, s.prepared = nil, nil, nil, nil
	s.stmtBytes, s.longBytes = 0, 0
	s.tempUnknown, s.lockUnknown, s.prepUnknown = false, false, false
	s.lastInsertID = 0
	s.multiStmt = s.c.RawCaps&wire.ClientMultiStatements != 0
	s.state = s.r.states.intern(initialState(s.c.Collation))
}

// resetSession answers COM_RESET_CONNECTION: the session returns to its state right after login,
// and a held connection is reset and given back.
func (s *Session) resetSession() error {
	if s.be != nil {
		if err := s.be.Reset(); err != nil {
			s.discardBackend()
		} else {
			s.r.stats.Resets.Add(1)
		}
	}
	s.clearState()
	s.releaseIfFree()
	return s.writeOK(1)
}

// changeUser answers COM_CHANGE_USER: authenticate the new user, then start over as a fresh
// session of that user (state cleared, the held connection reset and given back), as MySQL does.
func (s *Session) changeUser(pkt []byte) error {
	cu, err := s.c.ChangeUser(pkt, s.r.users)
	if err != nil {
		return err // the client was told; MySQL closes the connection too
	}
	if err := s.r.CheckLogin(cu.User, cu.DB, s.c.RawCaps); err != nil {
		_ = s.c.WriteError(clientError(err))
		return err
	}
	s.pins |= PinOther // force the reset: the connection carries the old user's session
	s.giveBack()
	s.key.User = cu.User
	s.db = s.c.DB
	s.clearState()
	s.mu.Lock()
	s.shownUser, s.shownDB = cu.User, cu.DB
	s.mu.Unlock()
	return s.writeOK(s.c.Seq)
}

// end gives back the held connection when the client leaves.
func (s *Session) end() { s.giveBack() }

// giveBack returns the held connection to the pool. A connection that carries the client's state
// (a transaction, pinned state) is reset first, so nothing leaks to the next borrower; if the
// reset fails it is closed.
func (s *Session) giveBack() {
	if s.be == nil {
		return
	}
	if s.pins&^nextStatementPins == 0 {
		s.pins = 0
		s.releaseIfFree()
		return
	}
	_ = s.be.NetConn().SetDeadline(time.Now().Add(5 * time.Second))
	err := s.be.Reset()
	_ = s.be.NetConn().SetDeadline(time.Time{})
	if err != nil {
		s.discardBackend()
		return
	}
	s.r.stats.Resets.Add(1)
	s.pins = 0
	s.releaseIfFree()
}

// initialState is the state of a session right after login: fresh, but for its character set.
func initialState(collation uint8) *sessionState {
	cs, coll := collationNames(collation)
	return stateForCollation(collation, cs, coll)
}
