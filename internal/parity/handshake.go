package parity

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Login says how a parity connection logs in. The same Login (but for Addr and TLS) is used for a
// client's proxy connection and its direct twin, so both sessions start alike.
type Login struct {
	Addr      string // host:port, or the path of a Unix socket
	User      string
	Password  string
	DB        string // "" logs in without a default database
	Collation uint8  // the handshake's character set and collation id
	// Caps are optional capability flags on top of the fixed set (MULTI_STATEMENTS, FOUND_ROWS,
	// IGNORE_SPACE); flags the server does not offer are dropped.
	Caps wire.Capability
	TLS  *tls.Config // nil: plain TCP
}

// baseCaps are the flags every parity connection asks for. DEPRECATE_EOF, SESSION_TRACK and
// QUERY_ATTRIBUTES stay off so the proxy (which cannot offer them) and a server answer in the same
// shapes; MULTI_RESULTS and PS_MULTI_RESULTS are needed by CALL.
const baseCaps = wire.ClientLongPassword | wire.ClientLongFlag | wire.ClientProtocol41 |
	wire.ClientTransactions | wire.ClientSecureConnection | wire.ClientMultiResults |
	wire.ClientPSMultiResults | wire.ClientPluginAuth

// optionalCaps are the flags Login.Caps may add.
const optionalCaps = wire.ClientMultiStatements | wire.ClientFoundRows | wire.ClientIgnoreSpace

const (
	dialTimeout = 10 * time.Second
	maxPacket   = 16 << 20 // the largest response packet a parity connection accepts
	nativeAuth  = "mysql_native_password"
)

// greeting is what the initial handshake packet tells a client.
type greeting struct {
	id   uint32
	caps wire.Capability
	salt []byte
}

func parseGreeting(p []byte) (greeting, error) {
	var g greeting
	if len(p) > 0 && p[0] == wire.HeaderErr {
		return g, errPacket(p)
	}
	if len(p) < 1 || p[0] != 10 {
		return g, fmt.Errorf("parity: unexpected handshake protocol %v", p[:min(len(p), 1)])
	}
	i := bytes.IndexByte(p[1:], 0)
	if i < 0 {
		return g, wire.ErrMalformed
	}
	pos := 1 + i + 1
	// id(4) salt1(8) filler(1) capsLow(2) charset(1) status(2) capsHigh(2) saltLen(1) reserved(10)
	if len(p) < pos+31 {
		return g, wire.ErrMalformed
	}
	g.id = uint32(p[pos]) | uint32(p[pos+1])<<8 | uint32(p[pos+2])<<16 | uint32(p[pos+3])<<24
	g.salt = append(g.salt, p[pos+4:pos+12]...)
	g.caps = wire.Capability(uint32(p[pos+13]) | uint32(p[pos+14])<<8 | uint32(p[pos+18])<<16 | uint32(p[pos+19])<<24)
	saltLen := int(p[pos+20])
	pos += 31
	n := max(13, saltLen-8)
	if len(p) < pos+n {
		return g, wire.ErrMalformed
	}
	g.salt = append(g.salt, bytes.TrimRight(p[pos:pos+n], "\x00")...)
	return g, nil
}

// Dial connects and logs in.
func Dial(ctx context.Context, l Login) (*Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	network := "tcp"
	if strings.HasPrefix(l.Addr, "/") {
		network = "unix"
	}
	nc, err := d.DialContext(ctx, network, l.Addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, wc: wire.NewConn(nc, 16<<10, 16<<10), login: l}
	// A login through the proxy may wait for a backend connection (to check the database) as
	// long as a statement would.
	_ = nc.SetDeadline(time.Now().Add(commandTimeout))
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	_ = c.nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *Conn) handshake() error {
	p, err := c.wc.ReadPacket(maxPacket)
	if err != nil {
		return err
	}
	g, err := parseGreeting(p)
	if err != nil {
		return err
	}
	c.ID, c.salt = g.id, g.salt
	want := baseCaps | c.login.Caps&optionalCaps
	if c.login.DB != "" {
		want |= wire.ClientConnectWithDB
	}
	if c.login.TLS != nil {
		want |= wire.ClientSSL
	}
	c.caps = want & g.caps
	if c.login.TLS != nil {
		if c.caps&wire.ClientSSL == 0 {
			return errors.New("parity: the server does not offer TLS")
		}
		if err := c.wc.WritePacket(c.handshakeHead(nil)); err != nil {
			return err
		}
		if err := c.wc.Flush(); err != nil {
			return err
		}
		tc := tls.Client(c.nc, c.login.TLS)
		if err := tc.Handshake(); err != nil {
			return err
		}
		seq := c.wc.Seq
		c.nc, c.wc = tc, wire.NewConn(tc, 16<<10, 16<<10)
		c.wc.Seq = seq
	}
	resp := c.handshakeHead(nil)
	resp = append(resp, c.login.User...)
	resp = append(resp, 0)
	auth := scramble(c.salt, c.login.Password)
	resp = append(resp, byte(len(auth)))
	resp = append(resp, auth...)
	if c.caps&wire.ClientConnectWithDB != 0 {
		resp = append(append(resp, c.login.DB...), 0)
	}
	resp = append(append(resp, nativeAuth...), 0)
	if err := c.wc.WritePacket(resp); err != nil {
		return err
	}
	if err := c.wc.Flush(); err != nil {
		return err
	}
	return c.authResult()
}

// handshakeHead is the start shared by the SSL request and the handshake response.
func (c *Conn) handshakeHead(b []byte) []byte {
	caps := uint32(c.caps)
	b = append(b, byte(caps), byte(caps>>8), byte(caps>>16), byte(caps>>24))
	b = append(b, 0, 0, 0, 1) // max packet 16 MiB
	b = append(b, c.login.Collation)
	return append(b, make([]byte, 23)...)
}

// authResult reads the end of a login or COM_CHANGE_USER: OK, ERR, or a switch to
// mysql_native_password with a new salt (which the proxy always asks for), answered once.
func (c *Conn) authResult() error {
	for switched := false; ; switched = true {
		p, err := c.wc.ReadPacket(maxPacket)
		if err != nil {
			return err
		}
		switch {
		case len(p) > 0 && p[0] == wire.HeaderOK:
			return nil
		case len(p) > 0 && p[0] == wire.HeaderErr:
			return errPacket(p)
		case len(p) > 0 && p[0] == wire.HeaderEOF && !switched:
			plugin, data, _ := bytes.Cut(p[1:], []byte{0})
			if string(plugin) != nativeAuth {
				return fmt.Errorf("parity: server asks for auth plugin %q", plugin)
			}
			c.salt = bytes.TrimRight(data, "\x00")
			if err := c.wc.WritePacket(scramble(c.salt, c.login.Password)); err != nil {
				return err
			}
			if err := c.wc.Flush(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("parity: unexpected authentication packet %x", p[:min(len(p), 8)])
		}
	}
}

func scramble(salt []byte, password string) []byte {
	if password == "" {
		return nil
	}
	return mysql.CalcNativePassword(salt, []byte(password))
}
