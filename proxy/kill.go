package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/frontend"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// KILL names connection ids, of two kinds. The ids clients get in the handshake are the proxy's
// (from frontend.ClientIDBase up): KILL CONNECTION n closes client n; KILL QUERY n kills the
// statement client n is running, on the server thread that runs it at that moment (forwarding it
// would kill whatever client happens to be using that server thread). Lower ids are server
// thread ids, as SHOW PROCESSLIST and CONNECTION_ID() show them through the proxy: that KILL goes
// to the server, as on a direct connection.

// parseKill reads KILL [HARD|SOFT] [CONNECTION|QUERY] n; ok is false for the forms the proxy
// does not map (KILL QUERY ID, KILL USER).
func parseKill(q []byte) (query bool, id uint64, ok bool) {
	words := strings.Fields(strings.TrimRight(string(q), "; \t\r\n"))
	if len(words) < 2 || !strings.EqualFold(words[0], "KILL") {
		return false, 0, false
	}
	words = words[1:]
	if len(words) > 1 && (strings.EqualFold(words[0], "HARD") || strings.EqualFold(words[0], "SOFT")) {
		words = words[1:]
	}
	if len(words) > 1 {
		switch strings.ToUpper(words[0]) {
		case "QUERY":
			query = true
		case "CONNECTION":
		default:
			return false, 0, false
		}
		words = words[1:]
	}
	if len(words) != 1 {
		return false, 0, false
	}
	id, err := strconv.ParseUint(words[0], 10, 64)
	return query, id, err == nil
}

// killStatement answers a text KILL.
func (s *Session) killStatement(q []byte) error {
	query, id, ok := parseKill(q)
	if !ok {
		s.c.Seq = 1
		return s.c.WriteError(&wire.Error{Code: 1235, SQLState: "42000",
			Message: "mysqlmux supports KILL [CONNECTION|QUERY] <connection id> only"})
	}
	return s.kill(query, id)
}

// kill ends client id's connection, or (query) the statement it is running.
func (s *Session) kill(query bool, id uint64) error {
	s.setKilling(true)
	defer s.setKilling(false)
	if id < frontend.ClientIDBase {
		return s.killServerThread(query, id)
	}
	target := s.r.session(id)
	if target == nil {
		s.c.Seq = 1
		return s.c.WriteError(&wire.Error{Code: 1094, SQLState: "HY000", Message: fmt.Sprintf("Unknown thread id: %d", id)})
	}
	if !query {
		target.abort()
		if target == s {
			return errQuit
		}
		return s.writeOK(1)
	}
	if target == s {
		return s.writeOK(1) // nothing of its own runs while it sends this
	}
	if target.pendKill() {
		return s.writeOK(1)
	}
	// The KILL goes to the server the statement runs on (with backend roles, any of them), on
	// a connection borrowed for it first: holding the target's killMu while waiting for one
	// could wait on the target itself, which cannot give its connection back meanwhile. A
	// round trip, not run1: a KILL cannot itself be killed, and run1 would take this session's
	// killMu under the target's (two sessions killing each other would deadlock).
	for range 3 {
		victim := target.held.Load()
		var pool *backend.Pool
		if victim != nil {
			pool = s.r.poolFor(victim.Addr)
		}
		var c *backend.Conn
		if pool != nil {
			var err error
			if c, err = s.killConn(pool); err != nil {
				s.c.Seq = 1
				return s.c.WriteError(clientError(err))
			}
		}
		target.killMu.Lock()
		cur := target.held.Load()
		if !target.running || cur == nil || c == nil {
			// The statement ended while this session waited for a connection.
			target.markKilled()
			target.killMu.Unlock()
			return s.endKill(pool, c, nil)
		}
		if cur.Addr != c.Addr {
			target.killMu.Unlock() // it moved to another server meanwhile
			if err := s.endKill(pool, c, nil); err != nil {
				return err
			}
			continue
		}
		err := c.Roundtrip(append([]byte{byte(wire.ComQuery)}, "KILL QUERY "+strconv.FormatUint(uint64(cur.ThreadID), 10)...))
		target.killMu.Unlock()
		return s.endKill(pool, c, err)
	}
	return s.writeOK(1)
}

// killConn returns a connection to pool's server for a KILL: the session's own when it holds
// one there, else one borrowed for the KILL alone.
func (s *Session) killConn(pool *backend.Pool) (*backend.Conn, error) {
	if s.be != nil && s.be.Addr == pool.Addr() {
		return s.be, nil
	}
	return pool.Acquire(context.Background(), backend.Want{Key: s.key, DB: s.db})
}

// endKill gives back a connection killConn borrowed and answers the KILL: err is the server's
// answer to it (nil: OK).
func (s *Session) endKill(pool *backend.Pool, c *backend.Conn, err error) error {
	var we *wire.Error
	broken := err != nil && !errors.As(err, &we)
	if c != nil && c != s.be {
		if broken {
			pool.Discard(c)
		} else {
			pool.Release(c)
		}
	} else if broken {
		return s.lost(err)
	}
	if we != nil {
		s.c.Seq = 1
		return s.c.WriteError(we)
	}
	if broken {
		s.c.Seq = 1
		return s.c.WriteError(clientError(err))
	}
	return s.writeOK(1)
}

// killServerThread sends KILL [QUERY] id for a server thread id to the session's backend.
func (s *Session) killServerThread(query bool, id uint64) error {
	be, err := s.acquire(nil, nil)
	if err != nil {
		s.c.Seq = 1
		return s.c.WriteError(clientError(err))
	}
	if !query && id == uint64(be.ThreadID) {
		// Its own server thread: as on a direct connection, the client gets the server's
		// answer (1927, connection killed) and loses its connection.
		err := be.Roundtrip(append([]byte{byte(wire.ComQuery)}, "KILL CONNECTION "+strconv.FormatUint(id, 10)...))
		s.discardBackend()
		var we *wire.Error
		if errors.As(err, &we) {
			s.c.Seq = 1
			_ = s.c.WriteError(we)
		}
		return errQuit
	}
	q := "KILL CONNECTION "
	if query {
		q = "KILL QUERY "
	}
	return s.roundtrip(be, q+strconv.FormatUint(id, 10))
}

// roundtrip runs a statement answered by OK or ERR on be, gives be back unless pinned, and
// relays the answer.
func (s *Session) roundtrip(be *backend.Conn, q string) error {
	err := be.Roundtrip(append([]byte{byte(wire.ComQuery)}, q...))
	var we *wire.Error
	if err != nil && !errors.As(err, &we) {
		return s.lost(err)
	}
	if err := s.releaseIfFree(); err != nil {
		return s.lost(err)
	}
	if we != nil {
		s.c.Seq = 1
		return s.c.WriteError(we)
	}
	return s.writeOK(1)
}

// pendKill marks a KILL QUERY for the command the session has under way whose statement is not
// sent yet; for an idle session it does nothing, as a server does. It reports false while the
// statement runs on a server thread: the caller must kill it there.
func (s *Session) pendKill() bool {
	s.killMu.Lock()
	defer s.killMu.Unlock()
	if s.running {
		return false
	}
	s.markKilled()
	return true
}

// markKilled (under killMu) refuses the statement of the command under way, if any, and ends
// its wait for a connection.
func (s *Session) markKilled() {
	if s.activity.Load() != stateActive || s.killing {
		return
	}
	s.killPending = true
	select {
	case s.killWait <- struct{}{}:
	default:
	}
}

// interrupted answers a statement killed before it was sent, as the server answers a killed
// one. Long data buffered for a COM_STMT_EXECUTE is cleared on the server with COM_STMT_RESET,
// so it cannot reach a later execution.
func (s *Session) interrupted(be *backend.Conn, pkt []byte) error {
	if wire.Command(pkt[0]) == wire.ComStmtExecute && len(pkt) >= 5 {
		err := be.Roundtrip([]byte{byte(wire.ComStmtReset), pkt[1], pkt[2], pkt[3], pkt[4]})
		if err != nil && !errors.As(err, new(*wire.Error)) {
			return s.lost(err)
		}
	}
	if err := s.releaseIfFree(); err != nil {
		return s.lost(err)
	}
	s.c.Seq = 1
	return s.c.WriteError(errInterrupted)
}

// setKilling marks the session as running a KILL, which cannot be killed: a KILL QUERY that
// marked it before it got here is forgotten (it would abort the KILL's own borrow).
func (s *Session) setKilling(on bool) {
	s.killMu.Lock()
	s.killing = on
	if on {
		s.forgetKill()
	}
	s.killMu.Unlock()
}

// forgetKill (under killMu) drops a KILL QUERY mark.
func (s *Session) forgetKill() {
	s.killPending = false
	select {
	case <-s.killWait:
	default:
	}
}
