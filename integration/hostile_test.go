package integration

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// Bad input gets an error or a closed connection, never a hang, and everyone else is served.
func TestHostileClients(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 2)
	cfg.Proxy.HandshakeTimeout.Duration = time.Second
	cfg.Proxy.MaxAllowedPacket = 1 << 20
	in := proxytest.Start(t, cfg)
	good := holdConn(t, proxyClient(t, in, "test"))

	closedWithin := func(what string, c net.Conn, d time.Duration) []byte {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(d))
		got, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: the proxy neither answered nor closed within %v", what, d)
		}
		return got
	}

	// Garbage instead of a handshake response.
	c, err := net.Dial("tcp", in.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write(append([]byte{40, 0, 0, 1}, bytes.Repeat([]byte{0xff}, 40)...))
	closedWithin("garbage handshake", c, 5*time.Second)
	c.Close()

	// Silence: the handshake deadline closes it.
	c, err = net.Dial("tcp", in.Addr())
	if err != nil {
		t.Fatal(err)
	}
	closedWithin("silent client", c, 5*time.Second)
	c.Close()

	// After login: a command over max_allowed_packet gets 1153 and the connection is closed
	// (the proxy reads no further than the header).
	raw, err := client.Connect(in.Addr(), "app", "secret", "test")
	if err != nil {
		t.Fatal(err)
	}
	nc := raw.Conn.Conn
	n := 2 << 20
	_, _ = nc.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0, 0x03})
	got := closedWithin("oversized packet", nc, 10*time.Second)
	if !strings.Contains(string(got), "max_allowed_packet") {
		t.Fatalf("oversized packet: got %q, want ERROR 1153", got)
	}
	raw.Close()

	// After login: a command with the wrong sequence id closes the connection.
	raw, err = client.Connect(in.Addr(), "app", "secret", "test")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Conn.Conn.Write([]byte{9, 0, 0, 7, 0x03, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1'})
	closedWithin("out-of-sequence packet", raw.Conn.Conn, 5*time.Second)
	raw.Close()

	// Truncated binary-protocol commands get errors, the connection stays usable.
	raw, err = client.Connect(in.Addr(), "app", "secret", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]byte{{0x17}, {0x17, 1, 0}, {0x18, 1}, {0x19}, {0x1a}, {0x1c, 1, 0, 0, 0}, {0x11}, {0x99}} {
		if cmd[0] == 0x11 {
			continue // COM_CHANGE_USER ends the connection on failure, as MySQL does
		}
		raw.Conn.ResetSequence()
		if err := raw.Conn.WritePacket(append([]byte{0, 0, 0, 0}, cmd...)); err != nil {
			t.Fatal(err)
		}
		if cmd[0] == 0x18 || cmd[0] == 0x19 {
			continue // no reply by protocol
		}
		p, err := raw.Conn.ReadPacket()
		if err != nil || p[0] != 0xff {
			t.Fatalf("command %x: got %x, %v; want an ERR packet", cmd, p, err)
		}
	}
	if r, err := raw.Execute("SELECT 1"); err != nil || r.RowNumber() != 1 {
		t.Fatalf("after the malformed commands: %v", err)
	}
	raw.Close()
	mustWork(t, "the well-behaved client", good)
}
