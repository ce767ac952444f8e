package backend

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Settings are the limits of one pool; SetSettings changes them on reload.
type Settings struct {
	MaxConns       int           // cap on open plus dialling connections, all users together
	AcquireTimeout time.Duration // how long Acquire waits for a connection
	IdleTimeout    time.Duration // close connections idle this long; 0 = never
	MaxLifetime    time.Duration // close connections older than this once idle; 0 = never
}

// AcquireTimeoutError is returned when no connection could be had within the acquire timeout.
type AcquireTimeoutError struct {
	Backend string
	Cap     int
	Waiting int // clients waiting when this one gave up, itself included
	Timeout time.Duration
	LastErr error // the last dial error, when dials were failing
}

func (e *AcquireTimeoutError) Error() string {
	msg := fmt.Sprintf("no backend connection to %s within %s: all %d in use, %d waiting",
		e.Backend, e.Timeout, e.Cap, e.Waiting)
	if e.LastErr != nil {
		msg += "; last connect error: " + e.LastErr.Error()
	}
	return msg
}

// ErrPoolClosed is returned by Acquire after Close.
var ErrPoolClosed = errors.New("backend: pool closed")

// ErrAborted is returned when Want.Abort fires while the borrower waits.
var ErrAborted = errors.New("backend: wait for a connection aborted")

// Want describes the connection a session needs.
type Want struct {
	Key Key
	DB  string // the session's default database; "" needs a connection that never selected one
	// State is the session state the borrower will replay; an idle connection already in this
	// state (same pointer) is preferred.
	State any
	// Abort, when it fires, ends a wait with ErrAborted (a KILL QUERY of the waiting
	// statement); nil: never.
	Abort <-chan struct{}
}

// grant is what a waiter is handed: a connection, or (conn nil) a slot it must dial into itself.
type grant struct{ conn *Conn }

type waiter struct {
	want Want
	ch   chan grant // buffered 1: the releasing side never blocks
}

// Pool caps the connections to one server and queues statements FIFO when all are busy. Model:
// database/sql's conn()/putConnDBLocked, with the slot counted from the moment a dial starts.
type Pool struct {
	addr string
	dial DialFunc

	mu      sync.Mutex
	set     Settings
	idle    []*Conn    // most recently used last
	open    int        // open or being dialled; never above set.MaxConns
	inUse   int        // lent out, or slots granted and being dialled
	waiters *list.List // of *waiter, FIFO
	closed  bool
	stats   Stats

	stop chan struct{}
	done chan struct{}

	lastDiscard atomic.Int64 // unix nanoseconds of the last Discard; see trusted

	waitObserver atomic.Pointer[func(time.Duration)] // see SetWaitObserver
}

// A connection used less than trustFor ago is lent without the liveness peek, unless the pool
// discarded one in the last distrustFor: then connections are dying (a restart, KILLs), and the
// peek is what keeps a just-closed one from failing its next borrower.
const (
	trustFor    = time.Second
	distrustFor = 5 * time.Second
)

// usable reports whether an idle connection may be lent.
func (p *Pool) usable(c *Conn) bool {
	if c.lastUsed.IsZero() {
		return true // just dialled
	}
	if now := time.Now(); now.Sub(c.lastUsed) < trustFor && now.UnixNano()-p.lastDiscard.Load() > int64(distrustFor) {
		return true
	}
	return c.Alive()
}

// Stats are the pool's counters, for the admin console and metrics.
type Stats struct {
	Backend       string
	MaxConns      int
	Open          int
	InUse         int
	Idle          int
	Waiting       int
	WaitCount     uint64        // acquisitions that had to wait
	WaitDuration  time.Duration // total time spent waiting
	Timeouts      uint64        // acquisitions that failed with AcquireTimeoutError
	Dials         uint64
	DialErrors    uint64
	Closed        uint64 // connections closed for any reason
	ClosedIdle    uint64 // closed by idle_timeout
	ClosedExpired uint64 // closed by max_lifetime
}

// DialFunc opens a connection for key with db as its default database.
type DialFunc func(ctx context.Context, key Key, db string) (*Conn, error)

// NewPool creates the pool for the server at addr and starts its janitor.
func NewPool(addr string, dial DialFunc, s Settings) *Pool {
	p := &Pool{addr: addr, dial: dial, set: s, waiters: list.New(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.janitor()
	return p
}

// Addr is the server's address.
func (p *Pool) Addr() string { return p.addr }

// Stats returns a snapshot of the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Backend, s.MaxConns, s.Open, s.InUse = p.addr, p.set.MaxConns, p.open, p.inUse
	s.Idle, s.Waiting = len(p.idle), p.waiters.Len()
	return s
}

// acquire returns a connection for w, waiting up to the acquire timeout (see Acquire).
func (p *Pool) acquire(ctx context.Context, w Want) (*Conn, error) {
	// Fast path, no timer: an idle connection that fits.
	p.mu.Lock()
	timeout := p.set.AcquireTimeout
	if i := p.matchIdleLocked(w); i >= 0 && !p.closed {
		c := p.popIdleLocked(i)
		p.inUse++
		p.mu.Unlock()
		if p.usable(c) {
			return c, nil
		}
		p.Discard(c) // the server closed it while idle (restart, wait_timeout)
	} else {
		p.mu.Unlock()
	}
	// No context per call: a timer only if this one has to wait (take), a context only if it
	// has to dial.
	deadline := time.Now().Add(timeout)
	var lastErr error
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, 500*time.Millisecond) {
		c, mustDial, err := p.take(ctx, w, deadline)
		if err != nil {
			var te *AcquireTimeoutError
			if errors.As(err, &te) {
				te.LastErr = lastErr
			}
			return nil, err
		}
		if c != nil {
			if p.usable(c) {
				return c, nil
			}
			p.Discard(c) // the server closed it while idle (restart, wait_timeout)
			continue
		}
		if !mustDial {
			continue
		}
		dctx, cancel := context.WithDeadline(ctx, deadline)
		c, err = p.dial(dctx, w.Key, w.DB)
		cancel()
		p.mu.Lock()
		p.stats.Dials++
		if err == nil {
			p.mu.Unlock()
			return c, nil
		}
		p.stats.DialErrors++
		p.mu.Unlock()
		p.releaseSlot()
		lastErr = err
		if !retryable(err) {
			return nil, err
		}
		wait := min(backoff, time.Until(deadline))
		if wait <= 0 {
			return nil, p.timeoutError(timeout, lastErr)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-w.Abort:
			t.Stop()
			return nil, ErrAborted
		case <-t.C:
		}
	}
}

// take returns an idle connection, or mustDial with a slot reserved, or waits for either.
func (p *Pool) take(ctx context.Context, w Want, deadline time.Time) (c *Conn, mustDial bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrPoolClosed
	}
	if i := p.matchIdleLocked(w); i >= 0 {
		c = p.popIdleLocked(i)
		p.inUse++
		p.mu.Unlock()
		return c, false, nil
	}
	if p.waiters.Len() == 0 {
		if p.open < p.set.MaxConns {
			p.open++
			p.inUse++
			p.mu.Unlock()
			return nil, true, nil
		}
		if len(p.idle) > 0 {
			// At the cap with only idle connections of other users (or a database we cannot
			// leave): close the least recently used one and dial in its slot.
			victim := p.popIdleLocked(0)
			p.inUse++
			p.stats.Closed++
			p.mu.Unlock()
			victim.Quit()
			return nil, true, nil
		}
	}
	wt := &waiter{want: w, ch: make(chan grant, 1)}
	elem := p.waiters.PushBack(wt)
	p.stats.WaitCount++
	p.mu.Unlock()
	start := time.Now()
	timer := time.NewTimer(deadline.Sub(start))
	timedOut, aborted := false, false
	select {
	case g := <-wt.ch:
		timer.Stop()
		p.addWait(time.Since(start))
		return g.conn, g.conn == nil, nil
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
		timer.Stop()
	case <-w.Abort:
		timer.Stop()
		aborted = true
	}
	p.mu.Lock()
	p.stats.WaitDuration += time.Since(start)
	select {
	case g := <-wt.ch:
		// Handed over just as we gave up: give it back.
		p.mu.Unlock()
		if g.conn != nil {
			p.Release(g.conn)
		} else {
			p.releaseSlot()
		}
	default:
		p.waiters.Remove(elem)
		p.mu.Unlock()
	}
	if aborted {
		return nil, false, ErrAborted
	}
	p.mu.Lock()
	waiting := p.waiters.Len() + 1
	p.stats.Timeouts++
	maxConns := p.set.MaxConns
	timeout := p.set.AcquireTimeout
	p.mu.Unlock()
	if timedOut {
		return nil, false, &AcquireTimeoutError{Backend: p.addr, Cap: maxConns, Waiting: waiting, Timeout: timeout}
	}
	return nil, false, ctx.Err()
}

func (p *Pool) addWait(d time.Duration) {
	p.mu.Lock()
	p.stats.WaitDuration += d
	p.mu.Unlock()
}

func (p *Pool) timeoutError(timeout time.Duration, lastErr error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Timeouts++
	return &AcquireTimeoutError{Backend: p.addr, Cap: p.set.MaxConns, Waiting: p.waiters.Len() + 1,
		Timeout: timeout, LastErr: lastErr}
}

// matchIdleLocked picks an idle connection for w: same user and flags, preferring the most
// recently used one that already has the session's database and state (no replay), then one with
// the database. A session without a database can only use a connection that never selected one:
// MySQL has no way back to "no database".
func (p *Pool) matchIdleLocked(w Want) int {
	best, bestScore := -1, -1
	for i := len(p.idle) - 1; i >= 0; i-- {
		c := p.idle[i]
		if !fits(c, w) {
			continue
		}
		score := 0
		if c.DB == w.DB {
			score += 2
		}
		if c.State == w.State {
			score++
		}
		if score == 3 {
			return i
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

func (p *Pool) popIdleLocked(i int) *Conn {
	c := p.idle[i]
	copy(p.idle[i:], p.idle[i+1:])
	p.idle[len(p.idle)-1] = nil
	p.idle = p.idle[:len(p.idle)-1]
	return c
}

// fits says whether c can serve w once its database and character set are replayed.
func fits(c *Conn, w Want) bool { return c.Key == w.Key && (w.DB != "" || c.DB == "") }

// Release gives back a healthy connection whose state the session knows. It goes to the first
// waiter, or to the idle list.
func (p *Pool) Release(c *Conn) {
	c.lastUsed = time.Now()
	p.mu.Lock()
	p.inUse--
	if p.closed || p.open > p.set.MaxConns || (p.set.MaxLifetime > 0 && c.Age() > p.set.MaxLifetime) {
		if !p.closed && p.open <= p.set.MaxConns {
			p.stats.ClosedExpired++
		}
		p.open--
		p.stats.Closed++
		p.serveWaitersLocked()
		p.mu.Unlock()
		c.Quit()
		return
	}
	if e := p.waiters.Front(); e != nil {
		wt := p.waiters.Remove(e).(*waiter)
		p.inUse++
		// Grants are sent under the lock so a waiter that times out can tell, under the same
		// lock, whether it was handed something.
		if fits(c, wt.want) {
			wt.ch <- grant{conn: c}
			p.mu.Unlock()
			return
		}
		// Strict FIFO: the first waiter gets the slot even if this connection is not for it.
		p.stats.Closed++
		wt.ch <- grant{}
		p.mu.Unlock()
		c.Quit()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// Discard closes a connection that is broken or in an unknown state and frees its slot.
func (p *Pool) Discard(c *Conn) {
	p.lastDiscard.Store(time.Now().UnixNano())
	_ = c.Close()
	p.releaseSlot()
	p.mu.Lock()
	p.stats.Closed++
	p.mu.Unlock()
}

// releaseSlot gives up a slot that holds no connection (a failed dial, a discarded connection).
func (p *Pool) releaseSlot() {
	p.mu.Lock()
	p.inUse--
	p.open--
	p.serveWaitersLocked()
	p.mu.Unlock()
}

// serveWaitersLocked grants free slots to waiters, first come first served.
func (p *Pool) serveWaitersLocked() {
	for p.open < p.set.MaxConns && p.waiters.Len() > 0 {
		wt := p.waiters.Remove(p.waiters.Front()).(*waiter)
		p.open++
		p.inUse++
		wt.ch <- grant{}
	}
}

// retryable says whether a failed dial may succeed if tried again: the server was unreachable or
// full (ERROR 1040), as opposed to refusing the login itself (unknown database, access denied).
func retryable(err error) bool {
	if errors.Is(err, ErrUnknownUser) || errors.As(err, new(*TLSError)) {
		return false
	}
	var me *mysql.MyError
	if errors.As(err, &me) {
		return me.Code == mysql.ER_CON_COUNT_ERROR
	}
	return true
}
