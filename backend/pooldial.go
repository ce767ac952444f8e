package backend

import (
	"context"
	"time"
)

// Dialling on behalf of the queue. A dial starts for the oldest waiter that no dial serves yet;
// its connection goes to the oldest waiter it can serve once it is ready (a connection given
// back meanwhile may have served the waiter it was started for). A failed dial leaves every
// waiter where it was. While dials fail for reasons of the server's (poolfault.go), the pool
// dials one connection at a time, after a backoff, and serves the queue from what it holds.

// dialLocked starts the dials the queue needs, oldest waiter first, as far as the cap and the
// server allow. At the cap, an idle connection no waiter can use (another user's) is closed to
// make room.
func (p *Pool) dialLocked() {
	if p.closed || p.waiters.Len() == 0 {
		return
	}
	now := time.Now()
	for e := p.waiters.Front(); e != nil && p.serverMayDialLocked(now); e = e.Next() {
		wt := e.Value.(*waiter)
		if wt.dialing || !p.loginMayDialLocked(wt.want, now) {
			continue
		}
		var victim *Conn
		if p.open >= p.capLocked() {
			if len(p.idle) == 0 {
				break
			}
			victim = p.dropLocked(p.popIdleLocked(0))
		}
		p.startDialLocked(wt, victim)
	}
}

// mayDialLocked says whether a dial for w may start now.
func (p *Pool) mayDialLocked(w Want, now time.Time) bool {
	return p.serverMayDialLocked(now) && p.loginMayDialLocked(w, now)
}

// serverMayDialLocked: no more dials in flight than connections open, plus one (the pool grows
// by doubling, so a server with little room refuses a few dials, not a cap's worth at once);
// during an outage, one dial at a time and none before the backoff ends.
func (p *Pool) serverMayDialLocked(now time.Time) bool {
	o := &p.outage
	switch {
	case o.since.IsZero():
		return p.dialing <= p.open-p.dialing
	case p.dialing > 0:
		return false // its end calls dialLocked
	case now.Before(o.until):
		p.armLocked(o.until)
		return false
	}
	return true
}

// mayRetireLocked says whether a connection past max_lifetime may be closed as it comes back,
// and counts it. Connections dialled together expire together; closing them all at once, if the
// server then refuses their replacements, would leave the queue almost nothing to be served by.
// So: one at a time (none while a dial is in flight: the replacement of the previous one has not
// answered yet), and during an outage one per probe, so the pool sheds at most one connection
// per refused dial.
func (p *Pool) mayRetireLocked() bool {
	o := &p.outage
	if o.since.IsZero() {
		return p.dialing == 0
	}
	retire := o.retire
	o.retire = false
	return retire
}

// loginMayDialLocked: a refused login is tried again by one dial, after its backoff.
func (p *Pool) loginMayDialLocked(w Want, now time.Time) bool {
	f := p.logins[loginKey{w.Key, w.DB}]
	switch {
	case f == nil:
		return true
	case f.probing:
		return false
	case now.Before(f.until):
		p.armLocked(f.until)
		return false
	}
	return true
}

// startDialLocked counts a slot for a new connection and dials it for wt's login. victim, when
// not nil, is the connection dropped to make room: it is closed before the dial starts, so the
// server never sees more connections than the cap (a fleet's grants add up to its budget).
func (p *Pool) startDialLocked(wt *waiter, victim *Conn) {
	if !p.outage.since.IsZero() {
		p.outage.retire = true // this dial is a probe
	}
	wt.dialing = true
	p.open++
	p.dialing++
	lk := loginKey{wt.want.Key, wt.want.DB}
	if f := p.logins[lk]; f != nil {
		f.probing = true
	}
	go p.runDial(wt, lk, victim, p.set.ConnectTimeout)
}

// runDial closes victim (if any), dials (within timeout, if set), then hands the connection to
// the queue or records the failure.
func (p *Pool) runDial(wt *waiter, lk loginKey, victim *Conn, timeout time.Duration) {
	if victim != nil {
		p.quitAll([]*Conn{victim})
	}
	started := time.Now()
	ctx, cancel := p.ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(p.ctx, timeout)
	}
	c, err := p.dial(ctx, lk.key, lk.db)
	cancel()
	var notes []func()
	var quit []*Conn
	p.mu.Lock()
	wt.dialing = false
	p.dialing--
	p.stats.Dials++
	if f := p.logins[lk]; f != nil {
		f.probing = false
	}
	switch {
	case err != nil:
		p.open--
		if !p.closed { // else Close cancelled it
			notes = p.dialFailedLocked(lk, err, started)
		}
	default:
		p.held[lk.key]++
		notes = p.dialOKLocked(lk)
		if p.closed || p.open > p.capLocked() { // closed, or the cap lowered meanwhile
			quit = append(quit, p.dropLocked(c))
		} else {
			p.putLocked(c)
		}
	}
	p.dialLocked()
	p.mu.Unlock()
	for _, note := range notes {
		note()
	}
	p.quitAll(quit)
}

// armLocked makes the timer run dialLocked at the latest at at.
func (p *Pool) armLocked(at time.Time) {
	if p.closed {
		return
	}
	if p.wake.IsZero() || at.Before(p.wake) {
		p.wake = at
		p.timer.Reset(time.Until(at))
	}
}

func (p *Pool) onTimer() {
	p.mu.Lock()
	if !p.wake.After(time.Now()) { // else re-armed for later while this run waited for the lock
		p.wake = time.Time{}
	}
	p.dialLocked()
	p.mu.Unlock()
}
