// Package loopback gives tests the two ends of a real TCP connection on 127.0.0.1, for code that
// reads sockets through their descriptors (net.Pipe has none).
package loopback

import (
	"net"
	"testing"
)

// Pair returns the dialling and the accepted end of a loopback TCP connection, closed in
// tb.Cleanup.
func Pair(tb testing.TB) (dialed, accepted net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	b := <-ch
	if b == nil {
		tb.Fatal("loopback: accept failed")
	}
	tb.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
