package backend

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// A limit lowers the cap below Settings.MaxConns: idle connections close at once, lent ones as
// they come back, and Held says when the pool is down to it; a reload keeps it; lifting it
// serves the waiters.
func TestPoolLimitLowersThenRaises(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 4, AcquireTimeout: 10 * time.Second})
	cs := []*Conn{hold(t, p, app), hold(t, p, app), hold(t, p, app)}
	p.Release(cs[0])
	p.SetLimit(1)
	if st, held := p.Stats(), p.Held(); st.Open != 2 || st.Idle != 0 || st.MaxConns != 1 || held != 2 {
		t.Fatalf("after SetLimit(1): held %d, %+v", held, st)
	}
	p.SetSettings(Settings{MaxConns: 4, AcquireTimeout: 10 * time.Second}) // a reload
	if st := p.Stats(); st.MaxConns != 1 {
		t.Fatalf("a reload lifted the limit: cap %d", st.MaxConns)
	}
	p.Release(cs[1])
	if held := p.Held(); held != 1 {
		t.Fatalf("held %d after a lent connection came back, want 1", held)
	}
	later := acquireLater(p, app) // the one connection is lent: this one waits
	poll(t, "a waiter", func() bool { return p.Stats().Waiting == 1 })
	if held := p.Held(); held != 1 {
		t.Fatalf("held %d with a waiter at the limit, want 1", held)
	}
	p.SetLimit(-1)
	got := <-later
	if got.err != nil {
		t.Fatal(got.err)
	}
	p.Release(got.conn)
	p.Release(cs[2])
	if st := p.Stats(); st.MaxConns != 4 || st.Open != 2 {
		t.Fatalf("after lifting the limit: %+v", st)
	}
}

// A limit of 0 holds nothing: waiters wait (and time out), nothing is dialled.
func TestPoolLimitZero(t *testing.T) {
	p, f := newTestPool(t, Settings{MaxConns: 2, AcquireTimeout: 100 * time.Millisecond})
	p.SetLimit(0)
	_, err := p.Acquire(context.Background(), app)
	var te *AcquireTimeoutError
	if !errors.As(err, &te) || te.Cap != 0 {
		t.Fatalf("Acquire at limit 0: %v", err)
	}
	if n := f.dials.Load(); n != 0 {
		t.Fatalf("%d dials at limit 0", n)
	}
}

// liveConn counts the sockets a pool holds, as the server would, until Close.
type liveConn struct {
	net.Conn
	live   *atomic.Int64
	closed atomic.Bool
}

func (c *liveConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.live.Add(-1)
	}
	return c.Conn.Close()
}

// At the cap, the connection closed to make room for another user's dial is closed before that
// dial starts: the server never sees more connections than the cap.
func TestPoolClosesVictimBeforeDialling(t *testing.T) {
	addr := sink(t)
	var live, over atomic.Int64
	const maxConns = 2
	dial := func(ctx context.Context, key Key, db string) (*Conn, error) {
		if live.Load() >= maxConns {
			over.Add(1)
		}
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		live.Add(1)
		now := time.Now()
		return &Conn{Conn: wire.NewConn(&liveConn{Conn: nc, live: &live}, 1024, 1024), Key: key, DB: db, created: now, lastUsed: now}, nil
	}
	p := NewPool("test:3306", dial, Settings{MaxConns: maxConns, AcquireTimeout: 5 * time.Second}, nil)
	t.Cleanup(p.Close)
	users := []string{"a", "b", "c", "d"}
	for round := 0; round < 20; round++ {
		w := Want{Key: Key{User: users[round%len(users)]}, DB: "test"}
		c1, c2 := hold(t, p, w), hold(t, p, w)
		p.Release(c1)
		p.Release(c2)
	}
	if n := over.Load(); n > 0 {
		t.Fatalf("%d dials started with %d connections already open (the cap)", n, maxConns)
	}
	if held := p.Held(); held > maxConns || live.Load() > maxConns {
		t.Fatalf("held %d, live %d, cap %d", held, live.Load(), maxConns)
	}
}
