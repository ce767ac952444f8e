package backend

import "time"

// Failed dials: what the pool remembers of them, what it tells the operator (one warning when
// failures start, one line when they end), and when it forgets.

// outage is a run of failed dials that concern the server rather than a login: full (1040,
// 1203/1226, connect timeout), down, or failing otherwise. While it lasts the pool dials one
// connection at a time, after a backoff, and serves the queue from the connections it has.
type outage struct {
	backoff
	since   time.Time   // first failure; zero: no outage
	reason  DialFailure // of the last failure
	err     error       // of the last failure
	failed  uint64      // failed dials in this outage
	okSince time.Time   // first success since the last failure; zero: none
	retire  bool        // a connection past max_lifetime may close (a probe was started)
}

// outageQuiet: an outage ends once dials have succeeded for this long without a failure, or at
// once when the pool holds its cap: one connection accepted is not yet room for more.
const outageQuiet = 5 * time.Second

// loginKey is what a refused login applies to.
type loginKey struct {
	key Key
	db  string
}

// loginFault is a login the server refused. Waiters for it that no open connection of their
// user can serve get the error at once; one dial tries the login again after the backoff.
type loginFault struct {
	backoff
	since   time.Time
	err     error
	probing bool // a dial for this login is in flight
}

// maxLoginFaults bounds the refused logins remembered (clients choose the databases, so their
// number has no other bound); a refusal beyond it still fails its waiters.
const maxLoginFaults = 64

// loginFaultTTL: a refusal that nobody dialled for this long after its backoff is forgotten.
const loginFaultTTL = time.Minute

// dialFailedLocked records a failed dial for lk, started at started; it returns the log lines
// to write once the lock is released.
func (p *Pool) dialFailedLocked(lk loginKey, err error, started time.Time) []func() {
	why := classify(err)
	p.stats.DialErrors++
	p.stats.DialFailures[why]++
	now := time.Now()
	if why.login() {
		return p.loginFailedLocked(lk, err, now, started)
	}
	if why.serverFull() {
		p.stats.RefusedDials++
	}
	o := &p.outage
	first := o.since.IsZero()
	if first {
		o.since = now
	}
	o.reason, o.err, o.okSince = why, err, time.Time{}
	o.failed++
	if !first && started.Before(o.since) {
		return nil // dialled alongside the one that began the outage: no news, no longer wait
	}
	retry := o.fail(now, why.backoffMax())
	p.armLocked(o.until)
	if !first {
		return nil
	}
	held, maxConns, waiting := p.open-p.dialing, p.capLocked(), p.waiters.Len()
	return []func(){func() {
		p.log.Warn("backend dial failed: serving the waiting clients from the connections held, dialling one at a time after a backoff",
			"backend", p.addr, "state", why.state(), "err", err, "held", held, "cap", maxConns,
			"waiting", waiting, "retry_in", retry.Round(time.Millisecond))
	}}
}

// loginFailedLocked records a refused login and fails its waiters that nothing else can serve.
func (p *Pool) loginFailedLocked(lk loginKey, err error, now, started time.Time) []func() {
	f := p.logins[lk]
	first := f == nil
	if first {
		if len(p.logins) >= maxLoginFaults {
			p.failWaitersLocked(lk, err)
			return nil
		}
		f = &loginFault{since: now}
		p.logins[lk] = f
	}
	f.err = err
	failed := p.failWaitersLocked(lk, err)
	if !first && started.Before(f.since) {
		return nil // dialled alongside the first refused one
	}
	retry := f.fail(now, backoffMaxFull)
	p.armLocked(f.until) // waiters that an open connection may yet serve get a probe then
	if !first {
		return nil
	}
	held := p.held[lk.key]
	return []func(){func() {
		p.log.Warn("backend refused the login: clients that need a new connection for it get the server's error",
			"backend", p.addr, "user", lk.key.User, "database", lk.db, "err", err,
			"failed_waiters", failed, "held", held, "retry_in", retry.Round(time.Millisecond))
	}}
}

// failWaitersLocked hands err to the waiters for lk when no open connection of their user can
// serve them (one given back would), and returns how many there were.
func (p *Pool) failWaitersLocked(lk loginKey, err error) int {
	if p.held[lk.key] > 0 {
		return 0
	}
	n := 0
	for e := p.waiters.Front(); e != nil; {
		next := e.Next()
		if wt := e.Value.(*waiter); wt.want.Key == lk.key && wt.want.DB == lk.db {
			p.grantLocked(e, grant{err: err})
			n++
		}
		e = next
	}
	return n
}

// dialOKLocked records a successful dial for lk.
func (p *Pool) dialOKLocked(lk loginKey) (notes []func()) {
	now := time.Now()
	if f := p.logins[lk]; f != nil {
		delete(p.logins, lk)
		notes = append(notes, func() {
			p.log.Info("backend accepts the login again", "backend", p.addr, "user", lk.key.User,
				"database", lk.db, "refused_for", now.Sub(f.since).Round(time.Millisecond))
		})
	}
	o := &p.outage
	if o.since.IsZero() {
		return notes
	}
	if o.okSince.IsZero() {
		o.okSince = now
	}
	if p.open-p.dialing >= p.capLocked() {
		notes = append(notes, p.endOutageLocked(now))
	}
	return notes
}

// endOutageLocked ends the outage; the returned function logs it.
func (p *Pool) endOutageLocked(now time.Time) func() {
	o := p.outage
	p.outage = outage{}
	held, maxConns := p.open-p.dialing, p.capLocked()
	return func() {
		p.log.Info("backend accepts connections again", "backend", p.addr, "state_was", o.reason.state(),
			"lasted", now.Sub(o.since).Round(time.Millisecond), "failed_dials", o.failed,
			"held", held, "cap", maxConns)
	}
}

// expireFaultsLocked ends an outage whose dials have succeeded for outageQuiet and forgets
// refused logins nobody tried again.
func (p *Pool) expireFaultsLocked(now time.Time) (notes []func()) {
	if o := &p.outage; !o.okSince.IsZero() && now.Sub(o.okSince) >= outageQuiet {
		notes = append(notes, p.endOutageLocked(now))
	}
	for lk, f := range p.logins {
		if !f.probing && now.Sub(f.until) > loginFaultTTL {
			delete(p.logins, lk)
		}
	}
	return notes
}

// loginRefusedLocked returns the server's error for w's login while the login is refused and
// no open connection of w's user could serve w.
func (p *Pool) loginRefusedLocked(w Want, now time.Time) error {
	f := p.logins[loginKey{w.Key, w.DB}]
	if f == nil || f.probing || !now.Before(f.until) || p.held[w.Key] > 0 {
		return nil
	}
	return f.err
}

// lastDialErrLocked is the dial error that explains why w waited in vain, if any.
func (p *Pool) lastDialErrLocked(w Want) error {
	if f := p.logins[loginKey{w.Key, w.DB}]; f != nil {
		return f.err
	}
	return p.outage.err
}

// dialFaultLocked describes the failures going on for SHOW POOLS: the outage, else the
// oldest refused login; err nil when dials succeed.
func (p *Pool) dialFaultLocked() (err error, state string, since time.Time) {
	if o := &p.outage; !o.since.IsZero() {
		return o.err, o.reason.state(), o.since
	}
	for _, f := range p.logins {
		if err == nil || f.since.Before(since) {
			err, state, since = f.err, FailLoginRefused.state(), f.since
		}
	}
	return err, state, since
}
