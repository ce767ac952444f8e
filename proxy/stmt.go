package proxy

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Binary-protocol prepared statements keep multiplexing: the session hands its client its own
// statement ids, the metadata of a PREPARE is shared (metaCache) so the next PREPARE of the same
// text is answered locally, and each backend connection prepares a statement lazily when it
// first executes it (backend.StmtCache). Preparing pins nothing; executing has the effects of
// the statement's text, as a COM_QUERY of it would (a GET_LOCK pins, a SELECT does not).

// clientStmt is a prepared statement as one client sees it.
type clientStmt struct {
	meta *stmtMeta
	// state is the session's state when the client prepared it (meta.key names it too): a
	// backend statement is prepared in it.
	state *sessionState
	// types are the parameter types the client last bound: a later EXECUTE that says "same
	// types as before" may land on a connection where another client bound others.
	types []byte
	// longData holds SEND_LONG_DATA chunks, as received, until the next EXECUTE, which may run
	// anywhere: replayed chunk by chunk, so the server applies its own max_allowed_packet.
	longData map[uint16][][]byte
	longSize int
	longErr  bool // longData overflowed its bound: the EXECUTE fails, as MySQL's would
}

// maxClientStmts bounds a session's statements (MariaDB's max_prepared_stmt_count default);
// maxSessionMetaBytes bounds the metadata its statements hold (shared ones count in full: the
// cache may drop them while the session keeps them).
const (
	maxClientStmts      = 16382
	maxSessionMetaBytes = 64 << 20
)

// maxMetaBytes bounds the metadata the proxy keeps for one statement.
const maxMetaBytes = 1 << 20

const cursorFlagOffset = 5 // COM_STMT_EXECUTE: command, statement id (4), flags

func le32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func (s *Session) stmtKey(text string) string {
	st := ""
	if s.state != nil {
		st = s.state.key
	}
	return s.key.User + "\x00" + s.db + "\x00" + st + "\x00" + text
}

func (s *Session) stmtError(code uint16, state, format string, args ...any) error {
	s.c.Seq = 1
	return s.c.WriteError(&wire.Error{Code: code, SQLState: state, Message: fmt.Sprintf(format, args...)})
}

// stmtPrepare answers COM_STMT_PREPARE, from the shared metadata when another session prepared
// the same statement already, else by preparing it on a borrowed connection.
func (s *Session) stmtPrepare(pkt []byte) error {
	if len(s.stmts) >= maxClientStmts || s.stmtBytes >= maxSessionMetaBytes {
		return s.stmtError(1461, "42000", "Can't create more than max_prepared_stmt_count statements (current value: %d)", maxClientStmts)
	}
	text := string(pkt[1:])
	key := s.stmtKey(text)
	var lostErr error
	ran := false
	prepare := func() (*stmtMeta, error) {
		ran = true
		be, err := s.acquire(nil, nil)
		if err != nil {
			return nil, err
		}
		meta, err := s.prepareOn(be, key, text, s.db, s.state)
		if err != nil && !isServerError(err) {
			lostErr = err
			return nil, err
		}
		if err != nil {
			s.settlePrepareError()
		}
		// The server created the variables the text assigns (NULL); a refused prepare, those it
		// met before the part it refused: read back (absent ones are not recorded).
		var created []string
		if meta != nil {
			created = s.createdByPrepare(meta)
		} else if err != nil {
			refused := preparedEffectsOf(&s.r.parsers, s.analysisCtx(), s.db, []byte(text))
			created = refused.assignedVars()
		}
		for _, name := range created {
			s.readBack(name)
		}
		if rerr := s.releaseIfFree(); rerr != nil {
			lostErr = rerr
			return nil, rerr
		}
		return meta, err
	}
	var meta *stmtMeta
	var err error
	if s.pins&^nextStatementPins != 0 {
		// A session holding its connection for state (a transaction, perhaps read-only; temporary
		// tables; LOCK TABLES; XA; an error that hid the status) prepares there: the server's
		// answer may depend on that state (ERROR 1792, 1100, other columns), so it is neither
		// taken from nor given to the shared metadata.
		meta, err = prepare()
	} else {
		meta, err = s.r.metas.getOrPrepare(key, s.be == nil, prepare)
	}
	if err == nil && !ran && len(s.createdByPrepare(meta)) > 0 {
		// Preparing a statement that assigns user variables creates them on the server (NULL):
		// the session prepares it itself, so they are read back and recorded.
		_, err = prepare()
	}
	if lostErr != nil {
		return s.lost(lostErr)
	}
	if err != nil {
		s.c.Seq = 1
		return s.c.WriteError(clientError(err))
	}
	if s.stmts == nil {
		s.stmts = make(map[uint32]*clientStmt)
	}
	for s.nextStmt++; s.nextStmt == 0 || s.stmts[s.nextStmt] != nil; s.nextStmt++ {
	}
	s.stmts[s.nextStmt] = &clientStmt{meta: meta, state: s.state}
	s.stmtBytes += meta.size
	return s.writePrepareOK(s.nextStmt, meta)
}

// createdByPrepare lists the user variables a prepare of meta's text creates: those it assigns.
func (s *Session) createdByPrepare(meta *stmtMeta) []string {
	return meta.effects(&s.r.parsers, s.analysisCtx()).assignedVars()
}

func (s *Session) writePrepareOK(id uint32, m *stmtMeta) error {
	ok := [12]byte{wire.HeaderOK}
	putLE32(ok[1:], id)
	ok[5], ok[6] = byte(m.columns), byte(m.columns>>8)
	ok[7], ok[8] = byte(m.params), byte(m.params>>8)
	s.c.Seq = 1
	if err := s.c.WritePacket(ok[:]); err != nil {
		return err
	}
	for _, d := range m.defs {
		if err := s.c.WritePacket(d); err != nil {
			return err
		}
	}
	return s.c.Flush()
}

// prepareOn prepares text on be with db as the default database and the system variables of
// state under (switching for the prepare only if be is in another database or state: the server
// types a statement's literals by the character set variables of its PREPARE), records the
// statement in be's cache, and returns its metadata. A *wire.Error is the server refusing the
// statement; other errors mean be is broken.
func (s *Session) prepareOn(be *backend.Conn, key, text, db string, under *sessionState) (*stmtMeta, error) {
	var setUnder, setBack []byte
	if cur := connState(be); cur != under {
		// A connection in a state no SET can put back (a collation the proxy does not know;
		// status flags a routine's sql_mode left, which a SET sql_mode would put in step) is not
		// switched: the statement is prepared in the connection's own state.
		if have, want := parseVars(cur), parseVars(under); !maps.Equal(have.varsMap(), want.varsMap()) &&
			!s.modeFlagsOdd && !unknownCollations(have) && !unknownCollations(want) {
			fresh := s.r.vars.get(s.pool.Addr()).freshValue("sql_mode")
			ignoreSpace := be.Key.Flags&wire.ClientIgnoreSpace != 0
			setUnder, _ = replaySQL(have, want, fresh, ignoreSpace)
			setBack, _ = replaySQL(want, have, fresh, ignoreSpace)
		}
	}
	switchDB := db != "" && be.DB != db
	home := be.DB
	// A connection without a database cannot be given "none" back: it stays in db (its label
	// says so, so sessions without a database will not borrow it).
	switchBack := switchDB && home != ""
	var cmds [][]byte
	if len(setUnder) > 0 {
		cmds = append(cmds, append([]byte{byte(wire.ComQuery)}, setUnder...))
	}
	if switchDB {
		cmds = append(cmds, append([]byte{byte(wire.ComInitDB)}, db...))
	}
	cmds = append(cmds, append([]byte{byte(wire.ComStmtPrepare)}, text...))
	if switchBack {
		cmds = append(cmds, append([]byte{byte(wire.ComInitDB)}, home...))
	}
	if len(setBack) > 0 {
		cmds = append(cmds, append([]byte{byte(wire.ComQuery)}, setBack...))
	}
	for _, c := range cmds {
		if err := be.Command(c); err != nil {
			return nil, err
		}
	}
	if err := be.Flush(); err != nil {
		return nil, err
	}
	if len(setUnder) > 0 {
		if err := be.ReadOKOrErr(); err != nil {
			// Not a refusal of the statement (%v): the answers behind it are unread, so the
			// connection is given up.
			return nil, fmt.Errorf("setting the state of a prepare: %v", err)
		}
	}
	var dbErr error
	if switchDB {
		dbErr = be.ReadOKOrErr()
		if dbErr != nil && !isServerError(dbErr) {
			return nil, dbErr
		}
	}
	meta, id, err := readPrepare(be)
	if switchBack {
		if rerr := be.ReadOKOrErr(); rerr != nil {
			// Its home dropped meanwhile: the connection is in db, not where its label says;
			// given up (%v), as for the state below.
			return nil, fmt.Errorf("restoring the database after a prepare: %v", rerr)
		}
	} else if switchDB && dbErr == nil {
		be.DB = db
	}
	if len(setBack) > 0 {
		if rerr := be.ReadOKOrErr(); rerr != nil {
			// The connection is left in a state the proxy does not record: given up (%v).
			return nil, fmt.Errorf("restoring the state after a prepare: %v", rerr)
		}
	}
	if err == nil && dbErr != nil {
		// The statement was prepared in the wrong database: drop it, report the error.
		_ = be.Command(closeStmt(id))
		err = dbErr
	}
	if err != nil {
		return nil, err
	}
	meta.key, meta.text, meta.db = key, text, db
	meta.query = []byte(text)
	meta.size += len(text)
	for _, old := range be.Stmts.Put(key, id) {
		if err := be.Command(closeStmt(old)); err != nil {
			return nil, err
		}
	}
	return meta, nil
}

// prepareAllOn prepares on be, before an XA END, the session's statements be does not have (the
// most recently prepared first, as many as be keeps): from XA END to the transaction's end the
// server refuses COM_STMT_PREPARE (ERROR 1399), where a direct connection has every statement
// its client prepared. A statement the server refuses now fails when executed, as it would
// anyway. One that reads the session's answers is prepared with the present ones written in:
// executed after they changed, it must be prepared again, and is refused (see the README). One
// that assigns user variables is left out: preparing it gives them its parameters' type
// (`SELECT @v := ?` makes @v binary), which a direct connection's prepare did before they had a
// value.
func (s *Session) prepareAllOn(be *backend.Conn) error {
	ids := slices.Sorted(maps.Keys(s.stmts))
	seen := make(map[string]bool)
	ctx := s.analysisCtx()
	for _, id := range slices.Backward(ids) {
		if len(seen) >= be.Stmts.Cap() {
			break
		}
		cs := s.stmts[id]
		e := cs.meta.effects(&s.r.parsers, ctx)
		if len(e.assignedVars()) > 0 {
			continue // a prepare sets the type of the variables it assigns
		}
		key, text := s.backendStmt(cs, e)
		if seen[key] {
			continue
		}
		seen[key] = true
		if _, ok := be.Stmts.Get(key); ok {
			continue
		}
		if _, err := s.prepareOn(be, key, text, cs.meta.db, cs.state); err != nil && !isServerError(err) {
			return err
		}
	}
	return nil
}

// backendStmt returns the key and text of the backend statement that executes cs, whose effects
// are e: the one prepared in the state the client prepared it in (its key says which), as the
// server's would be, whatever the state it runs in now; with the session's answers written in
// when it reads them (a statement of its own on the backend).
func (s *Session) backendStmt(cs *clientStmt, e *effects) (key, text string) {
	key, text = cs.meta.key, cs.meta.text
	if answersNeeded(e) {
		if b, ok := rewriteReads(nil, cs.meta.query, s.actx.mode, s.sessionAnswer); ok {
			key, text = key+"\x00answered\x00"+string(b), string(b)
		}
	}
	return key, text
}

func isServerError(err error) bool {
	var we *wire.Error
	return errors.As(err, &we)
}

func closeStmt(id uint32) []byte {
	b := []byte{byte(wire.ComStmtClose), 0, 0, 0, 0}
	putLE32(b[1:], id)
	return b
}

// readPrepare reads a COM_STMT_PREPARE response: OK (statement id, counts) and the definitions.
func readPrepare(be *backend.Conn) (*stmtMeta, uint32, error) {
	be.Seq = 1
	p, err := be.ReadPacket(wire.MaxPayload)
	if err != nil {
		return nil, 0, err
	}
	if p[0] == wire.HeaderErr {
		e, perr := wire.ParseErr(p)
		if perr != nil {
			return nil, 0, perr
		}
		return nil, 0, e
	}
	if p[0] != wire.HeaderOK || len(p) < 9 {
		return nil, 0, fmt.Errorf("%w: bad COM_STMT_PREPARE reply", errBackendProtocol)
	}
	m := &stmtMeta{columns: uint16(p[5]) | uint16(p[6])<<8, params: uint16(p[7]) | uint16(p[8])<<8}
	id := le32(p[1:])
	for _, n := range []uint16{m.params, m.columns} {
		if n == 0 {
			continue
		}
		for i := 0; i <= int(n); i++ { // n definitions and their EOF
			d, err := be.ReadPacket(wire.MaxPayload)
			if err != nil {
				return nil, 0, err
			}
			m.defs = append(m.defs, slices.Clone(d))
			m.size += len(d)
		}
	}
	m.size += len(m.defs) * 24
	return m, id, nil
}

// stmtLongData buffers a SEND_LONG_DATA chunk (no reply) until the EXECUTE.
func (s *Session) stmtLongData(pkt []byte) {
	if len(pkt) < 7 {
		return
	}
	cs := s.stmts[le32(pkt[1:])]
	if cs == nil {
		return // MySQL also drops data for an unknown statement silently
	}
	param := uint16(pkt[5]) | uint16(pkt[6])<<8
	if s.longBytes+len(pkt)-7 > s.r.settings.Load().MaxPacket { // all statements together
		cs.longErr = true
		return
	}
	if cs.longData == nil {
		cs.longData = make(map[uint16][][]byte)
	}
	cs.longData[param] = append(cs.longData[param], slices.Clone(pkt[7:]))
	cs.longSize += len(pkt) - 7
	s.longBytes += len(pkt) - 7
}

// stmtReset answers COM_STMT_RESET: the buffered long data goes; no cursor is ever open.
func (s *Session) stmtReset(pkt []byte) error {
	cs := s.stmts[le32(pkt[min(len(pkt), 1):])]
	if cs == nil {
		return s.stmtError(1243, "HY000", "Unknown prepared statement handler (%d) given to mysqld_stmt_reset", le32(pkt[min(len(pkt), 1):]))
	}
	s.dropLongData(cs)
	return s.writeOK(1)
}

// stmtExecute runs COM_STMT_EXECUTE on a borrowed connection, preparing the statement there
// first if that connection has not yet. The client's statement id becomes the connection's, and
// a cursor request is dropped: the rows come in the response, as when a server declines a cursor.
func (s *Session) stmtExecute(pkt []byte) error {
	id := le32(pkt[min(len(pkt), 1):])
	cs := s.stmts[id]
	if cs == nil || len(pkt) < 10 {
		// The server answers it, so that its diagnostics area holds the error as a direct
		// connection's would (SHOW ERRORS): ERROR 1243, naming id 0, which no server gives out.
		s.relay.out = outcome{}
		be, err := s.acquire(nil, nil)
		if err != nil {
			s.c.Seq = 1
			return s.c.WriteError(clientError(err))
		}
		return s.run1(be, []byte{byte(wire.ComStmtExecute), 0, 0, 0, 0, 0, 1, 0, 0, 0}, shapeResult, nil)
	}
	if cs.longErr {
		s.dropLongData(cs)
		return s.stmtError(1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes")
	}
	// SHOW WARNINGS and its kin read the diagnostics area the session kept a copy of, as in a
	// COM_QUERY (see dispatch).
	if s.warnings != nil {
		if sf, ok := showWarningsForm(cs.meta.query); ok {
			if sf.count {
				return s.answerKeptCount(sf.errorsOnly, true)
			}
			return s.answerKeptWarnings(sf, true)
		}
	}
	payload := s.bindTypes(cs, pkt)
	s.relay.out = outcome{}
	// The statement's effects on the session are those of its text (see forward): a GET_LOCK,
	// a user variable written, a temporary table pin as they would in a COM_QUERY, since the
	// server reports nothing at the end of a result set. One that reads LAST_INSERT_ID() or
	// another value the session answers must see the session's, not another client's.
	e := cs.meta.effects(&s.r.parsers, s.analysisCtx())
	be, err := s.acquire(e, cs.meta.query)
	if err != nil {
		s.c.Seq = 1
		return s.c.WriteError(clientError(err))
	}
	key, text := s.backendStmt(cs, e)
	bid, ok := be.Stmts.Get(key)
	if !ok {
		_, err := s.prepareOn(be, key, text, cs.meta.db, cs.state)
		var we *wire.Error
		if errors.As(err, &we) {
			if err := s.releaseIfFree(); err != nil {
				return s.lost(err)
			}
			s.c.Seq = 1
			return s.c.WriteError(we)
		}
		if err != nil {
			return s.lost(err)
		}
		bid, _ = be.Stmts.Get(key)
	}
	for param, chunks := range cs.longData {
		for _, data := range chunks {
			chunk := make([]byte, 7, 7+len(data))
			chunk[0] = byte(wire.ComStmtSendLongData)
			putLE32(chunk[1:], bid)
			chunk[5], chunk[6] = byte(param), byte(param>>8)
			if err := be.Command(append(chunk, data...)); err != nil {
				return s.lost(err)
			}
		}
	}
	s.dropLongData(cs)
	putLE32(payload[1:], bid)
	payload[cursorFlagOffset] = 0
	err = s.run1(be, payload, shapeResult, e)
	if c := s.relay.out.columns; c > 0 && c != int(cs.meta.columns) {
		s.r.metas.remove(cs.meta.key) // the table changed under the cached metadata
	}
	if cap(s.execBuf) > 64<<10 {
		s.execBuf = nil // do not keep a large parameter set around
	}
	return err
}

// bindTypes returns the EXECUTE payload with the parameter types bound: a client that says its
// types are unchanged gets the ones it last sent written in, since the backend statement may
// have been executed by another client since.
func (s *Session) bindTypes(cs *clientStmt, pkt []byte) []byte {
	n := int(cs.meta.params)
	if n == 0 {
		return pkt
	}
	flag := 10 + (n+7)/8 // command, id, flags, iteration count, NULL bitmap
	if len(pkt) <= flag {
		return pkt // malformed: the server will say so
	}
	if pkt[flag] == 1 {
		if len(pkt) >= flag+1+2*n {
			cs.types = append(cs.types[:0], pkt[flag+1:flag+1+2*n]...)
		}
		return pkt
	}
	if len(cs.types) != 2*n {
		return pkt
	}
	b := append(s.execBuf[:0], pkt[:flag]...)
	b = append(append(append(b, 1), cs.types...), pkt[flag+1:]...)
	s.execBuf = b
	return b
}

// dropLongData forgets a statement's buffered long data.
func (s *Session) dropLongData(cs *clientStmt) {
	s.longBytes -= cs.longSize
	cs.longData, cs.longSize, cs.longErr = nil, 0, false
}

// stmtClose answers COM_STMT_CLOSE (no reply): only the client's view goes; the backend
// connections keep the statement for whoever prepares it next.
func (s *Session) stmtClose(pkt []byte) {
	if len(pkt) < 5 {
		return
	}
	id := le32(pkt[1:])
	if cs := s.stmts[id]; cs != nil {
		s.dropLongData(cs)
		s.stmtBytes -= cs.meta.size
		delete(s.stmts, id)
	}
}
