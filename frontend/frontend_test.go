package frontend

import (
	"bytes"
	"encoding/binary"
	"math"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/loopback"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// parkedClient returns a Client over one end of a socket pair, and the other end.
func parkedClient(t *testing.T, p *parker) (*Client, net.Conn) {
	t.Helper()
	server, peer := loopback.Pair(t)
	fd := -1
	rc, _ := server.(*net.TCPConn).SyscallConn()
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	c := &Client{Conn: wire.NewConn(server, 1024, 1024), fd: fd, parker: p, finish: func() {}}
	return c, peer
}

func TestParkResumesOnDataDeadlineAndWake(t *testing.T) {
	p, err := newParker()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	c, peer := parkedClient(t, p)
	got := make(chan bool, 4)
	resume := func(timedOut bool) { got <- timedOut }

	// Data arriving resumes it, not timed out.
	if !c.Park(time.Time{}, resume) {
		t.Fatal("could not park")
	}
	select {
	case <-got:
		t.Fatal("resumed before any data")
	case <-time.After(50 * time.Millisecond):
	}
	_, _ = peer.Write([]byte{1, 0, 0, 0, 14})
	if timedOut := <-got; timedOut {
		t.Fatal("resumed as timed out on data")
	}
	if _, err := c.ReadPacket(16); err != nil {
		t.Fatal(err)
	}

	// The deadline resumes it, timed out.
	if !c.Park(time.Now().Add(50*time.Millisecond), resume) {
		t.Fatal("could not park")
	}
	select {
	case timedOut := <-got:
		if !timedOut {
			t.Fatal("deadline resume not marked timed out")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("deadline did not resume the client")
	}

	// Wake resumes it at once.
	if !c.Park(time.Time{}, resume) {
		t.Fatal("could not park")
	}
	c.Wake()
	if timedOut := <-got; timedOut {
		t.Fatal("wake marked as timed out")
	}
	if c.parkedID() != 0 {
		t.Fatal("still parked after wake")
	}
}

func TestParkRefusesBufferedAndResumesOnClose(t *testing.T) {
	p, err := newParker()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	c, peer := parkedClient(t, p)
	got := make(chan bool, 2)
	resume := func(timedOut bool) { got <- timedOut }
	// Two packets arrive together; after reading the first, the second is buffered.
	_, _ = peer.Write([]byte{1, 0, 0, 0, 14, 1, 0, 0, 0, 14})
	time.Sleep(20 * time.Millisecond)
	if _, err := c.ReadPacket(16); err != nil {
		t.Fatal(err)
	}
	if c.Park(time.Time{}, resume) {
		t.Fatal("parked with a packet already read into the buffer")
	}
	c.Seq = 0
	if _, err := c.ReadPacket(16); err != nil {
		t.Fatal(err)
	}
	if !c.Park(time.Time{}, resume) {
		t.Fatal("could not park")
	}
	_ = c.Close()
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not resume the parked client")
	}
}

// The initial handshake go-mysql writes gets the extra capability flags and the proxy's
// connection id.
func TestLimitConnPatchesHandshake(t *testing.T) {
	a, b := loopback.Pair(t)
	lc := &limitConn{Conn: a, left: 1 << 20, addCaps: extraCaps, id: ClientIDBase + 0x010203, status: wire.StatusAutocommit}
	// protocol 10, "5.5.5-x\0", conn id, 8 bytes scramble, filler, caps low, collation,
	// status, caps high, rest.
	payload := append([]byte{10}, "5.5.5-x\x00"...)
	payload = append(payload, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0)
	payload = append(payload, 0x00, 0x82, 45, 2, 0, 0x08, 0x00, 21, 0)
	pkt := append([]byte{byte(len(payload)), 0, 0, 0}, payload...)
	if _, err := lc.Write(pkt); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(pkt))
	if _, err := b.Read(got); err != nil {
		t.Fatal(err)
	}
	lo := 4 + 1 + len("5.5.5-x\x00") + 4 + 8 + 1
	caps := wire.Capability(uint32(got[lo]) | uint32(got[lo+1])<<8 | uint32(got[lo+5])<<16 | uint32(got[lo+6])<<24)
	if caps&extraCaps != extraCaps || caps&wire.ClientProtocol41 == 0 || caps&wire.ClientPluginAuth == 0 {
		t.Fatalf("capabilities after the patch: %v", caps)
	}
	idAt := 4 + 1 + len("5.5.5-x\x00")
	if id := binary.LittleEndian.Uint32(got[idAt:]); id != lc.id {
		t.Fatalf("connection id after the patch: %d, want %d", id, lc.id)
	}
	if st := wire.Status(binary.LittleEndian.Uint16(got[lo+3:])); st != wire.StatusAutocommit {
		t.Fatalf("status after the patch: %v, want AUTOCOMMIT", st)
	}
	if !bytes.Equal(got[:idAt], pkt[:idAt]) || !bytes.Equal(got[idAt+4:lo], pkt[idAt+4:lo]) || got[lo+2] != pkt[lo+2] || !bytes.Equal(got[lo+7:], pkt[lo+7:]) {
		t.Fatal("bytes other than the id, the capabilities and the status changed")
	}
	// Later writes pass unchanged.
	if _, err := lc.Write(pkt); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(got); err != nil || !bytes.Equal(got, pkt) {
		t.Fatal("a second write was altered")
	}
}

func TestParseChangeUser(t *testing.T) {
	p := []byte{byte(wire.ComChangeUser)}
	p = append(p, "other\x00"...)
	p = append(p, 20)
	p = append(p, bytes.Repeat([]byte{7}, 20)...)
	p = append(p, "test2\x00"...)
	p = append(p, 8, 0)
	p = append(p, "mysql_native_password\x00"...)
	cu, err := parseChangeUser(p, wire.ClientSecureConnection|wire.ClientPluginAuth|wire.ClientProtocol41)
	if err != nil || cu.User != "other" || cu.DB != "test2" || cu.Collation != 8 {
		t.Fatalf("got %+v, %v", cu, err)
	}
	if _, err := parseChangeUser([]byte{byte(wire.ComChangeUser), 'x'}, wire.ClientSecureConnection); err == nil {
		t.Fatal("a truncated COM_CHANGE_USER parsed")
	}
}

func FuzzParseChangeUser(f *testing.F) {
	f.Add([]byte("\x11app\x00\x14aaaaaaaaaaaaaaaaaaaa\x00test\x00-\x00mysql_native_password\x00"), uint32(wire.ClientSecureConnection|wire.ClientPluginAuth))
	f.Add([]byte("\x11"), uint32(0))
	f.Fuzz(func(t *testing.T, p []byte, caps uint32) {
		if len(p) == 0 {
			return
		}
		_, _ = parseChangeUser(p, wire.Capability(caps))
	})
}

func TestClientIDsStayAboveServerThreadIDs(t *testing.T) {
	var s Server
	if id := s.newID(); id != ClientIDBase+1 {
		t.Fatalf("first id %d, want %d", id, ClientIDBase+1)
	}
	s.nextID.Store(math.MaxInt32 - 2)
	got := []uint32{s.newID(), s.newID(), s.newID()}
	if want := []uint32{math.MaxInt32 - 1, ClientIDBase + 1, ClientIDBase + 2}; !slices.Equal(got, want) {
		t.Fatalf("ids around the wrap: %v, want %v", got, want)
	}
}
