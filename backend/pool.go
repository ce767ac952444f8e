package backend

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Settings are the limits of one pool; SetSettings changes them on reload.
type Settings struct {
	MaxConns       int           // cap on open plus dialling connections, all users together
	AcquireTimeout time.Duration // how long Acquire waits for a connection
	IdleTimeout    time.Duration // close connections idle this long; 0 = never
	MaxLifetime    time.Duration // close connections older than this once idle; 0 = never
	ConnectTimeout time.Duration // bound on one dial (the DialFunc's work); 0 = none
}

// AcquireTimeoutError is returned when no connection could be had within the acquire timeout.
type AcquireTimeoutError struct {
	Backend string
	Cap     int
	Open    int // connections open (or being dialled) when this one gave up
	Waiting int // clients waiting when this one gave up, itself included
	Timeout time.Duration
	LastErr error // why the last dial failed, while dials are failing
}

func (e *AcquireTimeoutError) Error() string {
	held := fmt.Sprintf("all %d in use", e.Cap)
	switch {
	case e.Open == 0:
		held = fmt.Sprintf("none open (cap %d)", e.Cap)
	case e.Open < e.Cap: // the server refused more
		held = fmt.Sprintf("all %d open in use (cap %d)", e.Open, e.Cap)
	}
	msg := fmt.Sprintf("no backend connection to %s within %s: %s, %d waiting", e.Backend, e.Timeout, held, e.Waiting)
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

// grant is what a waiter is handed: a connection, or the error that ends its wait (the server
// refused its login).
type grant struct {
	conn *Conn
	err  error
}

type waiter struct {
	want    Want
	ch      chan grant // buffered 1: the handing side never blocks
	dialing bool       // a dial started for this waiter is in flight (guarded by Pool.mu)
	// start is when it began to wait, deadline when it gives up (set before it is queued).
	start, deadline time.Time
}

// Pool caps the connections to one server and queues statements FIFO when none is free.
// Model: database/sql's conn()/putConnDBLocked, with a slot counted from the moment a dial
// starts. Waiters never dial: the pool dials on behalf of the queue (pooldial.go), so a
// refused dial costs no waiter its place, and a server that refuses connections is probed
// by one dial after a backoff rather than by every waiter.
type Pool struct {
	addr string
	dial DialFunc
	log  *slog.Logger

	mu      sync.Mutex
	set     Settings
	idle    []*Conn     // most recently used last; none fits a waiter
	open    int         // open or being dialled; never above capLocked()
	dialing int         // dials in flight (counted in open)
	inUse   int         // lent out
	held    map[Key]int // open connections (idle or lent) by key
	waiters *list.List  // of *waiter, FIFO
	closed  bool
	stats   Stats
	limit   int // a ceiling below set.MaxConns set by SetLimit (a fleet's grant); -1: none

	outage outage                   // failed dials that say the server is full, slow or down
	logins map[loginKey]*loginFault // logins the server refused, by key and database
	timer  *time.Timer              // ends a backoff: runs dialLocked
	wake   time.Time                // when timer fires; zero: not armed
	// expiry ends the waits past their deadline (expireLocked), at expiryAt (zero: not armed):
	// one timer for the queue rather than one per wait, which cost every wait a timer's
	// creation and stop and a fourth case in its select.
	expiry   *time.Timer
	expiryAt time.Time

	ctx    context.Context // ends dials in flight on Close
	cancel context.CancelFunc
	stop   chan struct{}
	done   chan struct{}

	lastDiscard atomic.Int64 // unix nanoseconds of the last Discard; see trusted
	closing     atomic.Int64 // connections no longer counted in open whose socket is not closed yet
	idleLimit   atomic.Int64 // set.IdleTimeout, read without the lock by usable

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
	now := time.Now()
	if limit := time.Duration(p.idleLimit.Load()); limit > 0 && now.Sub(c.lastUsed) >= limit {
		// Past idle_timeout (which the proxy keeps below the server's wait_timeout): the janitor
		// would close it within a second; the server may be closing it now.
		return false
	}
	if now.Sub(c.lastUsed) < trustFor && now.UnixNano()-p.lastDiscard.Load() > int64(distrustFor) {
		return true
	}
	return c.Alive()
}

// DialFunc opens a connection for key with db as its default database.
type DialFunc func(ctx context.Context, key Key, db string) (*Conn, error)

// NewPool creates the pool for the server at addr and starts its janitor. log receives one
// warning when dials start failing and one line when they succeed again (nil: no logging).
func NewPool(addr string, dial DialFunc, s Settings, log *slog.Logger) *Pool {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{addr: addr, dial: dial, log: log, set: s, limit: -1, waiters: list.New(), held: make(map[Key]int),
		logins: make(map[loginKey]*loginFault), stop: make(chan struct{}), done: make(chan struct{})}
	p.idleLimit.Store(int64(s.IdleTimeout))
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.timer = time.AfterFunc(time.Hour, p.onTimer)
	p.timer.Stop()
	p.expiry = time.AfterFunc(time.Hour, p.onExpiry)
	p.expiry.Stop()
	go p.janitor()
	return p
}

// Addr is the server's address.
func (p *Pool) Addr() string { return p.addr }

// acquire returns a connection for w, waiting up to the acquire timeout (see Acquire).
func (p *Pool) acquire(ctx context.Context, w Want) (*Conn, error) {
	// Fast path: an idle connection that fits.
	p.mu.Lock()
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
	var deadline time.Time // set when it first has to wait: no timer on the fast path
	requeue := false
	for {
		c, err := p.take(ctx, w, &deadline, requeue)
		if err != nil {
			return nil, err
		}
		if p.usable(c) {
			return c, nil
		}
		p.Discard(c) // the server closed it while idle (restart, wait_timeout)
		requeue = true
	}
}

// take returns an idle connection for w, or queues w and waits for one. A waiter that was handed
// a dead connection comes back with requeue set and goes to the front: its place was first.
func (p *Pool) take(ctx context.Context, w Want, deadline *time.Time, requeue bool) (*Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	if i := p.matchIdleLocked(w); i >= 0 {
		c := p.popIdleLocked(i)
		p.inUse++
		p.mu.Unlock()
		return c, nil
	}
	if err := p.loginRefusedLocked(w, time.Now()); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	now := time.Now()
	if deadline.IsZero() {
		*deadline = now.Add(p.set.AcquireTimeout)
	}
	wt := &waiter{want: w, ch: make(chan grant, 1), start: now, deadline: *deadline}
	var elem *list.Element
	if requeue {
		elem = p.waiters.PushFront(wt)
	} else {
		elem = p.waiters.PushBack(wt)
		p.stats.WaitCount++
	}
	p.armExpiryLocked(wt.deadline)
	p.dialLocked()
	p.mu.Unlock()
	return p.wait(ctx, wt, elem)
}

// wait blocks until wt is handed a connection or an error (the acquire timeout's among them:
// expireLocked), or gives up on ctx or on Abort.
func (p *Pool) wait(ctx context.Context, wt *waiter, elem *list.Element) (*Conn, error) {
	var why error
	select {
	case g := <-wt.ch:
		return g.conn, g.err // the wait was counted by the hand-over
	case <-ctx.Done():
		why = ctx.Err()
	case <-wt.want.Abort:
		why = ErrAborted
	}
	p.mu.Lock()
	select {
	case g := <-wt.ch:
		// Handed over just as we gave up: give it back.
		p.mu.Unlock()
		if g.conn != nil {
			p.Release(g.conn)
		}
	default:
		p.waiters.Remove(elem)
		p.addWaitLocked(time.Since(wt.start))
		p.mu.Unlock()
	}
	return nil, why
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

// Release gives back a healthy connection whose state the session knows. It goes to the oldest
// waiter it can serve, or to the idle list.
func (p *Pool) Release(c *Conn) {
	if c.closed.Load() {
		// Closed while lent (a KILL of the session that held it): a recently used
		// connection is lent without a look at its socket, so it must not go back.
		p.Discard(c)
		return
	}
	c.lastUsed = time.Now()
	p.mu.Lock()
	p.inUse--
	var quit []*Conn
	switch {
	case p.closed || p.open > p.capLocked() || (p.set.MaxLifetime > 0 && c.Age() > p.set.MaxLifetime && p.mayRetireLocked()):
		if !p.closed && p.open <= p.capLocked() {
			p.stats.ClosedExpired++
		}
		quit = append(quit, p.dropLocked(c))
	case p.waiters.Len() == 0: // nobody waits: the fast path
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	default:
		p.putLocked(c)
	}
	p.dialLocked()
	p.mu.Unlock()
	p.quitAll(quit)
}

// putLocked hands an open connection to the oldest waiter it can serve (counting it lent), or
// keeps it idle. Strict FIFO across users: when the oldest waiter needs another user's
// connection and only this connection's slot could get it one, the connection is closed and a
// dial starts in its slot (closing it first: see startDialLocked).
func (p *Pool) putLocked(c *Conn) {
	front := p.waiters.Front()
	for e := front; e != nil; e = e.Next() {
		wt := e.Value.(*waiter)
		if fits(c, wt.want) {
			p.inUse++
			p.grantLocked(e, grant{conn: c})
			return
		}
		if e == front && !wt.dialing && p.open >= p.capLocked() && p.mayDialLocked(wt.want, time.Now()) {
			p.startDialLocked(wt, p.dropLocked(c))
			return
		}
	}
	p.idle = append(p.idle, c)
}

// Discard closes a connection that is broken or in an unknown state and frees its slot.
func (p *Pool) Discard(c *Conn) {
	p.lastDiscard.Store(time.Now().UnixNano())
	_ = c.Close()
	p.mu.Lock()
	p.inUse--
	p.forgetLocked(c) // closed above
	p.dialLocked()
	p.mu.Unlock()
}

// dropLocked forgets an open connection that is about to be closed and returns it; it counts as
// closing until quitAll has closed it.
func (p *Pool) dropLocked(c *Conn) *Conn {
	p.forgetLocked(c)
	p.closing.Add(1)
	return c
}

// forgetLocked stops counting an open connection.
func (p *Pool) forgetLocked(c *Conn) {
	p.open--
	p.stats.Closed++
	if p.held[c.Key]--; p.held[c.Key] <= 0 {
		delete(p.held, c.Key)
	}
}

// quitAll closes connections dropLocked returned (outside the lock: COM_QUIT is a write).
func (p *Pool) quitAll(cs []*Conn) {
	for _, c := range cs {
		c.Quit()
		p.closing.Add(-1)
	}
}
