package frontend

import (
	"errors"
	"net"
	"sync/atomic"
)

// errHandshakeTooLarge ends a login that sent more bytes than any real handshake needs.
var errHandshakeTooLarge = errors.New("frontend: handshake exceeds the byte limit")

// limitConn bounds the bytes read before login completes; lift removes the bound.
type limitConn struct {
	net.Conn
	left   int64
	lifted atomic.Bool
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
