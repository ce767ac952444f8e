package parity

import (
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Conn is a minimal MySQL client that records exactly what the server (or the proxy) answered:
// every OK packet's fields, every result set's column definitions and rows, status flags and
// warning counts, errors with their SQL state. It speaks the text and binary protocols, and the
// commands the proxy treats specially (COM_CHANGE_USER, COM_RESET_CONNECTION, COM_SET_OPTION,
// COM_INIT_DB). Used by one goroutine at a time.
type Conn struct {
	nc    net.Conn
	wc    *wire.Conn
	ID    uint32 // the connection id the handshake announced (a proxy client id, or a server thread id)
	caps  wire.Capability
	salt  []byte
	login Login
	dead  string // set once an I/O error broke the connection
}

// commandTimeout bounds one command: a statement blocked longer than this (a lock that nobody
// will release, a connection that never comes) is reported as lost, not waited for forever.
const commandTimeout = 60 * time.Second

// Close closes the socket at once (no COM_QUIT), as a client that drops does.
func (c *Conn) Close() error { return c.nc.Close() }

// Quit sends COM_QUIT and closes.
func (c *Conn) Quit() {
	c.wc.Seq = 0
	_ = c.wc.WritePacket([]byte{byte(wire.ComQuit)})
	_ = c.wc.Flush()
	_ = c.nc.Close()
}

// Abort closes the socket with a reset instead of a FIN, as a crashed client's kernel does.
func (c *Conn) Abort() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.nc.Close()
}

// send writes one command packet.
func (c *Conn) send(payload []byte) error {
	if c.dead != "" {
		return fmt.Errorf("connection already lost: %s", c.dead)
	}
	_ = c.nc.SetDeadline(time.Now().Add(commandTimeout))
	c.wc.Seq = 0
	if err := c.wc.WritePacket(payload); err != nil {
		return err
	}
	return c.wc.Flush()
}

// read reads the next response packet, copied.
func (c *Conn) read() ([]byte, error) {
	p, err := c.wc.ReadPacket(maxPacket)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), p...), nil
}

func (c *Conn) lost(o Outcome, err error) Outcome {
	c.dead = err.Error()
	o.Lost = err.Error()
	_ = c.nc.Close()
	return o
}

// errPacket returns the error an ERR packet carries (a *wire.Error), or why it cannot be read.
func errPacket(p []byte) error {
	e, err := wire.ParseErr(p)
	if err != nil {
		return err
	}
	return e
}

// failed ends o with the ERR packet p.
func (c *Conn) failed(o Outcome, p []byte) Outcome {
	err := errPacket(p)
	if e, ok := err.(*wire.Error); ok {
		o.Err = e
		return o
	}
	return c.lost(o, err)
}

// Query runs a COM_QUERY.
func (c *Conn) Query(sql string) Outcome {
	return c.command(append([]byte{byte(wire.ComQuery)}, sql...), false)
}

// InitDB sends COM_INIT_DB.
func (c *Conn) InitDB(db string) Outcome {
	return c.command(append([]byte{byte(wire.ComInitDB)}, db...), false)
}

// Ping sends COM_PING.
func (c *Conn) Ping() Outcome { return c.command([]byte{byte(wire.ComPing)}, false) }

// ResetConnection sends COM_RESET_CONNECTION.
func (c *Conn) ResetConnection() Outcome {
	return c.command([]byte{byte(wire.ComResetConnection)}, false)
}

// SetMultiStatements sends COM_SET_OPTION.
func (c *Conn) SetMultiStatements(on bool) Outcome {
	opt := byte(1)
	if on {
		opt = 0
	}
	return c.command([]byte{byte(wire.ComSetOption), opt, 0}, false)
}

// ProcessKill sends COM_PROCESS_KILL for id.
func (c *Conn) ProcessKill(id uint32) Outcome {
	return c.command([]byte{byte(wire.ComProcessKill), byte(id), byte(id >> 8), byte(id >> 16), byte(id >> 24)}, false)
}

// ChangeUser sends COM_CHANGE_USER and answers an authentication switch.
func (c *Conn) ChangeUser(user, password, db string) Outcome {
	p := append([]byte{byte(wire.ComChangeUser)}, user...)
	p = append(p, 0)
	auth := scramble(c.salt, password)
	p = append(p, byte(len(auth)))
	p = append(p, auth...)
	p = append(append(p, db...), 0)
	p = append(p, c.login.Collation, 0)
	p = append(append(p, nativeAuth...), 0)
	if err := c.send(p); err != nil {
		return c.lost(Outcome{}, err)
	}
	saved := c.login.Password
	c.login.Password = password
	err := c.authResult()
	c.login.Password = saved
	if we, ok := err.(*wire.Error); ok {
		return Outcome{Err: we}
	}
	if err != nil {
		return c.lost(Outcome{}, err)
	}
	c.login.User, c.login.DB, c.login.Password = user, db, password
	return Outcome{Results: []Result{{}}}
}

// command sends payload and reads the response: OK, ERR, or result sets, following
// MORE_RESULTS_EXISTS.
func (c *Conn) command(payload []byte, binary bool) Outcome {
	var o Outcome
	if err := c.send(payload); err != nil {
		return c.lost(o, err)
	}
	for {
		p, err := c.read()
		if err != nil {
			return c.lost(o, err)
		}
		var r Result
		switch {
		case len(p) == 0:
			return c.lost(o, wire.ErrMalformed)
		case p[0] == wire.HeaderErr:
			return c.failed(o, p)
		case p[0] == wire.HeaderOK || wire.IsEOF(p):
			// COM_SET_OPTION is answered with an EOF packet.
			if wire.IsEOF(p) {
				r.Warnings, r.Status = wire.EOFStatus(p)
			} else {
				ok, perr := wire.ParseOK(p, false)
				if perr != nil {
					return c.lost(o, perr)
				}
				r = Result{Affected: ok.AffectedRows, InsertID: ok.LastInsertID, Status: ok.Status,
					Warnings: ok.Warnings, Info: string(ok.Info)}
			}
		case p[0] == wire.HeaderLocalInfile:
			return c.lost(o, fmt.Errorf("parity: unexpected LOCAL INFILE request"))
		default:
			if err := c.readResultSet(p, binary, &r); err != nil {
				if we, ok := err.(*wire.Error); ok {
					o.Results = append(o.Results, r)
					o.Err = we
					return o
				}
				return c.lost(o, err)
			}
		}
		o.Results = append(o.Results, r)
		if r.Status&wire.StatusMoreResults == 0 {
			return o
		}
	}
}

// readResultSet reads column definitions and rows after the column-count packet p. An ERR
// instead of a row ends the set with that error.
func (c *Conn) readResultSet(p []byte, binary bool, r *Result) error {
	n, _, err := wire.ReadLenenc(p)
	if err != nil {
		return err
	}
	r.Set = true
	if err := c.readDefs(int(n), &r.Columns); err != nil {
		return err
	}
	for {
		p, err := c.read()
		if err != nil {
			return err
		}
		switch {
		case wire.IsEOF(p):
			r.Warnings, r.Status = wire.EOFStatus(p)
			return nil
		case len(p) > 0 && p[0] == wire.HeaderErr:
			return errPacket(p)
		case binary:
			r.addRow(hex.EncodeToString(p))
		default:
			row, err := renderText(p)
			if err != nil {
				return err
			}
			r.addRow(row)
		}
	}
}

// readDefs reads n column (or parameter) definitions and the EOF after them.
func (c *Conn) readDefs(n int, into *[]string) error {
	if n == 0 {
		return nil
	}
	for range n {
		p, err := c.read()
		if err != nil {
			return err
		}
		col, err := renderColumn(p)
		if err != nil {
			return err
		}
		*into = append(*into, col)
	}
	p, err := c.read()
	if err != nil {
		return err
	}
	if !wire.IsEOF(p) {
		return fmt.Errorf("parity: no EOF after %d definitions", n)
	}
	return nil
}

// Prepare sends COM_STMT_PREPARE; it returns the statement id (valid only on this connection).
func (c *Conn) Prepare(sql string) (uint32, Outcome) {
	var o Outcome
	if err := c.send(append([]byte{byte(wire.ComStmtPrepare)}, sql...)); err != nil {
		return 0, c.lost(o, err)
	}
	p, err := c.read()
	if err != nil {
		return 0, c.lost(o, err)
	}
	if len(p) > 0 && p[0] == wire.HeaderErr {
		return 0, c.failed(o, p)
	}
	if len(p) < 12 || p[0] != wire.HeaderOK {
		return 0, c.lost(o, wire.ErrMalformed)
	}
	id := uint32(p[1]) | uint32(p[2])<<8 | uint32(p[3])<<16 | uint32(p[4])<<24
	pr := &Prepared{Columns: int(uint16(p[5]) | uint16(p[6])<<8), Params: int(uint16(p[7]) | uint16(p[8])<<8),
		Warnings: uint16(p[10]) | uint16(p[11])<<8}
	if err := c.readDefs(pr.Params, &pr.Defs); err != nil {
		return 0, c.lost(o, err)
	}
	if err := c.readDefs(pr.Columns, &pr.Defs); err != nil {
		return 0, c.lost(o, err)
	}
	o.Prep = pr
	return id, o
}

// Execute sends COM_STMT_EXECUTE of statement id with args (int64, float64, string or nil).
func (c *Conn) Execute(id uint32, args []any) Outcome {
	p := []byte{byte(wire.ComStmtExecute), byte(id), byte(id >> 8), byte(id >> 16), byte(id >> 24), 0, 1, 0, 0, 0}
	if len(args) > 0 {
		nulls := make([]byte, (len(args)+7)/8)
		var types, values []byte
		for i, a := range args {
			switch v := a.(type) {
			case nil:
				nulls[i/8] |= 1 << (i % 8)
				types = append(types, 6, 0) // MYSQL_TYPE_NULL
			case int64:
				types = append(types, 8, 0) // MYSQL_TYPE_LONGLONG
				u := uint64(v)
				for k := range 8 {
					values = append(values, byte(u>>(8*k)))
				}
			case float64:
				types = append(types, 5, 0) // MYSQL_TYPE_DOUBLE
				u := math.Float64bits(v)
				for k := range 8 {
					values = append(values, byte(u>>(8*k)))
				}
			case string:
				types = append(types, 0xfd, 0) // MYSQL_TYPE_VAR_STRING
				values = wire.AppendLenencString(values, []byte(v))
			default:
				panic(fmt.Sprintf("parity: argument of type %T", a))
			}
		}
		p = append(p, nulls...)
		p = append(p, 1)
		p = append(p, types...)
		p = append(p, values...)
	}
	return c.command(p, true)
}

// CloseStmt sends COM_STMT_CLOSE (no response).
func (c *Conn) CloseStmt(id uint32) Outcome {
	if err := c.send([]byte{byte(wire.ComStmtClose), byte(id), byte(id >> 8), byte(id >> 16), byte(id >> 24)}); err != nil {
		return c.lost(Outcome{}, err)
	}
	return Outcome{NoReply: true}
}
