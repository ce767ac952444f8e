package backend

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// The queue's one expiry timer: a wait that comes later with an earlier deadline (a reload
// shortened acquire_timeout) times out first, and the earlier wait still times out at its own.
func TestPoolExpiryOutOfOrder(t *testing.T) {
	p, _ := newTestPool(t, Settings{MaxConns: 1, AcquireTimeout: 600 * time.Millisecond})
	held, err := p.Acquire(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(held)
	type result struct {
		took time.Duration
		err  error
	}
	wait := func() <-chan result {
		ch := make(chan result, 1)
		go func() {
			start := time.Now()
			_, err := p.Acquire(context.Background(), app)
			ch <- result{time.Since(start), err}
		}()
		return ch
	}
	long := wait()
	poll(t, "the first wait", func() bool { return p.Stats().Waiting == 1 })
	s := p.Settings()
	s.AcquireTimeout = 100 * time.Millisecond
	p.SetSettings(s)
	short := wait()
	var te *AcquireTimeoutError
	r := <-short
	if !errors.As(r.err, &te) || r.took < 80*time.Millisecond {
		t.Fatalf("later wait: %v after %v, want a timeout after 100 ms", r.err, r.took)
	}
	if st := p.Stats(); st.Waiting != 1 || st.Timeouts != 1 {
		t.Fatalf("after the short wait: %+v, want the long one still waiting", st)
	}
	r = <-long
	if !errors.As(r.err, &te) || r.took < 550*time.Millisecond || te.Timeout != 100*time.Millisecond {
		t.Fatalf("earlier wait: %v after %v, want a timeout at its own 600 ms", r.err, r.took)
	}
	if st := p.Stats(); st.Waiting != 0 || st.Timeouts != 2 || st.WaitDuration < 650*time.Millisecond {
		t.Fatalf("stats %+v: want both timeouts and their waits counted", st)
	}
}

// BenchmarkPoolHandOff measures a borrow when nearly every one waits: 64 goroutines on cap 2,
// so each connection given back goes straight to a waiter (the hand-off of 1,000 clients
// through a cap of 32).
func BenchmarkPoolHandOff(b *testing.B) {
	f := &fakeDialer{addr: sink(b)}
	p := NewPool("bench:3306", f.dial, Settings{MaxConns: 2, AcquireTimeout: time.Minute}, nil)
	defer p.Close()
	b.ReportAllocs()
	var wg sync.WaitGroup
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				c, err := p.Acquire(context.Background(), app)
				if err != nil {
					b.Error(err)
					return
				}
				p.Release(c)
			}
		}()
	}
	wg.Wait()
}
