package proxy

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// A connection goes back to the pool only when the proxy can prove its session state is what
// the proxy records. Pins say when that cannot be (settle.go); what is left is the state a
// direct connection keeps between statements that no packet reports: LAST_INSERT_ID(),
// FOUND_ROWS(), ROW_COUNT(), the diagnostics area, user variables set from expressions. Before
// the connection goes, the session reads back whatever of these it does not know exactly
// (gather), in one round trip, and leaves the connection's diagnostics area empty, so that no
// pooled connection ever shows one client's warnings to another.

// connValues are the values a direct connection keeps for the previous statement. Each is exact
// in the session, or current on the held connection (…Here) where a statement reads it natively;
// unsure ones are read back before the connection goes.
type connValues struct {
	insertID            uint64
	foundRows, rowCount int64
	insertIDHere        bool
	foundRowsHere       bool
	rowCountHere        bool
	unsure              unsureSet
}

type unsureSet uint8

const (
	unsureInsertID unsureSet = 1 << iota
	unsureFoundRows
	unsureRowCount
)

// softPins are the pins a session gives up after softPinGrace idle, once gather has read what
// they kept: the next statement's warnings and FOUND_ROWS(), and the status an error hid.
const softPins = nextStatementPins | PinStatusUnknown

// releaseIfFree gives the held connection back unless the session is pinned, after reading back
// what the session must know of it. An error is a broken connection.
func (s *Session) releaseIfFree() error {
	if s.be == nil || !canRelease(s.pins) {
		return nil
	}
	if s.values.unsure != 0 || len(s.pendingVars) > 0 || s.diagDirty {
		if err := s.gather(); err != nil {
			return err
		}
		if !canRelease(s.pins) {
			return nil // a transaction is open after all, or a value could not be read back
		}
	}
	s.unhold()
	s.pool.Release(s.be)
	s.be = nil
	s.values.insertIDHere, s.values.foundRowsHere, s.values.rowCountHere = false, false, false
	return nil
}

// releaseSoft ends the soft pins of a session whose client stayed idle for softPinGrace: what
// they kept is gathered, then the connection goes back unless a hard pin remains.
func (s *Session) releaseSoft() error {
	s.diagDirty = s.diagDirty || s.pins&PinWarnings != 0
	s.pins &^= nextStatementPins
	if err := s.gather(); err != nil {
		return err
	}
	return s.releaseIfFree()
}

// gather reads back, in one round trip, the values the session does not know exactly, the
// transaction status, and (when the diagnostics area may hold something) a copy of the
// warnings, leaving the area empty.
func (s *Session) gather() error {
	g, err := s.queueGather()
	if err != nil {
		return err
	}
	if err := s.be.Flush(); err != nil {
		return err
	}
	return s.readGather(g)
}

// gatherPlan is what a gather queued: the user variables it reads, whether it copies the
// diagnostics area.
type gatherPlan struct {
	vars []string
	diag bool
}

// queueGather queues gather's queries on the held connection, unflushed.
func (s *Session) queueGather() (gatherPlan, error) {
	vars := s.pendingVars
	values := gatherValuesCmd
	if len(vars) > 0 {
		values = append([]byte{byte(wire.ComQuery)}, gatherValuesSQL...)
		for _, v := range vars {
			n := "@`" + strings.ReplaceAll(v, "`", "``") + "`"
			values = append(values, ", "+n+", HEX("+n+"), CHARSET("+n+"), COLLATION("+n+")"...)
		}
		values = append(values, gatherLimit...)
	}
	cmds := [3][]byte{values}
	n := 1
	diag := s.diagDirty
	if diag {
		cmds[n], n = showWarningsCmd, n+1
	}
	// Which of the variables exist: one only read (an IN argument, a branch not taken) does
	// not, and must not be created elsewhere by a replay. This uses a table, so it also
	// empties the diagnostics area.
	switch {
	case len(vars) > 0:
		cmds[n], n = existingVarsCmd, n+1
	case diag:
		cmds[n], n = clearDiagCmd, n+1
	}
	for _, c := range cmds[:n] {
		if err := s.be.Command(c); err != nil {
			return gatherPlan{}, err
		}
	}
	return gatherPlan{vars: vars, diag: diag}, nil
}

// gather's queries: the values, then (with user variables) each one's value, HEX, CHARSET and
// COLLATION, then the LIMIT, as COM_QUERY payloads.
const (
	gatherValuesSQL = "SELECT LAST_INSERT_ID(), FOUND_ROWS(), ROW_COUNT(), @@warning_count, @@error_count"
	gatherLimit     = " LIMIT 1" // the session's sql_select_limit (0 included) must not cut it
)

var (
	gatherValuesCmd = comQuery(gatherValuesSQL + gatherLimit)
	showWarningsCmd = comQuery("SHOW WARNINGS")
	existingVarsCmd = comQuery(existingVarsSQL)
	clearDiagCmd    = comQuery(clearDiagSQL)
)

// comQuery is the COM_QUERY payload of q.
func comQuery(q string) []byte { return append([]byte{byte(wire.ComQuery)}, q...) }

// readGather reads the answers to the queries g queued and records what they say.
func (s *Session) readGather(g gatherPlan) error {
	be, vars, diag := s.be, g.vars, g.diag
	var row []*string
	var cols []wire.Column
	status, err := be.ReadRows(func(c []wire.Column, r []*string) error {
		cols, row = c, r
		return nil
	})
	if err != nil {
		return err
	}
	var kept *keptWarnings
	if diag {
		if kept, err = s.readWarnings(); err != nil {
			return err
		}
	}
	var exists map[string]bool // with vars only
	var set map[string]string
	if len(vars) > 0 {
		exists, set = make(map[string]bool, len(vars)), make(map[string]string, len(vars))
		if _, err := be.ReadRows(func(_ []wire.Column, r []*string) error {
			if len(r) == 1 && r[0] != nil {
				exists[strings.ToLower(*r[0])] = true
			}
			return nil
		}); err != nil {
			return fmt.Errorf("reading the user variables: %w", err)
		}
	} else if diag {
		if err := be.ReadOKOrErr(); err != nil {
			return fmt.Errorf("clearing the diagnostics area: %w", err)
		}
	}
	if len(row) != 5+4*len(vars) {
		return fmt.Errorf("%w: gather returned %d columns", errBackendProtocol, len(row))
	}
	s.followStatus(status)
	v := &s.values
	be.InsertID, _ = strconv.ParseUint(deref(row[0]), 10, 64)
	be.InsertIDUnknown = false
	if v.insertIDHere {
		// Else the connection holds another session's LAST_INSERT_ID() (likewise FOUND_ROWS()
		// and ROW_COUNT()): the session's own record stands, no statement of this borrow
		// changed it.
		v.insertID, _ = strconv.ParseUint(deref(row[0]), 10, 64)
	}
	if v.foundRowsHere {
		v.foundRows, _ = strconv.ParseInt(deref(row[1]), 10, 64)
	}
	if v.rowCountHere {
		v.rowCount, _ = strconv.ParseInt(deref(row[2]), 10, 64)
	}
	// This SELECT left its own FOUND_ROWS() and ROW_COUNT() on the connection: from now on the
	// session's are answered from the record, even while it holds the connection.
	v.foundRowsHere, v.rowCountHere = false, false
	v.unsure = 0
	if diag {
		s.diagDirty, s.warnings = false, nil
		if w, _ := strconv.Atoi(deref(row[3])); w > 0 && kept != nil {
			kept.warningCount = w
			kept.errorCount, _ = strconv.Atoi(deref(row[4]))
			s.warnings = kept
		}
	}
	for i, name := range vars {
		if !exists[name] {
			continue
		}
		lit, ok := userVarLiteral(row[5+4*i:9+4*i], cols[5+4*i])
		if !ok {
			s.pins |= PinUserVariable
			continue
		}
		set[name] = lit
	}
	s.pendingVars = s.pendingVars[:0]
	if len(set) > 0 {
		s.state = s.r.states.intern(s.state.withUserVars(set))
		be.State = anyState(s.state)
	}
	return nil
}

// clearDiagSQL empties the diagnostics area: only a statement that uses a table does.
const clearDiagSQL = "DO (SELECT 1 FROM information_schema.CHARACTER_SETS LIMIT 0)"

// existingVarsSQL lists the session's user variables, all of them whatever the session's
// sql_select_limit.
const existingVarsSQL = "SELECT VARIABLE_NAME FROM information_schema.USER_VARIABLES" + noSelectLimit

// noSelectLimit ends the proxy's own SELECTs that run on a session's connection and may return
// several rows: an explicit LIMIT overrides the session's sql_select_limit.
const noSelectLimit = " LIMIT 18446744073709551615"

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// userVarLiteral turns a user variable read back as (value, HEX, CHARSET, COLLATION) with its
// column type into the SQL that sets it to exactly that value.
func userVarLiteral(r []*string, col wire.Column) (string, bool) {
	if r[0] == nil {
		// A NULL keeps a type: an INOUT integer parameter set to NULL, a string in the character
		// set of the PREPARE that created the variable. The replay names it, never a bare NULL:
		// assigned to a variable the connection already has, that keeps the old type.
		switch {
		case col.Type == wire.TypeLongLong && col.Flags&0x20 != 0:
			return "CAST(NULL AS UNSIGNED)", true
		case col.Type == wire.TypeLongLong:
			return "CAST(NULL AS SIGNED)", true
		case col.Type == wire.TypeDouble:
			return "CAST(NULL AS DOUBLE)", true
		case col.Type == wire.TypeNewDecimal:
			return "CAST(NULL AS DECIMAL)", true
		case r[2] != nil && r[3] != nil && *r[2] != "binary":
			return "CAST(NULL AS CHAR CHARACTER SET `" + *r[2] + "`) COLLATE `" + *r[3] + "`", true
		}
		return "CAST(NULL AS BINARY)", true // what a fresh variable set to NULL is
	}
	switch col.Type {
	case wire.TypeLongLong, wire.TypeNewDecimal:
		return *r[0], true
	case wire.TypeDouble:
		if strings.ContainsAny(*r[0], "eE") {
			return *r[0], true
		}
		return *r[0] + "e0", true // a DOUBLE literal
	case 0xfd, 0xfe, 0xf9, 0xfa, 0xfb, 0xfc, 0x0f: // string and blob types
		if r[1] == nil || r[2] == nil || r[3] == nil {
			return "", false
		}
		if _, err := hex.DecodeString(*r[1]); err != nil {
			return "", false
		}
		return "_" + *r[2] + " X'" + *r[1] + "' COLLATE `" + *r[3] + "`", true
	}
	return "", false
}
