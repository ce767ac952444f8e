package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mysqlmux/mysqlmux/internal/loopback"
)

func TestWriteReadPacketSizes(t *testing.T) {
	a, b := pipe(t, 4096)
	for _, n := range []int{0, 1, 100, 4092, 4096, 70000, MaxPayload, MaxPayload + 5} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		done := make(chan error, 1)
		go func() {
			a.Seq = 0
			err := a.WritePacket(payload)
			if err == nil {
				err = a.Flush()
			}
			done <- err
		}()
		b.Seq = 0
		got, err := b.ReadPacket(32 << 20)
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("size %d: payload differs (got %d bytes)", n, len(got))
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		wantSeq := uint8(1 + n/MaxPayload)
		if b.Seq != wantSeq || a.Seq != wantSeq {
			t.Fatalf("size %d: seq %d/%d, want %d", n, a.Seq, b.Seq, wantSeq)
		}
	}
}

func TestReadPacketLimitAndSequence(t *testing.T) {
	a, b := pipe(t, 4096)
	a.Seq = 0
	_ = a.WritePacket(make([]byte, 100))
	_ = a.Flush()
	b.Seq = 0
	if _, err := b.ReadPacket(50); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("got %v, want ErrPacketTooLarge", err)
	}
	a2, b2 := pipe(t, 4096)
	a2.Seq = 3
	_ = a2.WritePacket([]byte{1})
	_ = a2.Flush()
	b2.Seq = 0
	if _, err := b2.ReadPacket(50); !errors.Is(err, ErrSequence) {
		t.Fatalf("got %v, want ErrSequence", err)
	}
}

// Forward must copy packets byte for byte, also those larger than the read buffer.
func TestForward(t *testing.T) {
	src, mid := pipe(t, 1024)
	mid2, dst := pipe(t, 1024)
	sizes := []int{0, 10, 1020, 1021, 5000, 100000}
	go func() {
		src.Seq = 0
		for _, n := range sizes {
			_ = src.WritePacket(bytes.Repeat([]byte{byte(n % 251)}, n))
		}
		_ = src.Flush()
	}()
	go func() {
		for range sizes {
			pkt, whole, err := mid.PeekPacket()
			if err != nil {
				return
			}
			if rerr, werr := mid.Forward(mid2, pkt, whole); rerr != nil || werr != nil {
				return
			}
		}
		_ = mid2.Flush()
	}()
	dst.Seq = 0
	for _, n := range sizes {
		got, err := dst.ReadPacket(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bytes.Repeat([]byte{byte(n % 251)}, n)) {
			t.Fatalf("size %d differs", n)
		}
	}
}

func BenchmarkForwardSmallPacket(b *testing.B) {
	src, mid := pipe(b, 64<<10)
	mid2, dst := pipe(b, 64<<10)
	payload := make([]byte, 200)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := dst.NetConn().Read(buf); err != nil {
				return
			}
		}
	}()
	const batch = 100
	b.ReportAllocs()
	b.SetBytes(int64(len(payload) + HeaderSize))
	for i := 0; i < b.N; i += batch {
		for j := 0; j < batch; j++ {
			_ = src.WritePacket(payload)
		}
		_ = src.Flush()
		for j := 0; j < batch; j++ {
			pkt, whole, err := mid.PeekPacket()
			if err != nil {
				b.Fatal(err)
			}
			if rerr, werr := mid.Forward(mid2, pkt, whole); rerr != nil || werr != nil {
				b.Fatal(rerr, werr)
			}
		}
		_ = mid2.Flush()
	}
}

// pipe returns two Conns over a loopback TCP connection.
func pipe(t testing.TB, readBuf int) (a, b *Conn) {
	c1, c2 := loopback.Pair(t)
	return NewConn(c1, readBuf, 4096), NewConn(c2, readBuf, 4096)
}

// SkipRest discards what is left of a refused packet, continuation packets included, and says
// which sequence id answers it.
func TestSkipRest(t *testing.T) {
	for _, n := range []int{100, MaxPayload, 2*MaxPayload + 10} {
		a, b := pipe(t, 4096)
		done := make(chan error, 1)
		go func() {
			a.Seq = 0
			_ = a.WritePacket(make([]byte, n))
			_ = a.WritePacket([]byte("next"))
			done <- a.Flush()
		}()
		b.Seq = 0
		if _, err := b.ReadPacket(50); !errors.Is(err, ErrPacketTooLarge) {
			t.Fatalf("size %d: got %v, want ErrPacketTooLarge", n, err)
		}
		seq, err := b.SkipRest(3 * MaxPayload)
		if want := uint8(1 + n/MaxPayload); err != nil || seq != want {
			t.Fatalf("size %d: SkipRest = %d, %v; want %d", n, seq, err, want)
		}
		b.Seq = seq
		if p, err := b.ReadPacket(50); err != nil || string(p) != "next" {
			t.Fatalf("size %d: the packet after: %q, %v", n, p, err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
