package proxy

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Starting over: COM_RESET_CONNECTION, COM_CHANGE_USER, and giving the connection back when the
// client leaves.

// clearState forgets everything a reset clears on the server: variables, temporary tables,
// locks, prepared statements, pins, LAST_INSERT_ID(), ROW_COUNT() (an OK's 0). The default
// database stays, and FOUND_ROWS(), as on MariaDB.
func (s *Session) clearState() {
	s.pins, s.modeFlagsOdd = 0, false
	s.stmts, s.tempTables, s.locks, s.prepared, s.handlers = nil, nil, nil, nil, nil
	s.stmtBytes, s.longBytes = 0, 0
	s.tempUnknown, s.lockUnknown = false, false
	held := s.be != nil
	s.values = connValues{foundRows: s.values.foundRows, foundRowsHere: s.values.foundRowsHere,
		unsure: s.values.unsure & unsureFoundRows, insertIDHere: held, rowCountHere: held}
	s.lastGTID = ""
	s.pendingVars, s.diagDirty, s.warnings = s.pendingVars[:0], false, nil
	// The multi-statement option (COM_SET_OPTION) survives: the server keeps it too.
	s.relay.ownTracking = false
	s.state = s.r.states.intern(s.withoutLoginMode(initialState(s.c.Collation)))
}

// withoutLoginMode returns st with the server's global sql_mode for a session that logged in
// with CLIENT_IGNORE_SPACE: a reset (COM_RESET_CONNECTION, COM_CHANGE_USER) drops the
// IGNORE_SPACE the login added, while the key's connections keep it.
func (s *Session) withoutLoginMode(st *sessionState) *sessionState {
	if s.key.Flags&wire.ClientIgnoreSpace == 0 {
		return st
	}
	mode, ok := s.r.vars.get(s.pool.Addr()).global("sql_mode")
	if !ok || mode == "" || slices.Contains(strings.Split(mode, ","), "IGNORE_SPACE") {
		return st
	}
	return st.withVar("sql_mode", mode)
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
	if err := s.releaseIfFree(); err != nil {
		s.discardBackend()
	}
	return s.writeOK(1)
}

// changeUser answers COM_CHANGE_USER: authenticate the new user, then start over as a fresh
// session of that user (state cleared, the held connection reset and given back), as MySQL does.
func (s *Session) changeUser(pkt []byte) error {
	user, db, coll := s.c.User, s.c.DB, s.c.Collation
	cu, err := s.c.ChangeUser(pkt, s.r.users)
	if err == nil {
		// Whatever the outcome, the session starts over: the held connection goes back first,
		// so checking the new user's database can use it when it is the only one (cap 1).
		s.giveBack(true)
		if err = s.r.CheckLogin(cu.User, cu.DB, s.c.RawCaps); err != nil {
			s.c.User, s.c.DB, s.c.Collation = user, db, coll
			_ = s.c.WriteError(clientError(err))
		}
	}
	var we *wire.Error
	if err != nil {
		if errors.As(err, &we) && (we.Code == 1045 || we.Code == errBadDB) {
			// As MariaDB: the client was told, and keeps its connection, its session reset.
			s.startOver()
			return nil
		}
		return err
	}
	s.giveBack(true)
	s.key.User = cu.User
	s.db = s.c.DB
	s.clearState()
	s.mu.Lock()
	s.shownUser, s.shownDB = cu.User, cu.DB
	s.mu.Unlock()
	return s.writeOK(s.c.Seq)
}

// end gives back the held connection when the client leaves.
func (s *Session) end() { s.giveBack(false) }

// giveBack returns the held connection to the pool. A connection that carries the client's state
// (a transaction, pinned state, values not yet read back, warnings) is reset first, so nothing
// leaks to the next borrower; if the reset fails, or the connection is still pinned after it,
// it is closed: a session never keeps one past this. force resets in any case (the connection
// carries another user's session).
func (s *Session) giveBack(force bool) {
	if s.be == nil {
		return
	}
	if s.pins&PinXA != 0 {
		// An XA transaction, perhaps prepared: closing the server connection detaches (or rolls
		// back) it as a direct client's leaving does; a reset would keep it on the connection.
		s.discardBackend()
		return
	}
	if !force && s.pins == 0 && s.values.unsure == 0 && len(s.pendingVars) == 0 && !s.diagDirty {
		if err := s.releaseIfFree(); err != nil {
			s.discardBackend()
			return
		}
		if s.be == nil {
			return
		}
		// The read-back found a pin after all (a transaction open): reset, as below.
	}
	defer s.discardBackend() // still held here: the reset failed, or a pin outlived it
	_ = s.be.NetConn().SetDeadline(time.Now().Add(5 * time.Second))
	err := s.be.Reset()
	_ = s.be.NetConn().SetDeadline(time.Time{})
	if err != nil {
		return
	}
	s.r.stats.Resets.Add(1)
	// FOUND_ROWS() survives the reset (see clearState): one still to read back is read after it.
	s.pins, s.values.unsure, s.pendingVars, s.diagDirty = 0, s.values.unsure&unsureFoundRows, s.pendingVars[:0], false
	_ = s.releaseIfFree() // a broken connection stays held, and is closed
}

// startOver resets the session after a failed COM_CHANGE_USER, as the server does: the held
// connection is reset and given back, the client's state cleared, and its character set is the
// server's default, not the login's (MariaDB applies the packet's only on success); the user
// and the default database stay.
func (s *Session) startOver() {
	s.giveBack(true)
	s.clearState()
	s.state = s.r.states.intern(s.withoutLoginMode(serverCharsetState(s.r.vars.get(s.pool.Addr()), s.state)))
}

// initialState is the state of a session right after login: fresh, but for its character set.
func initialState(collation uint8) *sessionState {
	cs, coll := collationNames(collation)
	return stateForCollation(collation, cs, coll)
}
