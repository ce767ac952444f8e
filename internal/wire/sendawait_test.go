package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// echoPeer answers every packet b reads with the same payload, after delay.
func echoPeer(t *testing.T, b *Conn, delay time.Duration, packets int) <-chan error {
	done := make(chan error, 1)
	go func() {
		for range packets {
			b.Seq = 0
			p, err := b.ReadPacket(64 << 20)
			if err != nil {
				done <- err
				return
			}
			time.Sleep(delay)
			if err := b.WritePacket(p); err != nil {
				done <- err
				return
			}
			if err := b.Flush(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// SendAwait writes the command, says so once, and returns with the answer buffered, whether the
// answer comes at once or later, for commands small and larger than the socket buffers (the
// write then finishes outside the read).
func TestSendAwait(t *testing.T) {
	for _, tc := range []struct {
		size  int
		delay time.Duration
	}{{10, 0}, {10, 20 * time.Millisecond}, {100, 0}, {8 << 20, 0}, {8 << 20, 10 * time.Millisecond}} {
		a, b := pipe(t, 4096)
		peer := echoPeer(t, b, tc.delay, 3)
		for i := range 3 {
			payload := bytes.Repeat([]byte{byte(i + 1)}, tc.size)
			a.Seq = 0
			if err := a.WritePacket(payload); err != nil {
				t.Fatal(err)
			}
			calls := 0
			var sentErr error
			if err := a.SendAwait(func(err error) { calls++; sentErr = err }); err != nil {
				t.Fatalf("size %d, delay %v: %v", tc.size, tc.delay, err)
			}
			if calls != 1 || sentErr != nil {
				t.Fatalf("size %d: sent called %d times, with %v", tc.size, calls, sentErr)
			}
			if tc.size < 4000 && a.Buffered() == 0 {
				t.Fatalf("size %d: SendAwait returned with nothing of the answer read", tc.size)
			}
			got, err := a.ReadPacket(64 << 20)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("size %d: answer %d bytes, %v", tc.size, len(got), err)
			}
		}
		if err := <-peer; err != nil {
			t.Fatal(err)
		}
	}
}

// A peer that closed, or resets, ends the wait: SendAwait never waits for an answer that cannot
// come, even when the peer's last bytes came before the command and were never read.
func TestSendAwaitPeerGone(t *testing.T) {
	t.Run("closed before", func(t *testing.T) {
		a, b := pipe(t, 4096)
		b.Seq = 0
		_ = b.WritePacket([]byte("bye")) // unasked, as a server's last error before it closes
		_ = b.Flush()
		_ = b.Close()
		time.Sleep(50 * time.Millisecond) // both arrive before the command
		a.Seq = 0
		_ = a.WritePacket([]byte("SELECT 1"))
		done := make(chan error, 1)
		go func() { done <- a.SendAwait(func(error) {}) }()
		select {
		case err := <-done:
			// Either the bytes and then the end, or the write's or read's error.
			if err == nil {
				a.Seq = 0
				if _, err = a.ReadPacket(100); err != nil {
					t.Fatalf("reading the peer's last packet: %v", err)
				}
				_, err = a.ReadPacket(100)
			}
			if err == nil {
				t.Fatal("no error from a closed peer")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("SendAwait still waits 10 s after the peer closed")
		}
	})
	t.Run("closed during", func(t *testing.T) {
		a, b := pipe(t, 4096)
		go func() {
			b.Seq = 0
			_, _ = b.ReadPacket(100)
			_ = b.Close()
		}()
		a.Seq = 0
		_ = a.WritePacket([]byte("SELECT SLEEP(1)"))
		err := a.SendAwait(func(error) {})
		if err == nil {
			_, err = a.ReadPacket(100)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, net.ErrClosed) {
			t.Fatalf("got %v, want the end of the connection", err)
		}
	})
}

// A Conn with unread bytes does not arm the wait first (they would go unnoticed): it flushes,
// and the answer is read the ordinary way.
func TestSendAwaitWithUnreadBytes(t *testing.T) {
	a, b := pipe(t, 4096)
	b.Seq = 0
	_ = b.WritePacket([]byte("early"))
	_ = b.WritePacket([]byte("late"))
	_ = b.Flush()
	a.Seq = 0
	if p, err := a.ReadPacket(100); err != nil || string(p) != "early" {
		t.Fatalf("%q, %v", p, err)
	}
	if a.Buffered() == 0 {
		t.Skip("the two packets arrived apart: nothing left unread to test with")
	}
	_ = a.WritePacket([]byte("cmd"))
	sent := false
	if err := a.SendAwait(func(err error) { sent = err == nil }); err != nil || !sent {
		t.Fatalf("SendAwait: %v, sent %v", err, sent)
	}
	a.Seq = 1
	if p, err := a.ReadPacket(100); err != nil || string(p) != "late" {
		t.Fatalf("%q, %v", p, err)
	}
	b.Seq = 1
	if p, err := b.ReadPacket(100); err != nil || string(p) != "cmd" {
		t.Fatalf("peer got %q, %v", p, err)
	}
}

// BenchmarkSendAwaitRoundTrip is a command and its answer between loopback sockets, the answer
// read after SendAwait (with Flush and a read that looks first, for comparison).
func BenchmarkSendAwaitRoundTrip(b *testing.B) {
	for _, mode := range []string{"SendAwait", "Flush"} {
		b.Run(mode, func(b *testing.B) {
			a, p := pipe(b, 4096)
			go func() {
				for {
					p.Seq = 0
					q, err := p.ReadPacket(100)
					if err != nil {
						return
					}
					_ = p.WritePacket(q)
					if p.Flush() != nil {
						return
					}
				}
			}()
			cmd := bytes.Repeat([]byte{'x'}, 40)
			b.ReportAllocs()
			for b.Loop() {
				a.Seq = 0
				_ = a.WritePacket(cmd)
				var err error
				if mode == "SendAwait" {
					err = a.SendAwait(func(error) {})
				} else {
					err = a.Flush()
				}
				if err == nil {
					_, err = a.ReadPacket(100)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
