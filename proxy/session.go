package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
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
	// killMu orders a KILL QUERY from another session against this one's commands (see unhold,
	// run1, command): it guards the fields below and the end of each command.
	killMu sync.Mutex
	// running: the client's statement has been sent on be and its answer is not all read, so a
	// KILL QUERY goes to be's server thread. killPending: a KILL QUERY came while the command
	// was under way but its statement not sent (waiting for a connection, replaying state): the
	// statement is refused instead of run, as the killed statement would have been.
	running, killPending bool
	killing              bool          // runs a KILL, which cannot itself be killed
	killWait             chan struct{} // ends the wait for a connection of a killed statement (cap 1)

	// The client's session state as a direct connection would have it. Authoritative: it is
	// replayed onto whatever connection the session borrows (borrow.go), or answered from here
	// (answers.go).
	db        string // default database; from login, COM_INIT_DB and session tracking
	multiStmt bool   // multi-statements on; from login, then COM_SET_OPTION
	// txReadOnly is IN_TRANS_READONLY as the server last reported it.
	txReadOnly wire.Status
	// modeFlags are NO_BACKSLASH_ESCAPES and ANSI_QUOTES as the server last reported them;
	// modeFlagsOdd when they are not what the session's sql_mode gives (see followModeFlags).
	modeFlags    wire.Status
	modeFlagsOdd bool
	state        *sessionState // variables; from login (character set), session tracking, SET, gather
	values       connValues    // LAST_INSERT_ID(), FOUND_ROWS(), ROW_COUNT(): from responses and gather
	lastGTID     string        // from session tracking; what @@last_gtid must return
	// lastWrite is when the session last wrote on the writer, and confirmed which replica has
	// applied which of its GTIDs (read-your-writes, route.go).
	lastWrite time.Time
	confirmed map[string]string
	pins      PinReason // written by settle.go only (and the reset paths)

	// What keeps pins alive, so each pin ends when its cause does.
	stmts       map[uint32]*clientStmt // binary prepared statements, by the id the client knows
	nextStmt    uint32
	execBuf     []byte              // a rewritten COM_STMT_EXECUTE
	stmtBytes   int                 // metadata held by stmts
	longBytes   int                 // SEND_LONG_DATA buffered for all stmts
	tempTables  map[string]struct{} // temporary tables (db.name)
	tempUnknown bool                // a temporary table we could not name
	locks       []string            // GET_LOCK names held
	lockUnknown bool                // a GET_LOCK we could not follow
	handlers    map[string]struct{} // HANDLER ... OPEN names
	prepared    map[string]*effects // text PREPARE names, with the effects of their text (nil: unknown)
	// pendingVars are user variables written with values only the server knows: read back
	// (gather) before the connection goes.
	pendingVars []string
	// diagDirty: the held connection's diagnostics area may hold conditions; it is copied and
	// emptied before the connection goes (gather).
	diagDirty bool
	warnings  *keptWarnings // the diagnostics area, kept when its connection went back

	relay     relay
	rewritten []byte // a statement with the session's answers written in (answers.go)
	// actx is the analysis context, as of actxState and actxCat.
	actx         analysisCtx
	actxState    *sessionState
	actxCat      *varCatalog
	readDeadline time.Time // last set on the client connection (wake may set another: it ends the session)
	ctx          context.Context
	resumeFn     func(timedOut bool) // s.resume, bound once
	sentFn       func(error)         // s.sent, bound once

	// For operators, read by other goroutines.
	mu           sync.Mutex
	shownDB      string
	shownUser    string
	shownBackend string
	activity     atomic.Value // string: stateIdle or stateActive
	shownPin     atomic.Uint32
	started      time.Time
	lastCommand  atomic.Int64 // unix nanoseconds when the last command finished; 0 before the first
}

func newSession(ctx context.Context, r *Router, c *frontend.Client, pool *backend.Pool) *Session {
	s := &Session{
		ctx: ctx,
		r:   r, c: c, pool: pool,
		key:          backend.Key{User: c.User, Flags: c.RawCaps & backend.ConnectFlags},
		db:           c.DB,
		multiStmt:    c.RawCaps&wire.ClientMultiStatements != 0,
		state:        r.states.intern(initialState(c.Collation)),
		shownDB:      c.DB,
		shownUser:    c.User,
		shownBackend: pool.Addr(),
		started:      time.Now(),
	}
	s.killWait = make(chan struct{}, 1)
	s.actx.prepared = s.preparedEffects
	s.relay.cl = c
	s.relay.strip = c.Caps&wire.ClientSessionTrack == 0
	s.activity.Store(stateIdle)
	s.resumeFn = s.resume
	s.sentFn = s.sent
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
	// LastCommand is when the client's last command finished (Since before its first).
	LastCommand time.Time
}

func (s *Session) info() ClientInfo {
	s.mu.Lock()
	db, user, backendAddr := s.shownDB, s.shownUser, s.shownBackend
	s.mu.Unlock()
	// The state first: a command stores when it ended and its pins before it turns the state
	// idle, so an idle state read here comes with those of its last command (KILL IDLE CLIENTS
	// relies on it).
	state := s.activity.Load().(string)
	last := s.started
	if ns := s.lastCommand.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	return ClientInfo{ID: s.c.ID, User: user, Address: s.c.Addr, Database: db,
		State: state, PinnedReason: PinReason(s.shownPin.Load()).String(),
		Backend: backendAddr, Since: s.started, LastCommand: last}
}

// wake makes an idle session notice a drain at once.
func (s *Session) wake() { s.c.Wake() }

// abort closes the client and the held backend connection, ending whatever the session does.
// Under killMu, as unhold clears held before the connection goes back: a connection read from
// held a moment before could otherwise be closed in the hands of the client that borrowed it
// next.
func (s *Session) abort() {
	_ = s.c.Close()
	s.killMu.Lock()
	defer s.killMu.Unlock()
	if be := s.held.Load(); be != nil {
		_ = be.Close()
	}
}

// softPinGrace is how long a session keeps its connection, idle, for a next-statement pin
// (warnings, FOUND_ROWS) before giving it back.
const softPinGrace = 250 * time.Millisecond

// minMaxPacket is the smallest max_allowed_packet a server may have: shorter commands need no
// check.
const minMaxPacket = 1024

// tooLargeForServer reports whether a command of n bytes exceeds the backend's
// max_allowed_packet.
func (s *Session) tooLargeForServer(n int) bool {
	cat := s.r.vars.get(s.pool.Addr())
	return cat != nil && cat.maxPacket > 0 && n > cat.maxPacket
}

// maxSkippedCommand and skipTimeout bound what is read of a command larger than
// max_allowed_packet before it is refused (the largest max_allowed_packet MariaDB allows).
const (
	maxSkippedCommand = 1 << 30
	skipTimeout       = 5 * time.Second
)

// parkAfter is how long a session waits for its client's next command with a goroutine before
// parking it (frontend.Client.Park): busy clients never pay for parking, idle ones cost no stack.
const parkAfter = time.Second

// resume continues a parked session (frontend calls it on a new goroutine).
func (s *Session) resume(timedOut bool) {
	if timedOut { // client_idle_timeout passed while parked
		s.finish()
		return
	}
	s.run()
}

// finish ends the session: the held connection goes back (reset if it carries client state),
// the client connection closes, the router forgets the session.
func (s *Session) finish() {
	s.end()
	s.c.Finish()
	s.r.unregister(s)
}

func (s *Session) run() {
	for {
		settings := s.r.settings.Load()
		now := time.Now()
		deadline := s.idleDeadline()
		soft := s.be != nil && s.pins != 0 && s.pins&^softPins == 0
		wait := deadline
		switch {
		case soft:
			wait = earliest(wait, now.Add(softPinGrace))
		case s.be == nil:
			park := now.Add(parkAfter)
			// A busy client would move the deadline on every command (a timer update each
			// time): keep the one set while it is at least half a parkAfter away, so the park
			// comes after 0.5 to 1 s idle.
			if deadline.IsZero() && s.readDeadline.After(now.Add(parkAfter/2)) && !s.readDeadline.After(park) {
				park = s.readDeadline
			}
			wait = earliest(wait, park)
		}
		s.setReadDeadline(wait)
		// Checked after setting the deadline: Drain sets the flag before waking sessions.
		if s.r.draining.Load() || s.ctx.Err() != nil {
			s.finish()
			return
		}
		s.c.Release()
		length, _, err := s.c.PeekHeader() // waits without a buffer: see wire.reader
		if err != nil && isTimeout(err) && !s.r.draining.Load() && (deadline.IsZero() || time.Now().Before(deadline)) {
			if soft {
				// The client did not come back for its warnings or FOUND_ROWS(): stop holding
				// the connection, keeping what they would have read.
				if err := s.releaseSoft(); err != nil {
					_ = s.lost(err)
					s.finish()
					return
				}
				s.shownPin.Store(uint32(s.pins))
				continue
			}
			if s.be == nil {
				// Once parked, the session belongs to whichever goroutine resumes it: nothing
				// of it may be touched after a successful Park.
				s.readDeadline = time.Time{} // the socket's is in the past: set it again on resume
				if s.c.Park(deadline, s.resumeFn) {
					if s.r.draining.Load() {
						s.c.Wake() // Drain may have looked before the park
					}
					return
				}
			}
			continue
		}
		if err == nil {
			// The wait deadline stays only if the whole command is already read (no further
			// read can hit it); commands that read the client again reset it (see dispatch).
			if soft || s.c.Buffered() < wire.HeaderSize+length {
				s.setReadDeadline(deadline)
			}
			s.c.Seq = 0
			var pkt []byte
			if pkt, err = s.c.ReadPacket(settings.MaxPacket); err == nil {
				err = s.command(pkt)
				if err == nil {
					continue
				}
			}
		}
		if errors.Is(err, wire.ErrPacketTooLarge) {
			// As the server: the error comes where the client expects the answer (after every
			// packet it sent), then the connection closes. A client that does not send what it
			// announced is not waited for.
			s.setReadDeadline(time.Now().Add(skipTimeout))
			s.c.Seq, _ = s.c.SkipRest(maxSkippedCommand)
			_ = s.c.WriteError(&wire.Error{Code: 1153, SQLState: "08S01",
				Message: "Got a packet bigger than 'max_allowed_packet' bytes"})
		} else if !errors.Is(err, errQuit) && !isClosed(err) {
			s.r.log.Debug("session ended", "client", s.c.ID, "err", err)
		}
		s.finish()
		return
	}
}

// idleDeadline is when client_idle_timeout closes the client if it sends nothing (zero: never).
func (s *Session) idleDeadline() time.Time {
	if t := s.r.settings.Load().ClientIdleTimeout; t > 0 {
		return time.Now().Add(t)
	}
	return time.Time{}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// setReadDeadline sets the client's read deadline unless it is already that (most often: none),
// saving a poller timer update per command.
func (s *Session) setReadDeadline(t time.Time) {
	if !t.Equal(s.readDeadline) {
		s.readDeadline = t
		_ = s.c.NetConn().SetReadDeadline(t)
	}
}

// command runs one client command.
func (s *Session) command(pkt []byte) error {
	if len(pkt) == 0 {
		s.c.Seq = 1
		return s.c.WriteError(&wire.Error{Code: 1047, SQLState: "08S01", Message: "Unknown command"})
	}
	start, cmd, text := time.Now(), pkt[0], s.statementText(pkt)
	s.activity.Store(stateActive)
	s.r.stats.Commands.Add(1)
	s.relay.out, s.c.LastError = outcome{}, 0 // what observe reads is this command's
	var err error
	if len(pkt) > minMaxPacket && wire.Command(pkt[0]) != wire.ComStmtSendLongData && s.tooLargeForServer(len(pkt)) {
		// The server would refuse it and close its connection while the command is still being
		// written (the client of a direct connection loses the error with the connection): the
		// proxy answers with the server's error, and the client keeps its connection and state.
		err = s.c.WriteError(&wire.Error{Code: 1153, SQLState: "08S01",
			Message: "Got a packet bigger than 'max_allowed_packet' bytes"})
	} else {
		err = s.dispatch(pkt)
	}
	// Before the state turns idle (see info): when the command ended, and its pins.
	s.observe(cmd, text, start)
	s.shownPin.Store(uint32(s.pins))
	// Under killMu, so a KILL QUERY either finds this command under way or none: one that came
	// too late for this command's statement is forgotten, never applied to the next.
	s.killMu.Lock()
	s.activity.Store(stateIdle)
	s.forgetKill()
	s.killMu.Unlock()
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isTimeout(err)
}

func (s *Session) dispatch(pkt []byte) error {
	switch cmd := wire.Command(pkt[0]); cmd {
	case wire.ComQuit:
		return errQuit
	case wire.ComPing:
		return s.writeOK(1)
	case wire.ComQuery:
		s.r.stats.Queries.Add(1)
		if s.warnings != nil {
			if sf, ok := showWarningsForm(pkt[1:]); ok {
				if sf.count {
					return s.answerKeptCount(sf.errorsOnly, false)
				}
				return s.answerKeptWarnings(sf, false)
			}
		}
		e := s.r.parsers.effectsOf(pkt[1:], s.analysisCtx())
		if e.load {
			s.setReadDeadline(s.idleDeadline()) // LOAD DATA LOCAL reads the client's file
		}
		if e.kill && (e.kw == kwKill || e.multi) {
			return s.killStatement(pkt[1:]) // a KILL inside a multi-statement is refused
		}
		return s.forward(pkt, shapeResult, &e)
	case wire.ComProcessKill:
		return s.kill(false, uint64(le32(pkt[min(len(pkt), 1):])))
	case wire.ComInitDB, wire.ComDebug, wire.ComRefresh:
		return s.forward(pkt, shapeSimple, nil)
	case wire.ComSetOption:
		// Switches multi-statements: replayed like a variable (see sync), no pin.
		return s.forward(pkt, shapeSimple, nil)
	case wire.ComFieldList:
		return s.forward(pkt, shapeFields, nil)
	case wire.ComStatistics:
		return s.forward(pkt, shapeStatistics, nil)
	case wire.ComProcessInfo:
		return s.forward(pkt, shapeResult, nil)
	case wire.ComStmtPrepare:
		return s.stmtPrepare(pkt)
	case wire.ComStmtExecute:
		s.r.stats.Queries.Add(1)
		return s.stmtExecute(pkt)
	case wire.ComStmtSendLongData:
		s.stmtLongData(pkt)
		return nil
	case wire.ComStmtClose:
		s.stmtClose(pkt)
		return nil
	case wire.ComStmtReset:
		return s.stmtReset(pkt)
	case wire.ComStmtFetch:
		// Cursors are never opened (see stmtExecute), as a server may decline them.
		s.c.Seq = 1
		return s.c.WriteError(&wire.Error{Code: 1421, SQLState: "HY000",
			Message: fmt.Sprintf("The statement (%d) has no open cursor.", le32(pkt[min(len(pkt), 1):]))})
	case wire.ComResetConnection:
		return s.resetSession()
	case wire.ComChangeUser:
		s.setReadDeadline(s.idleDeadline()) // the client answers an auth switch
		return s.changeUser(pkt)
	default:
		s.c.Seq = 1
		return s.c.WriteError(errUnknownCommand)
	}
}

// forward runs one command on a backend connection and streams its response to the client. e
// is the effects of a COM_QUERY, nil for other commands.
func (s *Session) forward(pkt []byte, shape respShape, e *effects) error {
	s.relay.out = outcome{}
	var q []byte
	if e != nil {
		q = pkt[1:]
	}
	be, err := s.acquire(e, q)
	if err != nil {
		s.c.Seq = 1
		return s.c.WriteError(clientError(err))
	}
	if e != nil && e.xaIdle {
		if err := s.prepareAllOn(be); err != nil {
			return s.lost(err)
		}
	}
	if e != nil && answersNeeded(e) {
		pkt = s.withAnswers(pkt, s.actx.mode)
	}
	return s.run1(be, pkt, shape, e)
}

// analysisCtx is what the analysis of the next statement needs to know of the session. The parts
// that follow the session's variables are recomputed only when those change.
func (s *Session) analysisCtx() *analysisCtx {
	ctx := &s.actx
	ctx.db = s.db
	ctx.hasTemp = len(s.tempTables) > 0 || s.tempUnknown
	cat := s.r.vars.get(s.pool.Addr())
	if s.actxState == s.state && s.actxCat == cat && ctx.clientCharset != "" {
		return ctx
	}
	s.actxState, s.actxCat = s.state, cat
	vars := s.state.varsMap()
	mode, ok := vars["sql_mode"]
	if !ok {
		mode = cat.freshValue("sql_mode")
	}
	ctx.sqlMode = mode
	ctx.mode = lexMode{noBackslash: strings.Contains(mode, "NO_BACKSLASH_ESCAPES"),
		ansiQuotes: strings.Contains(mode, "ANSI_QUOTES")}
	ctx.clientCharset = varOr(vars, "character_set_client")
	ctx.charset = varOr(vars, "character_set_connection")
	ctx.collation = vars["collation_connection"]
	if ctx.collation == "" && ctx.charset == freshCharset["character_set_connection"] {
		ctx.collation = freshCharset["collation_connection"]
	}
	// Else the character set's default collation, which a literal with an introducer gets.
	ctx.foldNames = cat.freshValue("lower_case_table_names") != "0"
	return ctx
}

// varOr is a character set variable of the session: its own value, or the login's.
func varOr(vars map[string]string, name string) string {
	if v, ok := vars[name]; ok {
		return v
	}
	return freshCharset[name]
}

// preparedEffects returns the effects of the text PREPAREd as name (nil: not known).
func (s *Session) preparedEffects(name string) *effects { return s.prepared[name] }

// run1 sends one command on be (with whatever is already buffered for it) and streams the
// response, then updates the session and gives the connection back unless pinned.
func (s *Session) run1(be *backend.Conn, pkt []byte, shape respShape, e *effects) error {
	// pkt lives in the client's read buffer, which the relay may reuse (LOAD DATA LOCAL reads
	// the client): keep what update needs.
	cmd, arg := wire.Command(pkt[0]), ""
	if cmd == wire.ComInitDB || cmd == wire.ComSetOption {
		arg = string(pkt[1:])
	}
	// The statement is sent under killMu, so a KILL QUERY either comes before (and refuses it)
	// or after it is on its way to the server thread (and kills it there).
	s.killMu.Lock()
	if s.killPending {
		s.killPending = false
		s.killMu.Unlock()
		return s.interrupted(be, pkt)
	}
	err := be.Command(pkt)
	var early *gatherPlan
	if err == nil && s.gatherWithEnd(e) {
		// The statement ends the transaction that pins the session, which leaves values to read
		// back: gather's query goes with it and is read after its answer, no round trip of its own.
		var g gatherPlan
		if g, err = s.queueGather(); err == nil {
			early = &g
		}
	}
	switch {
	case err == nil && shape != shapeNone:
		// The wait for the answer is armed before the statement leaves (one read that would
		// find nothing saved per statement); sentFn lets killMu go once it is on its way.
		err = be.SendAwait(s.sentFn)
	case err == nil:
		err = be.Flush()
		s.sent(err)
	default:
		s.sent(err)
	}
	if err == nil {
		s.relay.be = be
		err = s.relay.run(shape)
	}
	if s.running {
		s.killMu.Lock()
		s.running = false
		s.killMu.Unlock()
	}
	if err != nil {
		return s.lost(err)
	}
	before := s.pins
	s.settle(cmd, arg, e)
	if early != nil && !closesConnection(s.relay.out.errCode) {
		// After settle: gather's query ran after the statement, so what it read is the latest.
		var we *wire.Error
		if err := s.readGather(*early); err != nil && !errors.As(err, &we) {
			return s.lost(err)
		} // refused (a KILL QUERY that came late): the values stay to read back
	}
	if e != nil && len(e.calls) > 0 {
		if err := s.proveRoutines(e, before); err != nil {
			return s.lost(err)
		}
	}
	if e != nil && (e.has(featGetLock) || e.releasesLock) && (len(s.locks) > 0 || s.lockUnknown) {
		if err := s.checkLocks(e); err != nil {
			return s.lost(err)
		}
	}
	if e != nil && e.release && s.relay.out.errCode == 0 {
		// COMMIT ... RELEASE: the server has closed this connection; so is the client's.
		s.discardBackend()
		return errQuit
	}
	if closesConnection(s.relay.out.errCode) {
		// The server closed the connection after this error. What lived only there is lost,
		// and the client is closed too, as a direct one would be; a session whose state the
		// proxy holds goes on with another connection.
		hard := s.pins&^softPins != 0
		s.r.stats.BackendErrors.Add(1)
		if hard {
			s.discardBackend()
			return errQuit
		}
		s.dropSoft()
		return nil
	}
	if err := s.releaseIfFree(); err != nil {
		return s.lost(err)
	}
	return nil
}

// gatherWithEnd reports whether gather's query should go with statement e: a COMMIT or ROLLBACK
// of a session that only a transaction pins, with values (not variables or warnings) to read
// back before its connection goes.
func (s *Session) gatherWithEnd(e *effects) bool {
	return e != nil && (e.kw == kwCommit || e.kw == kwRollback) && !e.multi && !e.release && e.pins == 0 &&
		s.pins == PinTransaction && s.values.unsure != 0 && len(s.pendingVars) == 0 && !s.diagDirty
}

// sent ends the sending of a statement, which run1 began under killMu: from now on a KILL QUERY
// goes to the server thread if the statement is on its way (err nil).
func (s *Session) sent(err error) {
	s.running = err == nil
	s.killMu.Unlock()
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

// dropSoft discards a connection the session holds for soft pins only, and what they kept.
func (s *Session) dropSoft() {
	s.discardBackend()
	s.pins &^= softPins
	s.values.unsure, s.diagDirty = 0, false
	s.pendingVars = s.pendingVars[:0]
}

func (s *Session) discardBackend() {
	if s.be != nil {
		s.unhold()
		s.pool.Discard(s.be)
		s.be = nil
	}
}

// writeOK answers a command locally with an OK numbered seq.
func (s *Session) writeOK(seq uint8) error {
	if err := s.resolveStatus(); err != nil {
		return s.lost(err)
	}
	s.c.Seq = seq
	if err := s.c.WritePacket(wire.AppendOK(nil, wire.HeaderOK, wire.OK{Status: s.status()}, !s.relay.strip)); err != nil {
		return err
	}
	return s.c.Flush()
}

// status is the server status a locally answered command reports: autocommit, the transaction
// (and whether it is read-only, as the server last said), and the flags MariaDB derives from
// sql_mode (as the server last reported them when they are out of step with it).
func (s *Session) status() wire.Status {
	vars := s.state.varsMap()
	cat := s.r.vars.get(s.pool.Addr())
	var st wire.Status
	if ac, ok := vars["autocommit"]; ac != "OFF" && (ok || cat.freshValue("autocommit") != "OFF") {
		st = wire.StatusAutocommit
	}
	if s.pins&PinTransaction != 0 {
		st |= wire.StatusInTrans | s.txReadOnly
	}
	if s.modeFlagsOdd {
		return st | s.modeFlags
	}
	return st | s.sqlModeFlags(s.state)
}

// sqlModeFlags are the status flags MariaDB derives from the sql_mode of state st (nil: a
// connection as it logged in) when it is set.
func (s *Session) sqlModeFlags(st *sessionState) wire.Status {
	var mode string
	ok := false
	if st != nil {
		mode, ok = st.varsMap()["sql_mode"]
	}
	if !ok {
		mode = s.r.vars.get(s.pool.Addr()).freshValue("sql_mode")
	}
	var flags wire.Status
	if strings.Contains(mode, "NO_BACKSLASH_ESCAPES") {
		flags |= wire.StatusNoBackslashEscapes
	}
	if strings.Contains(mode, "ANSI_QUOTES") {
		flags |= wire.StatusAnsiQuotes
	}
	return flags
}
