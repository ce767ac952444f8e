package wire

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mysqlmux/mysqlmux/internal/loopback"
)

// A pooled Conn reads a command into a small buffer, which is all it holds while the command
// waits; a packet or a forwarded stream larger than that moves to a large buffer, and the
// buffer goes back once read.
func TestPooledReadBuffers(t *testing.T) {
	c1, c2 := loopback.Pair(t)
	pool := NewBufferPool(16<<10, 4096)
	a, b := NewPooledConn(c1, pool), NewConn(c2, 4096, 4096)
	sink, sinkPeer := pipe(t, 4096)
	send := func(payload []byte) <-chan error {
		sent := make(chan error, 1)
		go func() {
			b.Seq = 0
			err := b.WritePacket(payload)
			if err == nil {
				err = b.Flush()
			}
			sent <- err
		}()
		return sent
	}
	for _, n := range []int{10, smallReadSize - HeaderSize, smallReadSize + 1, 10, 15 << 10, 40 << 10, 10} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		sent := send(payload)
		a.Seq = 0
		got, err := a.ReadPacket(1 << 20)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: read %d, %v", n, len(got), err)
		}
		if small := HeaderSize+n <= smallReadSize; small != a.r.small || (small && len(a.r.buf) != smallReadSize) {
			t.Errorf("%d bytes: held in a buffer of %d bytes (small %v)", n, len(a.r.buf), a.r.small)
		}
		a.Release()
		if a.r.buf != nil {
			t.Fatalf("%d bytes: the read buffer was not given back", n)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	}
	// A packet larger than every buffer, forwarded as it streams in.
	payload := bytes.Repeat([]byte{7}, 100<<10)
	sent := send(payload)
	pkt, whole, err := a.PeekPacket()
	if err != nil || whole {
		t.Fatalf("peek: whole %v, %v", whole, err)
	}
	done := make(chan error, 1)
	go func() {
		sink.Seq = 0
		got, err := sink.ReadPacket(1 << 20)
		if err == nil && !bytes.Equal(got, payload) {
			err = fmt.Errorf("forwarded packet: %d bytes, differs", len(got))
		}
		done <- err
	}()
	if rerr, werr := a.Forward(sinkPeer, pkt, whole); rerr != nil || werr != nil {
		t.Fatal(rerr, werr)
	}
	if err := sinkPeer.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
