package proxy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// KILL names connection ids. The ids clients know are the proxy's (the handshake announced
// them), and the server's threads are shared by everyone, so KILL is answered by the proxy: KILL
// CONNECTION n closes client n; KILL QUERY n kills the statement client n is running, on the
// server thread that runs it at that moment. Forwarding it would kill whatever client happens to
// be using that server thread.

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
	// Borrow first: holding the target's killMu while waiting for a connection could wait on
	// the target itself, which cannot give its connection back meanwhile.
	be, err := s.acquire(false, false)
	if err != nil {
		s.c.Seq = 1
		return s.c.WriteError(clientError(err))
	}
	target.killMu.Lock()
	defer target.killMu.Unlock()
	victim := target.held.Load()
	if victim == nil {
		s.releaseIfFree()
		return s.writeOK(1)
	}
	return s.run1(be, append([]byte{byte(wire.ComQuery)}, "KILL QUERY "+strconv.FormatUint(uint64(victim.ThreadID), 10)...), shapeSimple, nil)
}
