package proxy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// After each response: what the server reported and what the statement did become the session's
// state and pins.

// update folds what the response said into the session state.
// arg is the argument of COM_INIT_DB or COM_SET_OPTION.
func (s *Session) update(cmd wire.Command, arg string, pl *plan) {
	out := &s.relay.out
	ok := out.errCode == 0
	s.pins &^= nextStatementPins
	if out.statusKnown {
		s.pins &^= PinTransaction
		if out.status&wire.StatusInTrans != 0 {
			s.pins |= PinTransaction
		}
	}
	if out.txCharsKnown {
		s.pins &^= PinTxCharacteristics
		if out.txCharsPending {
			s.pins |= PinTxCharacteristics
		}
	}
	if out.lastInsertID != 0 {
		s.lastInsertID = out.lastInsertID
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

	next := s.state
	if len(out.vars) > 0 {
		for _, ch := range out.vars {
			if unreplayable(ch.name) {
				s.pins |= PinUntracked
			}
		}
		next = next.withVars(out.vars)
	}
	explained := cmd == wire.ComInitDB
	if pl != nil {
		explained = pl.explainsStateChange
		if pl.pins&PinOther != 0 || (ok && pl.pins != 0) {
			s.pins |= pl.pins &^ (PinTempTable | PinGetLock | PinPrepare) // those follow their sets
		}
		if ok {
			next = s.applyPlan(pl, next)
		}
		if ok && pl.info.has(featCalcFoundRows) {
			s.pins |= PinFoundRows
		}
		if ok && (pl.info.kw == kwAlter || pl.info.kw == kwCreate || pl.info.kw == kwDrop ||
			pl.info.kw == kwRename || pl.info.kw == kwTruncate) {
			s.r.metas.invalidate() // cached statement columns may have changed
		}
	}
	if next != s.state {
		s.state = s.r.states.intern(next)
	}
	s.be.State = anyState(s.state)
	if out.stateChanged && !explained {
		s.pins |= PinUntracked
	}
	if out.warnings > 0 || !ok {
		s.pins |= PinWarnings
	}
}

// applyPlan records the effects of a successful statement and returns the new state.
func (s *Session) applyPlan(pl *plan, next *sessionState) *sessionState {
	if pl.collation != "" {
		next = next.withVar("collation_connection", pl.collation)
	}
	if len(pl.userVars) > 0 {
		next = next.withUserVars(pl.userVars)
	}
	for _, t := range pl.tempCreate {
		if s.tempTables == nil {
			s.tempTables = make(map[string]struct{})
		}
		s.tempTables[t] = struct{}{}
	}
	for _, t := range pl.tempDrop {
		delete(s.tempTables, t)
	}
	s.tempUnknown = s.tempUnknown || pl.unknownTemp
	if pl.prepare != "" {
		if s.prepared == nil {
			s.prepared = make(map[string]struct{})
		}
		s.prepared[pl.prepare] = struct{}{}
	}
	if pl.deallocate != "" {
		delete(s.prepared, pl.deallocate)
	}
	s.prepUnknown = s.prepUnknown || pl.unknownPrep
	for _, n := range pl.lockNames {
		if !slices.Contains(s.locks, n) {
			s.locks = append(s.locks, n)
		}
	}
	s.lockUnknown = s.lockUnknown || pl.unknownLock
	if pl.unlockTables {
		s.pins &^= PinLockTables
	}
	if pl.xaEnd {
		s.pins &^= PinXA
	}
	return next
}

// recomputePins sets the pins that follow a set of named things.
func (s *Session) recomputePins() {
	s.pins &^= PinTempTable | PinGetLock | PinPrepare
	if len(s.tempTables) > 0 || s.tempUnknown {
		s.pins |= PinTempTable
	}
	if len(s.locks) > 0 || s.lockUnknown {
		s.pins |= PinGetLock
	}
	if len(s.prepared) > 0 || s.prepUnknown {
		s.pins |= PinPrepare
	}
}

// checkLocks asks the server which of the session's GET_LOCK names it still holds on be: a lock
// not obtained (GET_LOCK returned 0) or released no longer pins.
func (s *Session) checkLocks() error {
	var b strings.Builder
	b.WriteString("SELECT CONCAT_WS(','")
	for i, n := range s.locks {
		fmt.Fprintf(&b, ", IF(IS_USED_LOCK(%s) = CONNECTION_ID(), '%d', NULL)", quote(n, false), i)
	}
	b.WriteString(")")
	v, _, err := s.be.QueryValue(b.String())
	if err != nil {
		return err
	}
	var held []string
	for _, idx := range strings.Split(v, ",") {
		if i, err := strconv.Atoi(idx); err == nil && i < len(s.locks) {
			held = append(held, s.locks[i])
		}
	}
	s.locks = held
	return nil
}

// errBadDB is ER_BAD_DB_ERROR (Unknown database).
const errBadDB = 1049

// setDB changes the session's default database (and what operators see).
func (s *Session) setDB(db string) {
	s.db = db
	s.mu.Lock()
	s.shownDB = db
	s.mu.Unlock()
}
