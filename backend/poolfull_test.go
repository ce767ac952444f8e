package backend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// maxRefusals bounds the refused dials of a pool over elapsed: the dials started before the first
// refusal (at most the cap), then one per backoff, each at least half of 50 ms doubling.
func maxRefusals(maxConns int, elapsed time.Duration) int {
	probes := int(math.Log2(float64(elapsed)/float64(backoffMin/2)+1)) + 1
	return maxConns + probes
}

// With the server nearly full, a pool with a larger cap serves every waiter in turn from the
// connections it got: nobody is served twice while an older request waits, nobody fails, and
// the server sees a few refused dials, not one per waiter.
func TestPoolServerFullServesWaitersFairly(t *testing.T) {
	const clients, room, maxConns = 12, 2, 8
	d := newRoomDialer(t, room)
	p, logs := newRoomPool(t, d, Settings{MaxConns: maxConns, AcquireTimeout: 30 * time.Second})

	// Each client loops: ask, hold 10 ms, give back. When a client is served, every request of
	// another client made after its own and already served counts as an overtake; a second
	// overtake by the same request is the unfairness the pool must not show.
	type request struct {
		client int
		asked  int64 // nanoseconds, before Acquire
	}
	type overtake struct {
		by int
		of request
	}
	var mu sync.Mutex
	waiting := make(map[int]request) // by client
	overtaken := make(map[overtake]int)
	var violations []string
	var served atomic.Int64
	start := time.Now()
	stop := start.Add(time.Second)
	var peakOpen atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				r := request{client: i, asked: time.Now().UnixNano()}
				mu.Lock()
				waiting[i] = r
				mu.Unlock()
				c, err := p.Acquire(context.Background(), app)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				delete(waiting, i)
				for _, o := range waiting {
					if o.asked < r.asked {
						k := overtake{by: i, of: o}
						if overtaken[k]++; overtaken[k] == 2 {
							violations = append(violations, fmt.Sprintf("client %d served twice while client %d's older request waited", i, o.client))
						}
					}
				}
				mu.Unlock()
				if st := p.Stats(); int64(st.Open) > peakOpen.Load() {
					peakOpen.Store(int64(st.Open))
				}
				served.Add(1)
				time.Sleep(10 * time.Millisecond)
				p.Release(c)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(violations) > 0 {
		t.Errorf("%d unfair grants, first: %s", len(violations), violations[0])
	}
	st := settled(t, p)
	refused := d.refusedDials()
	t.Logf("%d grants in %v from %d connections; %d refused dials; stats %+v", served.Load(), elapsed.Round(time.Millisecond), st.Open, refused, st)
	if peakOpen.Load() > maxConns || st.Open > room {
		t.Errorf("open peaked at %d, now %d: above the cap %d or the room %d", peakOpen.Load(), st.Open, maxConns, room)
	}
	if limit := maxRefusals(maxConns, elapsed); refused > limit {
		t.Errorf("%d refused dials in %v; the backoff allows at most %d", refused, elapsed, limit)
	}
	if st.RefusedDials != uint64(refused) || st.DialFailures[FailMaxConnections] != uint64(refused) {
		t.Errorf("stats count %d refused dials (%d by reason), the server %d", st.RefusedDials, st.DialFailures[FailMaxConnections], refused)
	}
	if st.DialState != "server_full" || st.DialStateSince.Before(start) || !strings.Contains(st.LastDialError, "Too many connections") {
		t.Errorf("dial state %q since %v (%q), want server_full since the run began", st.DialState, st.DialStateSince, st.LastDialError)
	}
	if w := logs.Await(t, "level=WARN", "state=server_full"); len(w) != 1 ||
		!strings.Contains(w[0], "backend=test:3306") || !strings.Contains(w[0], "Too many connections") ||
		!strings.Contains(w[0], fmt.Sprintf("cap=%d", maxConns)) || !strings.Contains(w[0], "held=") || !strings.Contains(w[0], "waiting=") {
		t.Errorf("want one warning naming backend, error, held, cap and waiting; log:\n%s", strings.Join(logs.Lines(), "\n"))
	}
}

// A waiter whose dial the server refused keeps its place: the next connection given back is
// its, not a younger waiter's.
func TestPoolFailedDialKeepsPlace(t *testing.T) {
	d := newRoomDialer(t, 1)
	p, _ := newRoomPool(t, d, Settings{MaxConns: 3, AcquireTimeout: 30 * time.Second})
	held := hold(t, p, app)
	served := queueWaiters(t, p, []Want{app, app, app}, func(i int) {
		if i == 0 {
			poll(t, "the first waiter's dial refused", func() bool { return d.refusedDials() > 0 })
		}
	})
	p.Release(held)
	if order := fmt.Sprint(served()); order != "[0 1 2]" {
		t.Fatalf("served in order %s, want [0 1 2]: the refused waiter lost its place", order)
	}
}

// Backoff: from 50 ms doubling to its cap, each wait between half and all of the step, and not
// the same each time (so proxies sharing a server do not probe together).
func TestBackoffDoublesWithJitter(t *testing.T) {
	var b backoff
	now := time.Now()
	seen := make(map[time.Duration]bool)
	for i := 0; i < 30; i++ {
		step := min(backoffMin<<i, backoffMaxFull)
		d := b.fail(now, backoffMaxFull)
		if d < step/2 || d > step || !b.until.Equal(now.Add(d)) {
			t.Fatalf("failure %d: waited %v, want %v..%v", i+1, d, step/2, step)
		}
		if step == backoffMaxFull {
			seen[d] = true
		}
	}
	if len(seen) < 2 {
		t.Fatalf("every capped wait was the same: %v", seen)
	}
}

// When the server has room again (another application disconnected), the pool finds out at
// its next probe and grows back to its cap; the recovery is logged once, as the failure was.
func TestPoolGrowsBackWhenServerHasRoom(t *testing.T) {
	const maxConns = 4
	d := newRoomDialer(t, 1)
	p, logs := newRoomPool(t, d, Settings{MaxConns: maxConns, AcquireTimeout: 30 * time.Second})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := p.Acquire(context.Background(), app)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(2 * time.Millisecond)
				p.Release(c)
			}
		}()
	}
	poll(t, "a few refused dials", func() bool { return d.refusedDials() >= 3 })
	if st := p.Stats(); st.DialState != "server_full" || st.Open-st.Dialing > 1 {
		t.Errorf("while the server is full: %+v", st)
	}
	d.addRoom(maxConns)
	poll(t, "the pool back at its cap", func() bool { st := p.Stats(); return st.Open == maxConns && st.Dialing == 0 })
	stop()
	wg.Wait()
	if st := p.Stats(); st.DialState != "ok" || !st.DialStateSince.IsZero() || st.LastDialError != "" {
		t.Errorf("after growing back: %+v", st)
	}
	if w, i := logs.Await(t, "level=WARN"), logs.Await(t, "level=INFO", "accepts connections again"); len(w) != 1 || len(i) != 1 ||
		!strings.Contains(i[0], "state_was=server_full") || !strings.Contains(i[0], fmt.Sprintf("held=%d", maxConns)) {
		t.Errorf("want one warning and one recovery line; log:\n%s", strings.Join(logs.Lines(), "\n"))
	}
}

var errAccessDenied = fmt.Errorf("backend test: %w", &mysql.MyError{Code: mysql.ER_ACCESS_DENIED_ERROR, State: "28000",
	Message: "Access denied for user 'app'@'127.0.0.1' (using password: YES)"})

// A login the server refuses (the password changed on the server) reaches every waiting client
// of that user as the server's error at once, not after the acquire timeout; clients asking
// during the backoff get it without a dial; other users are not affected; it is logged once,
// and so is the recovery.
func TestPoolLoginRefusedFailsWaiters(t *testing.T) {
	d := newRoomDialer(t, 100)
	d.refuseUser("app", errAccessDenied)
	p, logs := newRoomPool(t, d, Settings{MaxConns: 4, AcquireTimeout: 30 * time.Second})
	var waits []<-chan acquired
	for range 6 {
		waits = append(waits, acquireLater(p, app))
	}
	for i, ch := range waits {
		select {
		case got := <-ch:
			var me *mysql.MyError
			if !errors.As(got.err, &me) || me.Code != mysql.ER_ACCESS_DENIED_ERROR {
				t.Fatalf("waiter %d got %v, want the server's ERROR 1045", i, got.err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("waiters still waiting 20 s after the login was refused (acquire timeout 30 s)")
		}
	}
	dials := d.dials.Load()
	if dials > 4 {
		t.Errorf("%d dials for 6 waiters of one refused login", dials)
	}
	if _, err := p.Acquire(context.Background(), app); !errors.Is(err, errAccessDenied) {
		t.Errorf("a client asking during the backoff got %v", err)
	}
	if n := d.dials.Load(); n != dials {
		t.Errorf("a client asking during the backoff made the pool dial (%d → %d)", dials, n)
	}
	other := Want{Key: Key{User: "other"}, DB: "test"}
	c, err := p.Acquire(context.Background(), other)
	if err != nil {
		t.Fatalf("another user: %v", err)
	}
	p.Release(c)
	if st := p.Stats(); st.DialState != "login_refused" || st.DialFailures[FailLoginRefused] != uint64(dials) || st.RefusedDials != 0 {
		t.Errorf("stats while the login is refused: %+v", st)
	}

	d.refuseUser("app", nil)
	poll(t, "the login accepted after the backoff", func() bool {
		c, err := p.Acquire(context.Background(), app)
		if err == nil {
			p.Release(c)
		}
		return err == nil
	})
	if w, i := logs.Await(t, "level=WARN", "refused the login"), logs.Await(t, "level=INFO", "accepts the login again", "user=app"); len(w) != 1 || len(i) != 1 ||
		!strings.Contains(w[0], "user=app") || !strings.Contains(w[0], "Access denied") {
		t.Errorf("want one warning and one recovery line for the login; log:\n%s", strings.Join(logs.Lines(), "\n"))
	}
	if st := p.Stats(); st.DialState != "ok" {
		t.Errorf("dial state after the login works again: %q", st.DialState)
	}
}

// While a user still has an open connection, its waiters are not failed by a refused login:
// the connection given back serves them.
func TestPoolLoginRefusedWaitsForHeldConnection(t *testing.T) {
	d := newRoomDialer(t, 100)
	p, _ := newRoomPool(t, d, Settings{MaxConns: 2, AcquireTimeout: 30 * time.Second})
	held := hold(t, p, app)
	d.refuseUser("app", errAccessDenied)
	waiter := acquireLater(p, app)
	poll(t, "the refused dial", func() bool { return p.Stats().DialFailures[FailLoginRefused] > 0 })
	p.Release(held)
	got := <-waiter
	if got.err != nil {
		t.Fatalf("the waiter got %v; the connection given back should have served it", got.err)
	}
	p.Release(got.conn)
}

// Strict FIFO across users: the oldest waiter needs another user's connection and the cap is
// reached: the connection given back is closed and one for the oldest waiter dialled, rather
// than serving the younger waiter it fits.
func TestPoolServesOldestWaiterOfAnotherUser(t *testing.T) {
	d := newRoomDialer(t, 100)
	p, _ := newRoomPool(t, d, Settings{MaxConns: 1, AcquireTimeout: 30 * time.Second})
	other := Want{Key: Key{User: "other"}, DB: "test"}
	held := hold(t, p, other)
	served := queueWaiters(t, p, []Want{app, other}, nil)
	p.Release(held)
	if order := fmt.Sprint(served()); order != "[0 1]" {
		t.Fatalf("served in order %s, want [0 1] (app, then other)", order)
	}
	if st := settled(t, p); st.Open != 1 {
		t.Fatalf("open %d above the cap 1", st.Open)
	}
}

// Close ends the waits at once.
func TestPoolCloseEndsWaits(t *testing.T) {
	d := newRoomDialer(t, 1)
	p, _ := newRoomPool(t, d, Settings{MaxConns: 2, AcquireTimeout: 30 * time.Second})
	held := hold(t, p, app)
	waiter := acquireLater(p, app)
	poll(t, "queued", func() bool { return p.Stats().Waiting == 1 })
	p.Close()
	select {
	case got := <-waiter:
		if !errors.Is(got.err, ErrPoolClosed) {
			t.Fatalf("got %v, want ErrPoolClosed", got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close left a waiter waiting")
	}
	p.Release(held)
	if st := settled(t, p); st.Open != 0 || st.InUse != 0 {
		t.Fatalf("after Close and Release: %+v", st)
	}
}
