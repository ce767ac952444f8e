package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/frontend"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Session states shown to operators.
const (
	stateIdle   = "idle"
	stateActive = "active"
)

// errQuit ends a session normally.
var errQuit = errors.New("client quit")

// Session serves one client: for each command it borrows a backend connection (or keeps its
// pinned one), replays the client's state onto it, forwards the command and streams the answer.
type Session struct {
	r    *Router
	c    *frontend.Client
	pool *backend.Pool
	key  backend.Key

	// be is the backend connection held by this session: during a command, and between commands
	// while pinned. Only the session goroutine touches it; held mirrors it for abort().
	be   *backend.Conn
	held atomic.Pointer[backend.Conn]

	// The client's session state as a direct connection would have it. Authoritative: it is
	// replayed onto whatever connection the session borrows.
	db           string // default database; from login, COM_INIT_DB and session tracking
	collation    uint8  // character set; from login
	lastInsertID uint64 // from OK packets; what LAST_INSERT_ID() must return
	pins         PinReason
	openStmts    map[uint32]struct{} // binary prepared statements open on be

	relay relay

	// For operators, read by other goroutines.
	mu       sync.Mutex
	shownDB  string
	state    atomic.Value // string
	shownPin atomic.Uint32
	started  time.Time
}

func newSession(r *Router, c *frontend.Client, pool *backend.Pool) *Session {
	s := &Session{
		r: r, c: c, pool: pool,
		key:       backend.Key{User: c.User, Flags: c.RawCaps & backend.ConnectFlags},
		db:        c.DB,
		collation: c.Collation,
		shownDB:   c.DB,
		started:   time.Now(),
	}
	s.relay.cl = c
	s.relay.strip = c.Caps&wire.ClientSessionTrack == 0
	s.state.Store(stateIdle)
	return s
}

// ClientInfo is one row of SHOW CLIENTS.
type ClientInfo struct {
	ID           uint32
	User         string
	Address      string
	Database     string
	State        string
	PinnedReason string
	Backend      string
	Since        time.Time
}

func (s *Session) info() ClientInfo {
	s.mu.Lock()
	db := s.shownDB
	s.mu.Unlock()
	return ClientInfo{ID: s.c.ID, User: s.c.User, Address: s.c.Addr, Database: db,
		State: s.state.Load().(string), PinnedReason: PinReason(s.shownPin.Load()).String(),
		Backend: s.pool.Addr(), Since: s.started}
}

// wake makes an idle session notice a drain: its pending read fails at once.
func (s *Session) wake() { _ = s.c.NetConn().SetReadDeadline(time.Now()) }

// abort closes the client and the held backend connection, ending whatever the session does.
func (s *Session) abort() {
	_ = s.c.Close()
	if be := s.held.Load(); be != nil {
		_ = be.Close()
	}
}

func (s *Session) run(ctx context.Context) {
	defer s.end()
	for {
		settings := s.r.settings.Load()
		var deadline time.Time
		if settings.ClientIdleTimeout > 0 {
			deadline = time.Now().Add(settings.ClientIdleTimeout)
		}
		_ = s.c.NetConn().SetReadDeadline(deadline)
		// Checked after setting the deadline: Drain sets the flag before waking sessions.
		if s.r.draining.Load() || ctx.Err() != nil {
			return
		}
		s.c.Seq = 0
		pkt, err := s.c.ReadPacket(settings.MaxPacket)
		if err != nil {
			if errors.Is(err, wire.ErrPacketTooLarge) {
				_ = s.c.WriteError(&wire.Error{Code: 1153, SQLState: "08S01",
					Message: "Got a packet bigger than 'max_allowed_packet' bytes"})
			} else if !isClosed(err) {
				s.r.log.Debug("client read failed", "client", s.c.ID, "err", err)
			}
			return
		}
		if len(pkt) == 0 {
			_ = s.c.WriteError(&wire.Error{Code: 1047, SQLState: "08S01", Message: "Unknown command"})
			continue
		}
		s.state.Store(stateActive)
		s.r.stats.Commands.Add(1)
		err = s.dispatch(pkt)
		s.state.Store(stateIdle)
		s.shownPin.Store(uint32(s.pins))
		if err != nil {
			if !errors.Is(err, errQuit) {
				s.r.log.Debug("session ended", "client", s.c.ID, "err", err)
			}
			return
		}
	}
}

func isClosed(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout())
}

func (s *Session) dispatch(pkt []byte) error {
	switch cmd := wire.Command(pkt[0]); cmd {
	case wire.ComQuit:
		return errQuit
	case wire.ComPing:
		return s.writeOK()
	case wire.ComQuery:
		s.r.stats.Queries.Add(1)
		info := classify(pkt[1:])
		s.pins |= pinsFor(info)
		return s.forward(pkt, shapeResult, info.has(featLastInsertID))
	case wire.ComInitDB, wire.ComStmtReset, wire.ComDebug, wire.ComRefresh, wire.ComProcessKill:
		return s.forward(pkt, shapeSimple, false)
	case wire.ComSetOption:
		// Switches multi-statements on the connection: not replayed yet, so it pins.
		s.pins |= PinOther
		return s.forward(pkt, shapeSimple, false)
	case wire.ComFieldList:
		return s.forward(pkt, shapeFields, false)
	case wire.ComStatistics:
		return s.forward(pkt, shapeStatistics, false)
	case wire.ComProcessInfo:
		return s.forward(pkt, shapeResult, false)
	case wire.ComStmtPrepare:
		s.pins |= PinStatement // hold the connection the statement will live on
		err := s.forward(pkt, shapePrepare, false)
		if s.relay.out.prepared {
			if s.openStmts == nil {
				s.openStmts = make(map[uint32]struct{})
			}
			s.openStmts[s.relay.out.stmtID] = struct{}{}
		}
		s.unpinStatementsIfNone()
		return err
	case wire.ComStmtExecute:
		s.r.stats.Queries.Add(1)
		return s.forward(pkt, shapeResult, false)
	case wire.ComStmtFetch:
		return s.forward(pkt, shapeRows, false)
	case wire.ComStmtSendLongData:
		return s.forward(pkt, shapeNone, false)
	case wire.ComStmtClose:
		if len(pkt) >= 5 {
			delete(s.openStmts, uint32(pkt[1])|uint32(pkt[2])<<8|uint32(pkt[3])<<16|uint32(pkt[4])<<24)
		}
		if s.be == nil {
			return nil // nothing open on any connection: nothing to close
		}
		err := s.forward(pkt, shapeNone, false)
		s.unpinStatementsIfNone()
		return err
	case wire.ComResetConnection:
		return s.resetSession()
	case wire.ComChangeUser:
		_ = s.c.WriteError(&wire.Error{Code: 1235, SQLState: "42000",
			Message: "mysqlmux does not support COM_CHANGE_USER yet; reconnect instead"})
		return errors.New("COM_CHANGE_USER is not supported")
	default:
		s.c.Seq = 1
		return s.c.WriteError(&wire.Error{Code: 1047, SQLState: "08S01", Message: "Unknown command " + cmd.String()})
	}
}

func (s *Session) unpinStatementsIfNone() {
	if len(s.openStmts) == 0 {
		s.pins &^= PinStatement
		s.releaseIfFree()
	}
}

// forward runs one command on a backend connection and streams its response to the client.
func (s *Session) forward(pkt []byte, shape respShape, needLastInsertID bool) error {
	s.relay.out = outcome{}
	be, err := s.acquire(needLastInsertID)
	if err != nil {
		s.c.Seq = 1
		return s.c.WriteError(clientError(err))
	}
	if err := be.Command(pkt); err == nil {
		err = be.Flush()
	}
	if err == nil {
		s.relay.be = be
		err = s.relay.run(shape)
	}
	if err != nil {
		return s.lost(err)
	}
	s.update(pkt)
	s.releaseIfFree()
	return nil
}

// update folds what the response said into the session state.
func (s *Session) update(pkt []byte) {
	out := &s.relay.out
	if out.statusKnown {
		s.pins &^= PinTransaction | PinAutocommitOff
		if out.status&wire.StatusInTrans != 0 {
			s.pins |= PinTransaction
		}
		if out.status&wire.StatusAutocommit == 0 {
			s.pins |= PinAutocommitOff
		}
	}
	if out.lastInsertID != 0 {
		s.lastInsertID = out.lastInsertID
	}
	db, changed := out.schema, out.schemaChanged
	if wire.Command(pkt[0]) == wire.ComInitDB && out.errCode == 0 && out.statusKnown {
		db, changed = string(pkt[1:]), true
	}
	if changed {
		s.db = db
		s.be.DB = db
		s.mu.Lock()
		s.shownDB = db
		s.mu.Unlock()
	}
}

// lost handles a failed command. A client that went away ends the session; a backend that
// failed mid-command leaves the client's protocol state unknown, so the client is closed too
// (it sees a lost connection, as with a direct server that died).
func (s *Session) lost(err error) error {
	var se *sideError
	if !errors.As(err, &se) || !se.client {
		s.r.stats.BackendErrors.Add(1)
	}
	s.discardBackend()
	return err
}

func (s *Session) discardBackend() {
	if s.be != nil {
		s.pool.Discard(s.be)
		s.be = nil
		s.held.Store(nil)
	}
}

// acquire returns the connection the next command runs on, with the session's state applied.
func (s *Session) acquire(needLastInsertID bool) (*backend.Conn, error) {
	if s.be == nil {
		c, err := s.pool.Acquire(context.Background(), backend.Want{Key: s.key, DB: s.db})
		if err != nil {
			if errors.As(err, new(*backend.AcquireTimeoutError)) {
				s.r.stats.AcquireTimeouts.Add(1)
			}
			return nil, err
		}
		s.r.stats.Borrows.Add(1)
		s.be = c
		s.held.Store(c)
	}
	if err := s.sync(needLastInsertID); err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			s.releaseIfFree()
			return nil, err
		}
		s.discardBackend()
		return nil, err
	}
	return s.be, nil
}

// sync makes the held connection's state equal the session's: default database, character set,
// and the last insert id when the statement reads it. The differences go in one round trip.
func (s *Session) sync(needLastInsertID bool) error {
	be := s.be
	var cmds [3][]byte
	n := 0
	if be.DB != s.db && s.db != "" {
		cmds[n] = append([]byte{byte(wire.ComInitDB)}, s.db...)
		n++
	}
	if be.Collation != s.collation {
		cmds[n] = append([]byte{byte(wire.ComQuery)}, setNamesSQL(s.collation)...)
		n++
	}
	if needLastInsertID {
		cmds[n] = strconv.AppendUint(append([]byte{byte(wire.ComQuery)}, "DO LAST_INSERT_ID("...), s.lastInsertID, 10)
		cmds[n] = append(cmds[n], ')')
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
	var first error
	for _, c := range cmds[:n] {
		err := be.ReadOKOrErr()
		var we *wire.Error
		if err != nil && !errors.As(err, &we) {
			return err // connection broken
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		switch wire.Command(c[0]) {
		case wire.ComInitDB:
			be.DB = s.db
		case wire.ComQuery:
			if c[1] == 'S' {
				be.Collation = s.collation
			}
		}
	}
	return first
}

// setNamesSQL is the statement that gives a connection the character set of collation id.
func setNamesSQL(id uint8) string {
	cs, coll := collationNames(id)
	return "SET NAMES " + cs + " COLLATE " + coll
}

// releaseIfFree gives the held connection back unless the session is pinned.
func (s *Session) releaseIfFree() {
	if s.be != nil && canRelease(s.pins) {
		s.pool.Release(s.be)
		s.be = nil
		s.held.Store(nil)
	}
}

// writeOK answers a command locally.
func (s *Session) writeOK() error {
	st := wire.StatusAutocommit
	if s.pins&PinAutocommitOff != 0 {
		st = 0
	}
	if s.pins&PinTransaction != 0 {
		st |= wire.StatusInTrans
	}
	s.c.Seq = 1
	if err := s.c.WritePacket(wire.AppendOK(nil, wire.HeaderOK, wire.OK{Status: st}, !s.relay.strip)); err != nil {
		return err
	}
	return s.c.Flush()
}

// resetSession answers COM_RESET_CONNECTION: the session returns to its state right after login
// (the default database stays, as on MariaDB), and a held connection is reset and given back.
func (s *Session) resetSession() error {
	if s.be != nil {
		if err := s.be.Reset(); err != nil {
			s.discardBackend()
		} else {
			s.r.stats.Resets.Add(1)
		}
	}
	s.pins = 0
	s.openStmts = nil
	s.lastInsertID = 0
	s.collation = s.c.Collation
	s.releaseIfFree()
	return s.writeOK()
}

// end gives back the held connection when the client leaves. A connection that carries the
// client's state (a transaction, pinned state) is reset first, so nothing leaks to the next
// borrower; if the reset fails it is closed.
func (s *Session) end() {
	if s.be == nil {
		return
	}
	if s.pins == 0 {
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
