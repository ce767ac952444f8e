package proxy

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Before each command: a connection is borrowed (or the pinned one kept) and made to carry the
// session's state.

// anyState wraps a state for backend.Conn.State: the untyped nil for a fresh state, so it
// compares equal to what Reset leaves.
func anyState(st *sessionState) any {
	if st == nil {
		return nil
	}
	return st
}

func connState(c *backend.Conn) *sessionState {
	st, _ := c.State.(*sessionState)
	return st
}

// acquire returns the connection the next command (effects e, text q; nil for commands other
// than statements) runs on, with the session's state applied.
func (s *Session) acquire(e *effects, q []byte) (*backend.Conn, error) {
	s.leaveReplica(e, q)
	if s.be == nil {
		if err := s.borrow(e, q); err != nil {
			if errors.As(err, new(*backend.AcquireTimeoutError)) || errors.As(err, new(*NoWriterError)) {
				s.r.stats.AcquireTimeouts.Add(1)
			}
			return nil, err
		}
	}
	if err := s.sync(e != nil && (e.has(featLastInsertID) || e.mayChangeInsertID()), e != nil && e.foundRows() == frUnknown); err != nil {
		var se *syncError
		if errors.As(err, &se) && !se.stateLost {
			if err := s.releaseIfFree(); err != nil {
				s.discardBackend()
			}
			return nil, se.err
		}
		s.discardBackend()
		return nil, err
	}
	return s.be, nil
}

// borrow takes a connection from the pool the statement is routed to (route.go; without
// backend roles, the session's own). A replica that has not applied the session's last write
// within gtid_wait_timeout is given back for the writer. A pool that loses its role while the
// statement waits for it (the writer fails, a replica lags) ends the wait, and the statement,
// not sent yet, is routed again.
func (s *Session) borrow(e *effects, q []byte) error {
	s.r.waitGate()
	for {
		h := s.r.hg.Load()
		t, err := s.route(e, q)
		if err != nil {
			return err
		}
		err = s.borrowFrom(t)
		if errors.Is(err, context.Canceled) {
			if err := s.r.awaitChange(h, s.killWait); err != nil {
				return err
			}
			continue
		}
		if err != nil || !t.replica {
			return err
		}
		if t.gtid == "" {
			s.r.stats.ReplicaReads.Add(1)
			return nil
		}
		s.r.stats.GTIDWaits.Add(1)
		caughtUp, err := s.waitForGTID(s.be, t.gtid)
		if err != nil {
			s.discardBackend()
			return err
		}
		if caughtUp {
			s.r.stats.ReplicaReads.Add(1)
			return nil
		}
		s.r.stats.GTIDFallbacks.Add(1)
		if err := s.releaseIfFree(); err != nil {
			s.discardBackend()
		}
		for {
			h := s.r.hg.Load()
			if t, err = s.r.writer(s.killWait); err != nil {
				return err
			}
			if err = s.borrowFrom(t); !errors.Is(err, context.Canceled) {
				return err
			}
			if err := s.r.awaitChange(h, s.killWait); err != nil {
				return err
			}
		}
	}
}

// borrowFrom takes a connection of t's pool for the session.
func (s *Session) borrowFrom(t target) error {
	if t.pool != s.pool {
		s.pool = t.pool
		s.mu.Lock()
		s.shownBackend = t.pool.Addr()
		s.mu.Unlock()
	}
	want := backend.Want{Key: s.key, DB: s.db, State: anyState(s.state), Abort: s.killWait}
	c, err := s.pool.Acquire(t.ctx, want)
	if errors.Is(err, backend.ErrPoolClosed) && s.r.routing.Load() == nil {
		// A reload removed this session's backend: move to a current one (nothing is pinned,
		// or the session would still hold its connection). With roles, the statement is routed
		// again.
		s.pool = s.r.pickPool()
		s.mu.Lock()
		s.shownBackend = s.pool.Addr()
		s.mu.Unlock()
		c, err = s.pool.Acquire(context.Background(), want)
	}
	if errors.Is(err, backend.ErrPoolClosed) {
		err = context.Canceled
	}
	if err != nil {
		return err
	}
	s.r.stats.Borrows.Add(1)
	s.be = c
	s.held.Store(c)
	return nil
}

// syncError is a replay the server refused. stateLost: the connection's state is no longer
// known (a SET failed part way), so it must not be lent again.
type syncError struct {
	err       *wire.Error
	stateLost bool
}

func (e *syncError) Error() string { return e.err.Error() }
func (e *syncError) Unwrap() error { return e.err }

// sync makes the held connection's state equal the session's: default database, variables, and
// the last insert id when the statement reads it, or may change it in a way no OK packet tells
// (then reading it back afterwards gives the session's value, changed or not), and the connection
// does not hold the session's.
// So is FOUND_ROWS() when the statement may change it in a way only reading it back tells
// (needFoundRows).
// The differences go in one round trip.
func (s *Session) sync(needLastInsertID, needFoundRows bool) error {
	be := s.be
	have := connState(be)
	if !sameState(have, s.state) && dropsUserVars(have, s.state) {
		// User variables cannot be removed but by a reset: start from a fresh connection (first:
		// the reset also puts back what the rest compares, the multi-statement option).
		if err := be.Reset(); err != nil {
			return err
		}
		s.r.stats.Resets.Add(1)
		have = nil
	}
	var cmds [6][]byte
	n := 0
	if be.MultiStatements != s.multiStmt {
		cmds[n] = backend.SetOptionCommand(s.multiStmt)
		n++
	}
	if be.DB != s.db && s.db != "" {
		cmds[n] = append([]byte{byte(wire.ComInitDB)}, s.db...)
		n++
	}
	if !sameState(have, s.state) {
		sys, user := replaySQL(have, s.state, s.r.vars.get(s.pool.Addr()).freshValue("sql_mode"),
			be.Key.Flags&wire.ClientIgnoreSpace != 0)
		for _, q := range [][]byte{sys, user} {
			if len(q) > 0 {
				cmds[n] = append([]byte{byte(wire.ComQuery)}, q...)
				n++
			}
		}
	}
	if needLastInsertID && !s.values.insertIDHere && !be.InsertIDUnknown && be.InsertID == s.values.insertID {
		s.values.insertIDHere = true // the connection holds the session's value already
	}
	if needLastInsertID && !s.values.insertIDHere {
		cmds[n] = strconv.AppendUint(append([]byte{byte(wire.ComQuery)}, "DO LAST_INSERT_ID("...), s.values.insertID, 10)
		cmds[n] = append(cmds[n], ')')
		n++
	}
	foundRowsAt := -1
	if needFoundRows && !s.values.foundRowsHere && s.values.foundRows <= maxFoundRowsSync {
		foundRowsAt = n
		cmds[n] = append([]byte{byte(wire.ComQuery)}, foundRowsSQL(s.values.foundRows)...)
		n++
	}
	if n == 0 {
		return nil
	}
	s.r.stats.Syncs.Add(1)
	for _, c := range cmds[:n] {
		if err := be.Command(c); err != nil {
			return err
		}
	}
	if err := be.Flush(); err != nil {
		return err
	}
	var first *syncError
	for i, c := range cmds[:n] {
		if i == foundRowsAt {
			// A result set of no rows. Refused (an XA transaction in the IDLE state): the
			// session's value stays in its record, the statement is not held up.
			_, err := be.ReadRows(func([]wire.Column, []*string) error { return nil })
			var we *wire.Error
			if err != nil && !errors.As(err, &we) {
				return err
			}
			s.values.foundRowsHere = err == nil
			continue
		}
		err := be.ReadOKOrErr()
		var we *wire.Error
		if err != nil && !errors.As(err, &we) {
			return err // connection broken
		}
		isInitDB := wire.Command(c[0]) == wire.ComInitDB
		if wire.Command(c[0]) == wire.ComSetOption && err == nil {
			be.MultiStatements = s.multiStmt
		}
		if err != nil {
			if first == nil {
				first = &syncError{err: we}
			}
			first.stateLost = first.stateLost || !isInitDB
			if isInitDB && we.Code == errBadDB {
				// The session's database was dropped under it: on a direct connection it
				// would now have none. This statement fails; the next ones run without.
				s.setDB("")
			}
			continue
		}
		if isInitDB {
			be.DB = s.db
		}
		if bytes.HasPrefix(c[1:], []byte("DO LAST_INSERT_ID(")) {
			s.values.insertIDHere = true
			be.InsertID, be.InsertIDUnknown = s.values.insertID, false
		}
	}
	if first == nil || !first.stateLost {
		// Every SET went through (only a COM_INIT_DB may have failed): the connection now
		// carries the session's variables, whatever the outcome for the database.
		be.State = anyState(s.state)
	}
	if first != nil {
		return first
	}
	return nil
}

// unhold clears the held connection before it goes back: under killMu, so a KILL QUERY from
// another client never lands on a thread that has moved on to someone else.
func (s *Session) unhold() {
	s.killMu.Lock()
	s.held.Store(nil)
	s.killMu.Unlock()
}

// maxFoundRowsSync bounds the FOUND_ROWS() sync puts on a connection: its statement names each
// row (20 KiB of text at most), since one that uses a table would empty the diagnostics area the
// statement after it may read. Above it the session's record stands (README, "What is not
// supported yet").
const maxFoundRowsSync = 1024

// foundRowsSQL is a statement that leaves FOUND_ROWS() at n (at most maxFoundRowsSync) on its
// connection and the diagnostics area as it was: it uses no table.
func foundRowsSQL(n int64) string {
	if n <= 0 {
		return "SELECT 1 LIMIT 0"
	}
	return "SELECT 1" + strings.Repeat(" UNION ALL SELECT 1", int(n-1)) + " LIMIT 18446744073709551615"
}
