package frontend

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// errHandshakeTooLarge ends a login that sent more bytes than any real handshake needs.
var errHandshakeTooLarge = errors.New("frontend: handshake exceeds the byte limit")

// limitConn bounds the bytes read before login completes; lift removes the bound. It also adds
// capability flags to the initial handshake go-mysql writes (its server cannot offer
// MULTI_STATEMENTS or FOUND_ROWS, and clients such as go-sql-driver only use what is offered),
// puts the proxy's connection id in it (go-mysql numbers connections from 10001, where server
// thread ids are too) and a fresh session's status (go-mysql sends none).
type limitConn struct {
	net.Conn
	left    int64
	lifted  atomic.Bool
	addCaps wire.Capability
	id      uint32
	status  wire.Status
	wrote   bool
}

// Write patches the connection id, the capability flags and the status of the first packet, the
// initial handshake (v10): protocol version, version string NUL, connection id (4), scramble part
// 1 (8), filler (1), capabilities low 16 bits, collation (1), status (2), capabilities high 16
// bits.
func (c *limitConn) Write(p []byte) (int, error) {
	if !c.wrote {
		c.wrote = true
		if i := bytes.IndexByte(p[min(len(p), wire.HeaderSize+1):], 0); len(p) > wire.HeaderSize && p[wire.HeaderSize] == 10 && i >= 0 {
			idAt := wire.HeaderSize + 1 + i + 1
			lo := idAt + 4 + 8 + 1
			hi := lo + 2 + 1 + 2
			if hi+2 <= len(p) {
				b := append([]byte(nil), p...)
				binary.LittleEndian.PutUint32(b[idAt:], c.id)
				caps := uint32(b[lo]) | uint32(b[lo+1])<<8 | uint32(b[hi])<<16 | uint32(b[hi+1])<<24
				caps |= uint32(c.addCaps)
				b[lo], b[lo+1], b[hi], b[hi+1] = byte(caps), byte(caps>>8), byte(caps>>16), byte(caps>>24)
				binary.LittleEndian.PutUint16(b[lo+3:], uint16(c.status))
				return c.Conn.Write(b)
			}
		}
	}
	return c.Conn.Write(p)
}

func (c *limitConn) Read(p []byte) (int, error) {
	if c.lifted.Load() {
		return c.Conn.Read(p)
	}
	if c.left <= 0 {
		return 0, errHandshakeTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *limitConn) lift() { c.lifted.Store(true) }
