// Package backend holds the server leg: dialling and logging in to MariaDB/MySQL servers, packet
// I/O on those connections, and the capped pool per server with its wait queue.
package backend

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Buffer sizes of a backend connection. Backends are few (the pool cap), so a large read buffer
// that lets most result packets be forwarded without a copy is cheap.
const (
	readBufferSize  = 64 << 10
	writeBufferSize = 16 << 10
)

// ConnectFlags are the capability flags fixed at login that change what statements return, so a
// client may only borrow a connection opened with the same ones.
const ConnectFlags = wire.ClientFoundRows | wire.ClientIgnoreSpace | wire.ClientMultiStatements

// Key says which connections a client may borrow: authenticated as User, opened with Flags
// (a subset of ConnectFlags).
type Key struct {
	User  string
	Flags wire.Capability
}

// Conn is one authenticated server connection. The proxy session that borrows it owns it until
// it gives it back; the pool owns it while idle.
type Conn struct {
	*wire.Conn

	// ThreadID is the server's connection id (set at login).
	ThreadID uint32
	// Addr is the server's address (set at login).
	Addr string
	// Key is fixed at login.
	Key Key
	// Caps are the capabilities negotiated at login.
	Caps wire.Capability
	// Version is the server's version string from its handshake.
	Version string

	// DB is the default database. Set at login, then by the borrowing session from each response
	// (session tracking reports every change, so it is authoritative).
	DB string
	// State is the session state the connection carries, opaque to this package: nil at login
	// and after Reset, then whatever the last borrowing session left (it sets this; the proxy
	// replays differences, so it must be exact).
	State any

	// MultiStatements is the server's multi-statement option: from Key.Flags at login, then
	// changed by COM_SET_OPTION (the borrowing session keeps it exact; Reset restores the login's).
	MultiStatements bool

	// InsertID is the connection's LAST_INSERT_ID(), as the borrowing sessions know it: 0 at
	// login and after Reset; InsertIDUnknown when a statement may have changed it unseen.
	InsertID        uint64
	InsertIDUnknown bool

	// closed: Close was called, perhaps from another goroutine while a session held the
	// connection (a KILL of that session); the pool never lends it again.
	closed atomic.Bool

	// Stmts are the statements prepared on this connection (set up by the proxy).
	Stmts *StmtCache

	// initSQL runs after login and after every reset (the proxy's session-tracking settings).
	initSQL string

	created  time.Time
	lastUsed time.Time
}

// Age reports how long ago the connection was opened.
func (c *Conn) Age() time.Duration { return time.Since(c.created) }

// Dialer opens authenticated connections to one server.
type Dialer struct {
	Addr string
	// Password returns the password for user; false if the user is unknown. It is called at every
	// dial so a reloaded password takes effect for new connections.
	Password func(user string) (string, bool)
	// Timeout returns the bound on dial plus login (read at every dial, so a reload applies);
	// nil or 0: none.
	Timeout func() time.Duration
	// InitSQL, if set, runs on every new connection and after every reset.
	InitSQL string
	// MaxStmts bounds the statements the proxy keeps prepared on one connection (default 128).
	MaxStmts int

	tls atomic.Pointer[tls.Config] // nil: plain connections
}

// SetTLS makes new connections use TLS with cfg (nil: none). Open connections keep theirs.
func (d *Dialer) SetTLS(cfg *tls.Config) { d.tls.Store(cfg) }

// TLS is what SetTLS set.
func (d *Dialer) TLS() *tls.Config { return d.tls.Load() }

func (d *Dialer) timeout() time.Duration {
	if d.Timeout == nil {
		return 0
	}
	return d.Timeout()
}

// TLSError is a TLS handshake with a backend that failed on its own terms (a certificate that
// does not verify, no TLS on the server): trying again will not help.
type TLSError struct {
	Addr string
	Err  error
}

func (e *TLSError) Error() string { return fmt.Sprintf("backend %s: %v", e.Addr, e.Err) }
func (e *TLSError) Unwrap() error { return e.Err }

func isTLSFailure(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		record    tls.RecordHeaderError
		authority x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
	)
	return errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &record) ||
		errors.As(err, &authority) || errors.As(err, &invalid) || errors.As(err, &hostname)
}

// ErrUnknownUser is returned when the dialer has no password for the key's user.
var ErrUnknownUser = errors.New("backend: no credentials for user")

// Dial opens a connection for key with db as the default database ("" for none).
func (d *Dialer) Dial(ctx context.Context, key Key, db string) (*Conn, error) {
	pw, ok := d.Password(key.User)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownUser, key.User)
	}
	if t := d.timeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	var nd net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := nd.DialContext(ctx, network, addr)
		if err == nil {
			if dl, ok := ctx.Deadline(); ok {
				_ = nc.SetDeadline(dl) // bound the login; cleared below
			}
		}
		return nc, err
	}
	configure := func(c *client.Conn) error {
		// go-mysql's defaults are wrong for raw forwarding: EOF style and query attributes must
		// match what our clients negotiate (the frontend never offers either).
		c.UnsetCapability(mysql.CLIENT_DEPRECATE_EOF)
		c.UnsetCapability(mysql.CLIENT_QUERY_ATTRIBUTES)
		// LOCAL_FILES: the proxy relays LOAD DATA LOCAL INFILE for clients that enabled it and
		// refuses it for the others, as a server would.
		for _, f := range []uint32{mysql.CLIENT_MULTI_RESULTS, mysql.CLIENT_PS_MULTI_RESULTS, mysql.CLIENT_SESSION_TRACK, mysql.CLIENT_LOCAL_FILES} {
			if err := c.SetCapability(f); err != nil {
				return err
			}
		}
		for _, f := range []wire.Capability{wire.ClientFoundRows, wire.ClientIgnoreSpace, wire.ClientMultiStatements} {
			if key.Flags&f != 0 {
				if err := c.SetCapability(uint32(f)); err != nil {
					return err
				}
			} else {
				c.UnsetCapability(uint32(f))
			}
		}
		if t := d.tls.Load(); t != nil {
			c.SetTLSConfig(t.Clone())
		}
		host, _ := os.Hostname()
		c.SetAttributes(map[string]string{"program_name": "mysqlmux", "_client_host": host})
		return c.SetCollation("utf8mb4_general_ci")
	}
	cc, err := client.ConnectWithDialer(ctx, Network(d.Addr), d.Addr, key.User, pw, db, dial, configure)
	if err != nil {
		if isTLSFailure(err) {
			return nil, &TLSError{Addr: d.Addr, Err: err}
		}
		if cause := ended(ctx); cause != nil {
			// go-mysql reports a read that timed out as text: say it was the deadline, so the
			// pool can tell a server too busy to answer from one that is down.
			return nil, fmt.Errorf("backend %s: %w: %w", d.Addr, cause, err)
		}
		return nil, fmt.Errorf("backend %s: %w", d.Addr, err)
	}
	nc := cc.Conn.Conn
	_ = nc.SetDeadline(time.Time{})
	var caps wire.Capability
	for bit := 0; bit < 32; bit++ {
		if cc.HasCapability(1 << bit) {
			caps |= 1 << bit
		}
	}
	now := time.Now()
	c := &Conn{
		Conn:     wire.NewConn(nc, readBufferSize, writeBufferSize),
		ThreadID: cc.GetConnectionID(),
		Addr:     d.Addr,
		Key:      key,
		Caps:     caps,
		Version:  cc.GetServerVersion(),
		DB:       db,
		initSQL:  d.InitSQL,
		Stmts:    NewStmtCache(cmp.Or(d.MaxStmts, 128)),

		MultiStatements: key.Flags&wire.ClientMultiStatements != 0,
		created:         now,
		lastUsed:        now,
	}
	if c.initSQL != "" {
		if dl, ok := ctx.Deadline(); ok {
			_ = nc.SetDeadline(dl)
		}
		err := c.Roundtrip(append([]byte{byte(wire.ComQuery)}, c.initSQL...))
		_ = nc.SetDeadline(time.Time{})
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("backend %s: initializing connection: %w", d.Addr, err)
		}
	}
	return c, nil
}

// ended says why ctx is over, or nil. Its deadline counts from the moment it passes: the socket
// deadline set from it may fire before the context's own timer does.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// Alive reports whether an idle connection is still usable: the server has not closed it and
// sent nothing unasked. It costs one non-blocking peek at the socket (a deadline in the past would
// not do: Go reports the timeout without looking at the socket).
func (c *Conn) Alive() bool {
	if c.Buffered() > 0 {
		return false
	}
	nc := c.NetConn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn() // anything the server sent (an alert, an error before closing) shows there
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}

// Command starts a new command: resets the sequence and buffers payload as packet 0.
func (c *Conn) Command(payload []byte) error {
	c.Seq = 0
	return c.WritePacket(payload)
}

// Roundtrip sends a command whose reply is a single OK or ERR packet and waits for that reply.
func (c *Conn) Roundtrip(payload []byte) error {
	if err := c.Command(payload); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	return c.ReadOKOrErr()
}

// ReadOKOrErr reads the one-packet reply to a command: nil for OK (or EOF), *wire.Error for
// ERR. Replies to pipelined commands each start at sequence id 1.
func (c *Conn) ReadOKOrErr() error {
	c.Seq = 1
	p, err := c.ReadPacket(wire.MaxPayload)
	if err != nil {
		return err
	}
	switch {
	case len(p) > 0 && p[0] == wire.HeaderErr:
		e, perr := wire.ParseErr(p)
		if perr != nil {
			return perr
		}
		return e
	case len(p) > 0 && (p[0] == wire.HeaderOK || p[0] == wire.HeaderEOF):
		return nil
	}
	return fmt.Errorf("%w: unexpected reply 0x%02x", wire.ErrMalformed, p[0])
}

// Reset sends COM_RESET_CONNECTION: the server rolls back, drops temporary tables, user
// variables, locks and prepared statements, and restores the login character set and the global
// variable values. The default database stays. The init statement, and what else makes the
// connection as it was at login (IGNORE_SPACE, the multi-statement option), go in the same
// round trip.
func (c *Conn) Reset() error {
	cmds := [][]byte{{byte(wire.ComResetConnection)}}
	if c.initSQL != "" {
		cmds = append(cmds, append([]byte{byte(wire.ComQuery)}, c.initSQL...))
	}
	if c.Key.Flags&wire.ClientIgnoreSpace != 0 {
		// The server drops the IGNORE_SPACE a login with CLIENT_IGNORE_SPACE put in sql_mode:
		// put it back, so every connection of the key is fresh in the same way.
		cmds = append(cmds, append([]byte{byte(wire.ComQuery)}, ignoreSpaceSQL...))
	}
	login := c.Key.Flags&wire.ClientMultiStatements != 0
	if c.MultiStatements != login {
		cmds = append(cmds, SetOptionCommand(login))
	}
	for _, cmd := range cmds {
		if err := c.Command(cmd); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return err
	}
	var err error
	for range cmds {
		if err2 := c.ReadOKOrErr(); err == nil {
			err = err2
		}
	}
	c.Stmts.Clear() // the server closed them, whatever the outcome
	if err != nil {
		return err
	}
	c.State = nil
	c.MultiStatements = login
	c.InsertID, c.InsertIDUnknown = 0, false
	return nil
}

// ignoreSpaceSQL adds IGNORE_SPACE to the session's sql_mode.
const ignoreSpaceSQL = "SET SESSION sql_mode = IF(FIND_IN_SET('IGNORE_SPACE', @@sql_mode), @@sql_mode, " +
	"CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'IGNORE_SPACE'))"

// SetOptionCommand is the COM_SET_OPTION that turns multi-statements on or off.
func SetOptionCommand(on bool) []byte {
	if on {
		return []byte{byte(wire.ComSetOption), 0, 0} // MYSQL_OPTION_MULTI_STATEMENTS_ON
	}
	return []byte{byte(wire.ComSetOption), 1, 0}
}

// QueryValue runs a query returning one row of one column and returns it as text; null reports
// SQL NULL. For the proxy's own small checks, not for client statements.
func (c *Conn) QueryValue(query string) (value string, null bool, err error) {
	seen := false
	err = c.QueryRows(query, func(row []*string) error {
		if !seen && len(row) > 0 {
			seen = true
			if row[0] == nil {
				null = true
			} else {
				value = *row[0]
			}
		}
		return nil
	})
	return value, null, err
}

// QueryRows runs a query of the proxy's own and calls fn with each row, its columns as text (nil
// for SQL NULL). The whole result is read even when fn fails, so the connection stays usable;
// fn's first error is returned.
func (c *Conn) QueryRows(query string, fn func(row []*string) error) error {
	if err := c.Command(append([]byte{byte(wire.ComQuery)}, query...)); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	_, err := c.ReadRows(func(_ []wire.Column, row []*string) error { return fn(row) })
	return err
}

// ReadRows reads the text result set that answers a query of the proxy's own, calling fn with
// the column definitions and each row (nil for SQL NULL), and returns the status of its end. The
// whole result is read even when fn fails; fn's first error is returned. An ERR is a
// *wire.Error.
func (c *Conn) ReadRows(fn func(cols []wire.Column, row []*string) error) (wire.Status, error) {
	c.Seq = 1
	p, err := c.ReadPacket(wire.MaxPayload)
	if err != nil {
		return 0, err
	}
	switch p[0] {
	case wire.HeaderErr:
		e, _ := wire.ParseErr(p)
		return 0, e
	case wire.HeaderOK:
		return 0, fmt.Errorf("%w: no result set", wire.ErrMalformed)
	}
	var cols []wire.Column
	names := make([]byte, 0, 128)
	if n, _, err := wire.ReadLenenc(p); err == nil && n > 0 && n <= 4096 {
		cols = make([]wire.Column, 0, n)
	}
	var fnErr error
	for eofs := 0; ; {
		p, err := c.ReadPacket(wire.MaxPayload)
		if err != nil {
			return 0, err
		}
		switch {
		case p[0] == wire.HeaderErr:
			e, _ := wire.ParseErr(p)
			return 0, e
		case wire.IsEOF(p):
			if eofs++; eofs == 2 {
				_, st := wire.EOFStatus(p)
				return st, fnErr
			}
		case eofs == 0:
			col, err := wire.ParseColumn(p)
			if err != nil {
				return 0, err
			}
			// The names share one buffer: a full one is left to the names in it, never
			// written again, and append moves on to a new one.
			start := len(names)
			names = append(names, col.Name...)
			col.Name = names[start:len(names):len(names)]
			cols = append(cols, col)
		case fnErr == nil:
			row, err := textRow(p)
			if err != nil {
				return 0, err
			}
			fnErr = fn(cols, row)
		}
	}
}

// textRow decodes a text-protocol row. A first pass checks it and counts its values and their
// bytes, so that the row takes three allocations whatever its width (the proxy reads one back
// with every COMMIT that leaves values unsure).
func textRow(p []byte) ([]*string, error) {
	fields, size := 0, 0
	for rest := p; len(rest) > 0; fields++ {
		if rest[0] == 0xfb {
			rest = rest[1:]
			continue
		}
		v, n, err := wire.ReadLenencString(rest)
		if err != nil {
			return nil, err
		}
		size += len(v)
		rest = rest[n:]
	}
	// The values share one string: a Builder never changes the bytes it has written.
	var b strings.Builder
	b.Grow(size)
	row, vals := make([]*string, fields), make([]string, fields)
	for i := 0; len(p) > 0; i++ {
		if p[0] == 0xfb {
			p = p[1:]
			continue
		}
		v, n, _ := wire.ReadLenencString(p)
		start := b.Len()
		b.Write(v)
		vals[i] = b.String()[start:]
		row[i] = &vals[i]
		p = p[n:]
	}
	return row, nil
}

// Network is how a backend address is dialled: an absolute path names a Unix socket (a server
// on the same host: no TCP stack on either side of the leg), anything else is host:port.
func Network(addr string) string {
	if strings.HasPrefix(addr, "/") {
		return "unix"
	}
	return "tcp"
}

// Close closes the connection. It may be called from another goroutine than the one using it
// (a KILL closes the connection its target holds): Release then drops it.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// Quit sends COM_QUIT and closes the connection.
func (c *Conn) Quit() {
	if c.Command([]byte{byte(wire.ComQuit)}) == nil {
		_ = c.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.Flush()
	}
	_ = c.Close()
}

// ProbeVersion reads the version string from a server's initial handshake, without logging in,
// so the proxy can announce the same version to its clients.
func ProbeVersion(ctx context.Context, addr string) (string, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, Network(addr), addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	p, err := wire.NewConn(nc, 4096, 64).ReadPacket(4096)
	if err != nil {
		return "", err
	}
	if len(p) < 2 || p[0] != 10 {
		return "", fmt.Errorf("backend %s: unexpected handshake", addr)
	}
	end := 1
	for end < len(p) && p[end] != 0 {
		end++
	}
	return string(p[1:end]), nil
}
