package proxy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Step 4 of a statement's way: what the server reported (status flags, session tracking, OK
// fields) and what the statement did (its effects) become the session's state and pins. This
// file is the only writer of pins besides the reset paths; release.go reads them to decide
// whether the connection goes back, and gathers from the server what must be known first.

// settle folds a finished command into the session. e is the effects of a COM_QUERY or
// COM_STMT_EXECUTE, nil for other commands; arg is the argument of COM_INIT_DB or
// COM_SET_OPTION.
func (s *Session) settle(cmd wire.Command, arg string, e *effects) {
	out := &s.relay.out
	ok := out.errCode == 0
	// Effects of a multi-statement that failed part way, or of a statement that ran code the
	// proxy cannot see, may have happened although the response ends in an error.
	partial := e != nil && e.multi && !ok

	diag := s.pins & PinWarnings
	s.pins &^= nextStatementPins
	s.settleStatus(out)
	if out.lastInsertID != 0 {
		s.values.insertID, s.values.insertIDHere = out.lastInsertID, true
	}
	s.settleValues(cmd, e)
	if s.be != nil && s.values.insertIDHere {
		// What this statement left in the connection's LAST_INSERT_ID(), for the next borrower.
		s.be.InsertID, s.be.InsertIDUnknown = s.values.insertID, s.values.unsure&unsureInsertID != 0
	}

	db, dbChanged := out.schema, out.schemaChanged
	if cmd == wire.ComInitDB && ok && out.statusKnown {
		db, dbChanged = arg, true
	}
	if cmd == wire.ComSetOption && ok && len(arg) >= 2 && arg[1] == 0 && arg[0] <= 1 {
		s.multiStmt = arg[0] == 0 // 0: MYSQL_OPTION_MULTI_STATEMENTS_ON
		s.be.MultiStatements = s.multiStmt
	}
	if dbChanged {
		s.be.DB = db
		s.setDB(db)
	}

	for _, ch := range out.vars {
		if strings.HasPrefix(ch.name, "session_track_") {
			s.relay.ownTracking = true
		}
	}
	next := s.state
	if e != nil && len(e.stmtVars) > 0 {
		out.vars = slices.DeleteFunc(out.vars, func(ch varChange) bool { return slices.Contains(e.stmtVars, ch.name) })
	}
	if vs := s.replayable(out.vars); len(vs) > 0 {
		next = next.withVars(vs)
	}
	explained := cmd == wire.ComInitDB
	if e != nil && e.writes() && s.r.routing.Load() != nil {
		s.lastWrite = time.Now() // read-your-writes counts from here
	}
	if e != nil {
		explained = e.explains
		next = s.applyEffects(e, next, ok, partial)
		if ok && e.has(featCalcFoundRows) {
			s.pins |= PinFoundRows
		}
	}
	if next != s.state {
		s.state = s.r.states.intern(next)
	}
	s.be.State = anyState(s.state)
	switch {
	case !out.statusKnown:
	case e != nil && slices.Contains(e.stmtVars, "sql_mode"):
		// SET STATEMENT sql_mode = ... FOR: the status has that sql_mode's flags; the return to
		// the session's sets them again. The next status (the next statement's, or gather's
		// at release) shows them.
		s.pins |= PinStatusUnknown
	default:
		s.followModeFlags(out.status) // against the sql_mode this statement left
	}
	if out.stateChanged && !explained {
		s.pins |= PinUntracked
	}
	keepsDiag := cmd == wire.ComInitDB && ok // a database switched to leaves the area as it was
	if s.warnings != nil && !keepsDiag && (e == nil || !e.diagOnly) && (out.warnings > 0 || !ok || e == nil || e.usesTables()) {
		s.warnings = nil // a new diagnostics area: the kept one is gone, as on the server
	}
	switch {
	case e != nil && e.diagOnly:
		s.pins |= diag // reading the diagnostics area leaves it as it was
	case out.warnings > 0 || out.sawWarnings || !ok:
		s.pins |= PinWarnings
		s.diagDirty = true
	case diag != 0 && s.warnings == nil:
		// A statement that uses no table leaves the earlier warnings in place: whether it did
		// is read at release (gather), not guessed. (With a copy kept, the connection's area
		// was emptied when it was taken, and the copy stands.)
		s.diagDirty = true
	}
	s.recomputePins()
}

// settlePrepareError records a COM_STMT_PREPARE the server refused: the error is in the
// connection's diagnostics area, where the client may read it (SHOW WARNINGS) and the next
// borrower must not, so it is kept like a statement's error.
func (s *Session) settlePrepareError() {
	s.warnings = nil
	s.pins |= PinWarnings
	s.diagDirty = true
}

// settleStatus follows the server's status flags: the transaction pin is exactly
// SERVER_STATUS_IN_TRANS. An ERR carries no status, so after one the session does not know
// whether a transaction is open (a failed first statement under autocommit=0 opens one) until a
// response with a status comes: the next statement's, or gather's at release.
func (s *Session) settleStatus(out *outcome) {
	if out.statusKnown {
		s.setTransaction(out.status)
	} else if out.errCode != 0 {
		s.pins |= PinStatusUnknown
	}
	if out.txCharsKnown {
		s.pins &^= PinTxCharacteristics
		if out.txCharsPending {
			s.pins |= PinTxCharacteristics
		}
	}
}

// resolveStatus asks the held connection for its status when an error hid it (a failed DDL
// statement commits the open transaction), so that a locally answered command reports what the
// server would: a COM_PING, which changes nothing else.
func (s *Session) resolveStatus() error {
	if s.pins&PinStatusUnknown == 0 || s.be == nil {
		return nil
	}
	be := s.be
	if err := be.Command([]byte{byte(wire.ComPing)}); err != nil {
		return err
	}
	if err := be.Flush(); err != nil {
		return err
	}
	be.Seq = 1
	p, err := be.ReadPacket(wire.MaxPayload)
	if err != nil {
		return err
	}
	ok, err := wire.ParseOK(p, be.Caps&wire.ClientSessionTrack != 0)
	if err != nil {
		return fmt.Errorf("%w: COM_PING answered 0x%02x", errBackendProtocol, p[0])
	}
	s.followStatus(ok.Status)
	return nil
}

// followStatus follows a status the server reported after a command the session's state is
// already settled for: the transaction, and the flags derived from sql_mode.
func (s *Session) followStatus(st wire.Status) {
	s.setTransaction(st)
	s.followModeFlags(st)
}

// modeFlagBits are the status flags MariaDB derives from sql_mode.
const modeFlagBits = wire.StatusNoBackslashEscapes | wire.StatusAnsiQuotes

// followModeFlags compares the sql_mode flags of a status with the sql_mode of the held
// connection (the session's, or a reset connection's before the session lets it go). MariaDB
// sets them when sql_mode is SET, and only then: a stored routine (or trigger) runs under its own
// sql_mode and gives the caller's back on return without them, so a SET sql_mode inside it
// leaves flags that no SET outside can reproduce on another connection. Such a connection pins
// until reset (which gives a connection the flags of its sql_mode again, as does a SET
// sql_mode); meanwhile locally answered commands report the flags the server last did.
func (s *Session) followModeFlags(st wire.Status) {
	s.modeFlags = st & modeFlagBits
	s.modeFlagsOdd = s.modeFlags != s.sqlModeFlags(connState(s.be))
	if s.modeFlagsOdd {
		s.pins |= PinUntracked
	}
}

// setTransaction follows a status the server reported: the transaction pin is exactly
// SERVER_STATUS_IN_TRANS, and whether it is read-only is kept for locally answered commands.
func (s *Session) setTransaction(st wire.Status) {
	s.pins &^= PinTransaction | PinStatusUnknown
	if st&wire.StatusInTrans != 0 {
		s.pins |= PinTransaction
	}
	if st&(wire.StatusInTrans|wire.StatusAutocommit) != 0 {
		// Savepoints belong to a transaction: this one's (whose end frees them), or, with
		// autocommit on and none open, none.
		s.pins &^= PinSavepoint
	}
	s.txReadOnly = st & wire.StatusInTransReadonly
}

// settleValues records what the command did to FOUND_ROWS(), ROW_COUNT() and LAST_INSERT_ID(),
// which a direct connection keeps between statements and no packet reports: known exactly from
// the response, or marked unsure, to be read back before the connection goes (gather).
func (s *Session) settleValues(cmd wire.Command, e *effects) {
	out := &s.relay.out
	v := &s.values
	if cmd != wire.ComQuery && cmd != wire.ComStmtExecute {
		return
	}
	if e == nil {
		// A COM_STMT_EXECUTE of an id the session does not have, which the server refuses: it
		// sets ROW_COUNT() on the connection that ran it and leaves LAST_INSERT_ID() and
		// FOUND_ROWS(), which that connection may hold for another session (acquire did not
		// sync them), so they are not read back from it.
		v.rowCountHere = true
		v.unsure |= unsureRowCount
		return
	}
	single := !e.multi && e.pins&(PinRoutine|PinUnknown) == 0
	ok := out.errCode == 0
	// ROW_COUNT(): the affected rows of an OK, -1 after a result set.
	v.rowCountHere = true
	switch {
	case single && ok && out.resultSets == 0:
		v.rowCount, v.unsure = int64(out.affectedRows), v.unsure&^unsureRowCount
	case single && ok && !e.has(featAssignVar):
		v.rowCount, v.unsure = -1, v.unsure&^unsureRowCount
	default:
		v.unsure |= unsureRowCount
	}
	// FOUND_ROWS(): see foundRows.
	switch e.foundRows() {
	case frRows:
		if out.resultSets > 0 { // the rows it sent, all or up to its error
			v.foundRows, v.foundRowsHere = out.lastRows, true
			v.unsure &^= unsureFoundRows
		} // else it failed before running: left as it was
	case frNone:
	default:
		// sync put the session's value on the connection, so reading it back tells, changed
		// or not. Where sync could not, the record stands.
		if v.foundRowsHere {
			v.unsure |= unsureFoundRows
		}
	}
	// LAST_INSERT_ID(): an OK reports the statement's insert id, which is the new
	// LAST_INSERT_ID() only when the id was generated (an explicit id leaves it), so it is read
	// back; so is LAST_INSERT_ID(expr) outside INSERT and UPDATE.
	if out.lastInsertID != 0 && !(e.has(featSetLastInsertID) && single && (e.kw == kwUpdate || e.kw == kwInsert)) {
		v.unsure |= unsureInsertID
	}
	if !single || e.setsInsertID {
		v.insertIDHere = true
		v.unsure |= unsureInsertID
	}
}

func isSelectKind(kw keyword) bool {
	return kw == kwSelect || kw == kwWith || kw == kwValues || kw == kwTable
}

// replayable sorts the variable changes the server reported: those the session replays are
// returned; a read-only one is recorded where it is read from (last_gtid) and never written back;
// one that cannot move pins the session.
func (s *Session) replayable(changes []varChange) []varChange {
	if len(changes) == 0 {
		return nil
	}
	cat := s.r.vars.get(s.pool.Addr())
	keep := changes[:0]
	for _, ch := range changes {
		switch cat.kind(ch.name) {
		case varReplay:
			keep = append(keep, ch)
		case varReadOnly:
			if ch.name == "last_gtid" {
				s.lastGTID = ch.value
			}
		case varPin:
			s.pins |= PinUntracked
		}
	}
	return keep
}

// applyEffects records what the statement did. ok: it succeeded; partial: it failed part way
// through a multi-statement, so some of its parts ran.
func (s *Session) applyEffects(e *effects, next *sessionState, ok, partial bool) *sessionState {
	ran := ok || partial
	// Pins whose cause may exist even if the statement failed: a routine or statement the proxy
	// cannot see may have done anything before failing.
	s.pins |= e.pins & (PinRoutine | PinUnknown | PinSequence)
	if ran {
		s.pins |= e.pins & (PinLockTables | PinXA | PinUntracked)
	}
	// A SAVEPOINT with autocommit off and no transaction open keeps a savepoint that no status
	// shows (ROLLBACK TO it works until the transaction this mode opens ends).
	if out := &s.relay.out; ran && e.savepoint && !(out.statusKnown && out.status&(wire.StatusInTrans|wire.StatusAutocommit) != 0) {
		s.pins |= PinSavepoint
	}
	if ok && e.endsTx && !e.multi {
		s.pins &^= PinSavepoint
	}
	// User variables: exact values when the statement succeeded as a whole; read back from
	// the server otherwise (gather), and always for values the text does not give.
	for _, name := range e.assigned {
		s.readBack(name)
	}
	if ok && len(e.userVars) > 0 {
		next = next.withUserVars(e.userVars)
		for name := range e.userVars {
			s.pendingVars = slices.DeleteFunc(s.pendingVars, func(n string) bool { return n == name })
		}
	} else {
		// Failed: a part before the error may have set them, and a statement the server refuses
		// after parsing it has created them (NULL, typed by the parse).
		for name := range e.userVars {
			s.readBack(name)
		}
	}
	// SET NAMES and its kin in a multi-statement that failed further on ran if the server
	// reported the character set variables they assign (the collations it does not report).
	charsetRan := ok || partial && slices.ContainsFunc(s.relay.out.vars, func(ch varChange) bool {
		return ch.name == "character_set_client" || ch.name == "character_set_results"
	})
	if charsetRan && e.collation != "" {
		next = next.withVar("collation_connection", e.collation)
	}
	if charsetRan && e.namesSet {
		next = next.withVar(namesKey, e.names)
	}
	if charsetRan && e.clientSet {
		next = next.withVar(clientKey, e.client)
	}
	// A character set variable the server reports that the statement's own text does not set
	// leaves a collation on it that no variable shows (a routine's SET NAMES x COLLATE y keeps y
	// on character_set_results; the server gives the routine's caller back only its own client
	// and connection character sets): unknown, so the session keeps its connection.
	unseen := e.pins&(PinRoutine|PinUnknown) != 0
	for _, f := range []struct {
		key, name string
		set       bool
	}{{namesKey, "character_set_results", e.namesSet}, {clientKey, "character_set_client", e.clientSet}} {
		if (unseen || !f.set) && slices.ContainsFunc(s.relay.out.vars, func(ch varChange) bool { return ch.name == f.name }) {
			next = next.withVar(f.key, unknownCollation)
			s.pins |= PinUntracked
		}
	}
	if ran {
		for _, t := range e.tempCreate {
			if s.tempTables == nil {
				s.tempTables = make(map[string]struct{})
			}
			s.tempTables[t] = struct{}{}
		}
		s.tempUnknown = s.tempUnknown || e.tempUnknown
		for _, n := range e.lockNames {
			if !slices.Contains(s.locks, n) {
				s.locks = append(s.locks, n)
			}
		}
		s.lockUnknown = s.lockUnknown || e.lockUnknown
		for _, h := range e.handlerOpen {
			if s.handlers == nil {
				s.handlers = make(map[string]struct{})
			}
			s.handlers[h] = struct{}{}
		}
		if e.prepare != "" {
			if s.prepared == nil {
				s.prepared = make(map[string]*effects)
			}
			s.prepared[e.prepare] = e.prepared
		}
	}
	if e.prepare != "" && e.prepared != nil {
		// The server created the variables the text assigns (NULL); one it refused, those it
		// met before the part it refused: read back, absent ones are not recorded.
		for _, name := range e.prepared.assignedVars() {
			s.readBack(name)
		}
	}
	if ok {
		for _, t := range e.tempDrop {
			delete(s.tempTables, t)
		}
		for _, h := range e.handlerClose {
			delete(s.handlers, h)
		}
		if e.deallocate != "" {
			delete(s.prepared, e.deallocate)
		}
		if e.unlockTables {
			s.pins &^= PinLockTables
		}
		if e.xaEnd {
			s.pins &^= PinXA
		}
		if e.ddl {
			s.r.metas.invalidate() // cached statement columns may have changed
		}
	}
	return next
}

// readBack marks a user variable whose value is to be read from the server before the
// connection goes back.
func (s *Session) readBack(name string) {
	if !slices.Contains(s.pendingVars, name) {
		s.pendingVars = append(s.pendingVars, name)
	}
}

// recomputePins sets the pins that follow a set of named things.
func (s *Session) recomputePins() {
	s.pins &^= PinTempTable | PinGetLock | PinPrepare | PinHandler
	if len(s.tempTables) > 0 || s.tempUnknown {
		s.pins |= PinTempTable
	}
	if len(s.locks) > 0 || s.lockUnknown {
		s.pins |= PinGetLock
	}
	if len(s.prepared) > 0 {
		s.pins |= PinPrepare
	}
	if len(s.handlers) > 0 {
		s.pins |= PinHandler
	}
}

// checkLocks asks the server which of the session's GET_LOCK names it still holds: a lock not
// obtained (GET_LOCK returned 0) or released no longer pins. RELEASE_ALL_LOCKS() that succeeded
// released every lock, named or not — unless a GET_LOCK came with it (a multi-statement), which
// may have taken one after: those are asked.
func (s *Session) checkLocks(e *effects) error {
	if e.has(featReleaseAll) && !e.has(featGetLock) && s.relay.out.errCode == 0 {
		s.locks, s.lockUnknown = nil, false
		s.recomputePins()
		return nil
	}
	if len(s.locks) == 0 {
		return nil
	}
	// The statement's FOUND_ROWS() and ROW_COUNT() come along: this SELECT replaces them on the
	// connection, so they are answered from the record after it.
	var b strings.Builder
	b.WriteString("SELECT FOUND_ROWS(), ROW_COUNT(), CONCAT_WS(','")
	for i, n := range s.locks {
		fmt.Fprintf(&b, ", IF(IS_USED_LOCK(%s) = CONNECTION_ID(), '%d', NULL)", quote(n, s.noBackslash()), i)
	}
	b.WriteString(") LIMIT 1")
	var row []*string
	if err := s.be.QueryRows(b.String(), func(r []*string) error {
		row = r
		return nil
	}); err != nil {
		return err
	}
	if len(row) != 3 {
		return fmt.Errorf("%w: the lock check returned %d columns", errBackendProtocol, len(row))
	}
	vals := &s.values
	if vals.foundRowsHere {
		vals.foundRows, _ = strconv.ParseInt(deref(row[0]), 10, 64)
		vals.foundRowsHere, vals.unsure = false, vals.unsure&^unsureFoundRows
	}
	if vals.rowCountHere {
		vals.rowCount, _ = strconv.ParseInt(deref(row[1]), 10, 64)
		vals.rowCountHere, vals.unsure = false, vals.unsure&^unsureRowCount
	}
	var held []string
	for _, idx := range strings.Split(deref(row[2]), ",") {
		if i, err := strconv.Atoi(idx); err == nil && i < len(s.locks) {
			held = append(held, s.locks[i])
		}
	}
	s.locks = held
	s.recomputePins()
	return nil
}

// noBackslash reports whether the session's sql_mode has NO_BACKSLASH_ESCAPES now.
func (s *Session) noBackslash() bool {
	mode, ok := s.state.varsMap()["sql_mode"]
	if !ok {
		mode = s.r.vars.get(s.pool.Addr()).freshValue("sql_mode")
	}
	return strings.Contains(mode, "NO_BACKSLASH_ESCAPES")
}

// setDB changes the session's default database (and what operators see).
func (s *Session) setDB(db string) {
	s.db = db
	s.mu.Lock()
	s.shownDB = db
	s.mu.Unlock()
}

// errBadDB is ER_BAD_DB_ERROR (Unknown database).
const errBadDB = 1049
