package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// sink accepts loopback connections and discards what they send, standing in for a server.
func sink(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// fakeDialer counts dials and makes connections to a sink.
type fakeDialer struct {
	addr  string
	dials atomic.Int64
	fail  atomic.Bool
	delay time.Duration
}

func (f *fakeDialer) dial(ctx context.Context, key Key, db string) (*Conn, error) {
	f.dials.Add(1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.fail.Load() {
		return nil, errors.New("connection refused")
	}
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &Conn{Conn: wire.NewConn(nc, 1024, 1024), Key: key, DB: db, created: now, lastUsed: now}, nil
}

func newTestPool(t *testing.T, s Settings) (*Pool, *fakeDialer) {
	f := &fakeDialer{addr: sink(t)}
	p := NewPool("test:3306", f.dial, s, nil)
	t.Cleanup(p.Close)
	return p, f
}

var app = Want{Key: Key{User: "app"}, DB: "test"}

func TestPoolCapHoldsUnderContention(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 3, AcquireTimeout: 5 * time.Second})
	f.delay = time.Millisecond
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				c, err := p.Acquire(context.Background(), app)
				if err != nil {
					t.Error(err)
					return
				}
				n := inUse.Add(1)
				for {
					m := peak.Load()
					if n <= m || peak.CompareAndSwap(m, n) {
						break
					}
				}
				if st := p.Stats(); st.Open > 3 {
					t.Errorf("open %d above cap 3", st.Open)
				}
				time.Sleep(50 * time.Microsecond)
				inUse.Add(-1)
				p.Release(c)
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Fatalf("peak in use %d above cap 3", peak.Load())
	}
	st := settled(t, p)
	if st.InUse != 0 || st.Open != st.Idle || st.Open > 3 {
		t.Fatalf("inconsistent stats after the run: %+v", st)
	}
	if f.dials.Load() > 3 {
		t.Fatalf("dialled %d connections; 3 should serve everyone", f.dials.Load())
	}
	if st.WaitCount == 0 {
		t.Fatalf("40 clients on cap 3 never waited: %+v", st)
	}
}

func TestPoolAcquireTimeout(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 1, AcquireTimeout: 200 * time.Millisecond})
	held, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Acquire(context.Background(), app)
	var te *AcquireTimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want AcquireTimeoutError", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("gave up after %v, before the timeout", d)
	}
	if te.Cap != 1 || te.Waiting != 1 || te.Backend != "test:3306" {
		t.Fatalf("error fields: %+v", te)
	}
	p.Release(held)
	c, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	p.Release(c)
	if st := p.Stats(); st.Timeouts != 1 || st.Waiting != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestPoolFIFO(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 1, AcquireTimeout: 5 * time.Second})
	held, _ := p.Acquire(context.Background(), app)
	served := queueWaiters(t, p, []Want{app, app, app, app, app}, nil)
	p.Release(held)
	if order := fmt.Sprint(served()); order != "[0 1 2 3 4]" {
		t.Fatalf("served in order %s, want FIFO", order)
	}
}

// A waiter that times out just as a connection is handed to it must not leak the connection.
func TestPoolCancelRace(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 2, AcquireTimeout: time.Millisecond})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if c, err := p.Acquire(context.Background(), app); err == nil {
					p.Release(c)
				}
			}
		}()
	}
	wg.Wait()
	if st := settled(t, p); st.InUse != 0 || st.Open != st.Idle || st.Waiting != 0 {
		t.Fatalf("leaked after the race: %+v", st)
	}
}

func TestPoolOtherUserTakesIdleSlot(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 1, AcquireTimeout: time.Second})
	c, _ := p.Acquire(context.Background(), app)
	p.Release(c)
	other := Want{Key: Key{User: "other"}, DB: "test"}
	c2, err := p.Acquire(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Key.User != "other" || f.dials.Load() != 2 {
		t.Fatalf("got a %q connection after %d dials", c2.Key.User, f.dials.Load())
	}
	p.Release(c2)
	if st := p.Stats(); st.Open != 1 {
		t.Fatalf("open %d, want 1", st.Open)
	}
}

func TestPoolNoDatabaseNeedsCleanConnection(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 2, AcquireTimeout: time.Second})
	c, _ := p.Acquire(context.Background(), app)
	p.Release(c)
	c2, err := p.Acquire(context.Background(), Want{Key: app.Key})
	if err != nil {
		t.Fatal(err)
	}
	if c2.DB != "" || f.dials.Load() != 2 {
		t.Fatalf("a session without a database got a connection in %q", c2.DB)
	}
	p.Release(c2)
	// The reverse is fine: a clean connection can be given a database.
	c3, _ := p.Acquire(context.Background(), app)
	p.Release(c3)
	if f.dials.Load() != 2 {
		t.Fatalf("dialled again: %d", f.dials.Load())
	}
}

func TestPoolDialFailureTimesOutWithCause(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 2, AcquireTimeout: 150 * time.Millisecond})
	f.fail.Store(true)
	_, err := p.Acquire(context.Background(), app)
	var te *AcquireTimeoutError
	if !errors.As(err, &te) || te.LastErr == nil {
		t.Fatalf("got %v, want a timeout naming the dial error", err)
	}
	if st := settled(t, p); st.Open != 0 || st.InUse != 0 || st.DialErrors < 2 {
		t.Fatalf("stats after failed dials: %+v", st)
	}
	// Once dials succeed again, a connection comes within the backoff (at most 5 s).
	f.fail.Store(false)
	p.SetSettings(Settings{MaxConns: 2, AcquireTimeout: 10 * time.Second})
	c, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	p.Release(c)
}

func TestPoolIdleTimeoutAndDeadConnections(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 2, AcquireTimeout: time.Second, IdleTimeout: 100 * time.Millisecond})
	c, _ := p.Acquire(context.Background(), app)
	p.Release(c)
	deadline := time.Now().Add(3 * time.Second)
	for p.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle connection not closed: %+v", p.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := p.Stats(); st.ClosedIdle != 1 {
		t.Fatalf("stats: %+v", st)
	}
	// A connection the server closed while idle is not lent.
	c, _ = p.Acquire(context.Background(), app)
	c.lastUsed = time.Now().Add(-time.Hour)
	p.Release(c)
	p.mu.Lock()
	p.idle[0].lastUsed = time.Now().Add(-2 * time.Second)
	_ = p.idle[0].NetConn().(*net.TCPConn).CloseRead()
	p.mu.Unlock()
	dials := f.dials.Load()
	c, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	if f.dials.Load() != dials+1 {
		t.Fatal("a dead idle connection was lent")
	}
	p.Release(c)
}

func TestPoolLowerCapOnReload(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 3, AcquireTimeout: time.Second})
	var cs []*Conn
	for i := 0; i < 3; i++ {
		c, _ := p.Acquire(context.Background(), app)
		cs = append(cs, c)
	}
	p.Release(cs[0])
	p.SetSettings(Settings{MaxConns: 1, AcquireTimeout: time.Second})
	if st := p.Stats(); st.Open != 2 || st.Idle != 0 {
		t.Fatalf("after lowering the cap: %+v", st)
	}
	p.Release(cs[1])
	p.Release(cs[2])
	if st := p.Stats(); st.Open != 1 {
		t.Fatalf("open %d, want the new cap 1", st.Open)
	}
}

// BenchmarkPoolAcquireRelease measures borrowing and returning under contention (2 goroutines
// per P on cap 4).
func BenchmarkPoolAcquireRelease(b *testing.B) {
	f := &fakeDialer{addr: sink(b)}
	p := NewPool("bench:3306", f.dial, Settings{MaxConns: 4, AcquireTimeout: 10 * time.Second}, nil)
	defer p.Close()
	b.ReportAllocs()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := p.Acquire(context.Background(), app)
			if err != nil {
				b.Fatal(err)
			}
			p.Release(c)
		}
	})
}

// Want.Abort ends a wait with ErrAborted, leaves the queue and is not counted as a timeout.
func TestPoolAbortWait(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 1, AcquireTimeout: 10 * time.Second})
	held, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	abort := make(chan struct{}, 1)
	w := app
	w.Abort = abort
	got := make(chan error, 1)
	go func() {
		_, err := p.Acquire(context.Background(), w)
		got <- err
	}()
	for p.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	abort <- struct{}{}
	select {
	case err := <-got:
		if !errors.Is(err, ErrAborted) {
			t.Fatalf("got %v, want ErrAborted", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the abort did not end the wait")
	}
	p.Release(held)
	if st := p.Stats(); st.Waiting != 0 || st.Timeouts != 0 || st.Idle != 1 {
		t.Fatalf("stats after the abort: %+v", st)
	}
}

// A connection used within the last second is lent without the liveness peek, unless the pool
// discarded one lately: then a dead one is noticed and replaced.
func TestPoolPeeksWhileConnectionsDie(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 2, AcquireTimeout: time.Second})
	c, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.NetConn().Close() // dead, as far as Alive can tell
	p.Release(c)
	got, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatal("a connection used a moment ago was peeked at with no death in the pool")
	}
	other, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	p.Discard(other) // connections are dying now
	p.Release(got)
	fresh, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == c {
		t.Fatal("a dead connection was lent right after a discard")
	}
	p.Release(fresh)
}

// A connection idle past idle_timeout is never lent, even before the janitor's next round: the
// server may be closing it (the proxy keeps idle_timeout below its wait_timeout).
func TestPoolDoesNotLendPastIdleTimeout(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 1, AcquireTimeout: time.Second, IdleTimeout: time.Hour})
	c, _ := p.Acquire(context.Background(), app)
	p.Release(c)
	p.SetSettings(Settings{MaxConns: 1, AcquireTimeout: time.Second, IdleTimeout: 50 * time.Millisecond})
	p.mu.Lock()
	p.idle[0].lastUsed = time.Now().Add(-100 * time.Millisecond)
	p.mu.Unlock()
	dials := f.dials.Load()
	c, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	if f.dials.Load() != dials+1 {
		t.Fatal("a connection past idle_timeout was lent")
	}
	p.Release(c)
}

// TestPoolClosedWhileLentNotLent: a connection closed while lent (a KILL closes the one its
// target session holds, from another goroutine) and then given back is dropped. A recently used
// connection is lent without a look at its socket, so it would go to the next borrower closed.
func TestPoolClosedWhileLentNotLent(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 1, AcquireTimeout: time.Second})
	c := hold(t, p, app)
	_ = c.Close()
	p.Release(c)
	dials := f.dials.Load()
	next := hold(t, p, app)
	if next == c || f.dials.Load() != dials+1 {
		t.Fatal("a connection closed while lent was lent again")
	}
	if st := p.Stats(); st.Open != 1 || st.InUse != 1 {
		t.Fatalf("stats after the drop: %+v", st)
	}
	p.Release(next)
}
