package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/frontend"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// respShape says what a command's response looks like.
type respShape uint8

const (
	shapeNone       respShape = iota // no response (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA)
	shapeSimple                      // one OK, ERR or EOF packet
	shapeResult                      // OK, ERR, or result sets (COM_QUERY, COM_STMT_EXECUTE)
	shapeRows                        // rows then EOF (COM_STMT_FETCH)
	shapeFields                      // column definitions then EOF (COM_FIELD_LIST)
	shapePrepare                     // COM_STMT_PREPARE: OK with definitions, or ERR
	shapeStatistics                  // one string packet
)

// outcome is what the session learns from one response.
type outcome struct {
	// status is from the last OK or EOF; statusKnown is false when an ERR ended the response.
	status      wire.Status
	statusKnown bool
	errCode     uint16 // the ERR that ended the response, 0 if none
	warnings    uint16 // of the last OK or EOF
	// sawWarnings: some OK or EOF of the response counted warnings. In a multi-statement the
	// last one may count none while the diagnostics area keeps an earlier statement's (a
	// statement without a table leaves it).
	sawWarnings bool
	// lastInsertID is from the last OK with a non-zero value.
	lastInsertID uint64
	// affectedRows is from the last OK.
	affectedRows uint64
	// resultSets counts the result sets; lastRows is the row count of the last one.
	resultSets int
	lastRows   int64
	// schema is the default database the server reported changed (session tracking).
	schema        string
	schemaChanged bool
	// columns is the column count of the first result set (0 if none).
	columns int
	// vars are the system variables the server reported changed (session tracking).
	vars []varChange
	// stateChanged: the server reported a session state change it does not detail (user
	// variables, temporary tables, prepared statements, ...).
	stateChanged bool
	// txCharsKnown: the response reported the pending transaction characteristics;
	// txCharsPending: a one-shot SET TRANSACTION waits for the next transaction.
	txCharsKnown, txCharsPending bool
	// rows counts the rows sent, over all result sets (statistics).
	rows uint64
	// readClient: the client was read during the response (LOAD DATA LOCAL), which reuses the
	// buffer the command was read into.
	readClient bool
}

// errBackendProtocol marks a response the proxy could not follow; the connection is unusable.
var errBackendProtocol = errors.New("proxy: unexpected packet from backend")

// sideError records which leg failed, so the session knows whether the client or the backend
// connection is lost.
type sideError struct {
	client bool
	err    error
}

func (e *sideError) Error() string {
	side := "backend"
	if e.client {
		side = "client"
	}
	return side + ": " + e.err.Error()
}
func (e *sideError) Unwrap() error { return e.err }

func backendErr(err error) error {
	if err == nil {
		return nil
	}
	return &sideError{err: err}
}

// relay streams one command's response from be to cl, packet by packet, never holding more than
// a packet, and scans it for what the session must know. Writes are flushed at the end.
type relay struct {
	be *backend.Conn
	cl *frontend.Client
	// strip: the client did not negotiate SESSION_TRACK, so OK packets lose the state block.
	strip bool
	// ownTracking: the session set session_track_* itself, so the server flags what the client
	// asked to hear of; otherwise SESSION_STATE_CHANGED in an EOF comes from the proxy's own
	// tracking (a user variable, a lock, transaction characteristics), which a server under its
	// default settings does not report, and is cleared.
	ownTracking bool
	// scratch for rewritten OK packets; kept per session, bounded by one OK packet.
	scratch []byte
	out     outcome
}

func (r *relay) run(shape respShape) error {
	r.out = outcome{}
	var err error
	switch shape {
	case shapeNone:
		return nil
	case shapeSimple, shapeStatistics:
		err = r.single(shape == shapeStatistics)
	case shapeResult:
		err = r.results()
	case shapeFields:
		_, err = r.until(wire.IsEOF)
	}
	if err != nil {
		return err
	}
	if ferr := r.cl.Flush(); ferr != nil {
		return &sideError{client: true, err: ferr}
	}
	return nil
}

// next peeks the next packet from the backend.
func (r *relay) next() ([]byte, bool, error) {
	pkt, whole, err := r.be.PeekPacket()
	return pkt, whole, backendErr(err)
}

// pass forwards the peeked packet and any continuation packets after it.
func (r *relay) pass(pkt []byte, whole bool) error {
	for {
		length := int(uint32(pkt[0]) | uint32(pkt[1])<<8 | uint32(pkt[2])<<16)
		if rerr, werr := r.be.Forward(r.cl.Conn, pkt, whole); rerr != nil || werr != nil {
			if werr != nil {
				return &sideError{client: true, err: werr}
			}
			return backendErr(rerr)
		}
		if length < wire.MaxPayload {
			return nil
		}
		var err error
		if pkt, whole, err = r.next(); err != nil {
			return err
		}
	}
}

// terminal handles an OK, EOF or ERR that may end the response; it returns whether more result
// sets follow.
func (r *relay) terminal(pkt []byte, whole bool) (more bool, err error) {
	p := pkt[wire.HeaderSize:]
	switch p[0] {
	case wire.HeaderErr:
		if e, perr := wire.ParseErr(p); perr == nil {
			r.out.errCode = e.Code
		}
		r.out.statusKnown = false
		return false, r.pass(pkt, whole)
	case wire.HeaderEOF:
		w, st := wire.EOFStatus(p)
		r.out.warnings, r.out.status, r.out.statusKnown = w, st, true
		r.out.sawWarnings = r.out.sawWarnings || w > 0
		if st&wire.StatusSessionStateChange != 0 && r.strip && !r.ownTracking && len(p) >= 5 {
			p[4] &^= byte(wire.StatusSessionStateChange >> 8)
		}
		return st&wire.StatusMoreResults != 0, r.pass(pkt, whole)
	}
	return r.ok(pkt, whole)
}

// ok handles an OK packet: records status, insert id and tracked state, and forwards it,
// without the session-state block for clients that did not ask for it.
func (r *relay) ok(pkt []byte, whole bool) (more bool, err error) {
	if !whole {
		return false, backendErr(fmt.Errorf("%w: OK packet larger than the read buffer", errBackendProtocol))
	}
	p := pkt[wire.HeaderSize:]
	ok, err := wire.ParseOK(p, r.be.Caps&wire.ClientSessionTrack != 0)
	if err != nil {
		return false, backendErr(err)
	}
	r.out.status, r.out.statusKnown, r.out.warnings = ok.Status, true, ok.Warnings
	r.out.sawWarnings = r.out.sawWarnings || ok.Warnings > 0
	r.out.affectedRows = ok.AffectedRows
	if ok.LastInsertID != 0 {
		r.out.lastInsertID = ok.LastInsertID
	}
	if len(ok.SessionState) > 0 {
		err = wire.EachStateChange(ok.SessionState, func(ch wire.StateChange) error {
			switch ch.Type {
			case wire.TrackSchema:
				r.out.schema, r.out.schemaChanged = string(ch.Name), true
			case wire.TrackSystemVariables:
				r.out.vars = append(r.out.vars, varChange{name: strings.ToLower(string(ch.Name)), value: string(ch.Value)})
			case wire.TrackStateChange:
				r.out.stateChanged = true
			case wire.TrackTxCharacteristic:
				// The value is itself a length-encoded string: empty when nothing is pending.
				r.out.txCharsKnown = true
				r.out.txCharsPending = len(ch.Value) > 1 && !bytes.HasPrefix(ch.Value[1:], []byte("START TRANSACTION"))
			}
			return nil
		})
		if err != nil {
			return false, backendErr(err)
		}
	}
	more = ok.Status&wire.StatusMoreResults != 0
	if !r.strip {
		return more, r.pass(pkt, whole)
	}
	// The backend's OK carries the info as a length-encoded string and maybe a state block; a
	// client without SESSION_TRACK expects the info as the rest of the packet.
	r.scratch = wire.AppendOK(r.scratch[:0], p[0], ok, false)
	seq := pkt[3]
	if err := r.be.Skip(pkt, whole); err != nil {
		return false, backendErr(err)
	}
	if err := r.cl.WriteRaw(seq, r.scratch); err != nil {
		return false, &sideError{client: true, err: err}
	}
	if cap(r.scratch) > 4096 {
		r.scratch = nil
	}
	return more, nil
}

func (r *relay) single(statistics bool) error {
	pkt, whole, err := r.next()
	if err != nil {
		return err
	}
	if statistics || len(pkt) == wire.HeaderSize {
		return r.pass(pkt, whole)
	}
	_, err = r.terminal(pkt, whole)
	return err
}

// results follows OK | ERR | result set, repeated while MORE_RESULTS_EXISTS.
func (r *relay) results() error {
	for {
		pkt, whole, err := r.next()
		if err != nil {
			return err
		}
		if len(pkt) == wire.HeaderSize {
			return backendErr(fmt.Errorf("%w: empty packet", errBackendProtocol))
		}
		switch pkt[wire.HeaderSize] {
		case wire.HeaderOK, wire.HeaderErr:
			more, err := r.terminal(pkt, whole)
			if err != nil || !more {
				return err
			}
			continue
		case wire.HeaderLocalInfile:
			more, err := r.localInfile(pkt, whole)
			if err != nil || !more {
				return err
			}
			continue
		}
		// A result set: column count, definitions, EOF, rows, EOF.
		if n, _, err := wire.ReadLenenc(pkt[wire.HeaderSize:]); err == nil && r.out.columns == 0 {
			r.out.columns = int(n)
		}
		if err := r.pass(pkt, whole); err != nil {
			return err
		}
		if _, err := r.until(wire.IsEOF); err != nil {
			return err
		}
		if r.out.errCode != 0 {
			return nil
		}
		if r.out.status&wire.StatusCursorExists != 0 {
			return nil // COM_STMT_EXECUTE with a cursor: rows come by COM_STMT_FETCH
		}
		r.out.resultSets++
		more, err := r.rowsThenEnd()
		if err != nil || !more {
			return err
		}
	}
}

// rowsThenEnd forwards rows until the EOF or ERR that ends them, counting them.
func (r *relay) rowsThenEnd() (more bool, err error) {
	r.out.lastRows = 0
	for {
		pkt, whole, err := r.next()
		if err != nil {
			return false, err
		}
		p := pkt[wire.HeaderSize:]
		if len(p) > 0 && (p[0] == wire.HeaderErr || wire.IsEOF(p)) {
			return r.terminal(pkt, whole)
		}
		r.out.lastRows++
		r.out.rows++
		if err := r.pass(pkt, whole); err != nil {
			return false, err
		}
	}
}

// until forwards packets up to and including the first for which end is true, or an ERR.
func (r *relay) until(end func([]byte) bool) (more bool, err error) {
	for {
		pkt, whole, err := r.next()
		if err != nil {
			return false, err
		}
		p := pkt[wire.HeaderSize:]
		if len(p) > 0 && (p[0] == wire.HeaderErr || end(p)) {
			return r.terminal(pkt, whole)
		}
		if err := r.pass(pkt, whole); err != nil {
			return false, err
		}
	}
}

// errInfileRefused is what a client that did not enable local files gets, as from a server.
var errInfileRefused = &wire.Error{Code: 1148, SQLState: "42000",
	Message: "The used command is not allowed with this MariaDB version"}

// localInfile relays LOAD DATA LOCAL INFILE: the server's request goes to the client, the file's
// packets stream from the client to the server until the empty packet that ends it, and the
// server's OK or ERR comes back. Sequence ids run on across both directions, so packets pass as
// they are. A client that did not enable local files is refused (ERROR 1148) and the server gets
// an empty file.
func (r *relay) localInfile(pkt []byte, whole bool) (more bool, err error) {
	if r.cl.Caps&wire.ClientLocalFiles == 0 {
		seq := pkt[3]
		if err := r.be.Skip(pkt, whole); err != nil {
			return false, backendErr(err)
		}
		r.be.Seq = seq + 1
		if err := r.be.WritePacket(nil); err != nil {
			return false, backendErr(err)
		}
		if err := r.be.Flush(); err != nil {
			return false, backendErr(err)
		}
		rpkt, rwhole, err := r.next()
		if err != nil {
			return false, err
		}
		if err := r.be.Skip(rpkt, rwhole); err != nil {
			return false, backendErr(err)
		}
		r.cl.Seq = seq
		r.out.errCode = errInfileRefused.Code
		if err := r.cl.WritePacket(wire.AppendErr(nil, errInfileRefused)); err != nil {
			return false, &sideError{client: true, err: err}
		}
		return false, nil
	}
	if err := r.pass(pkt, whole); err != nil {
		return false, err
	}
	if err := r.cl.Flush(); err != nil {
		return false, &sideError{client: true, err: err}
	}
	r.out.readClient = true
	for {
		cpkt, cwhole, err := r.cl.PeekPacket()
		if err != nil {
			return false, &sideError{client: true, err: err}
		}
		length := int(uint32(cpkt[0]) | uint32(cpkt[1])<<8 | uint32(cpkt[2])<<16)
		if rerr, werr := r.cl.Forward(r.be.Conn, cpkt, cwhole); rerr != nil || werr != nil {
			if rerr != nil {
				return false, &sideError{client: true, err: rerr}
			}
			return false, backendErr(werr)
		}
		if length == 0 {
			break
		}
	}
	if err := r.be.Flush(); err != nil {
		return false, backendErr(err)
	}
	rpkt, rwhole, err := r.next()
	if err != nil {
		return false, err
	}
	return r.terminal(rpkt, rwhole)
}
