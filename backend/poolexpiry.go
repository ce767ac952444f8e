package backend

import (
	"container/list"
	"time"
)

// The wait queue's ends: a hand-over, and the one timer that fails the waits past their
// deadline.

// grantLocked ends the wait of the waiter at e with g, and counts the time it waited. Grants
// are sent under the lock so a waiter that gives up can tell, under the same lock, whether it
// was handed something.
func (p *Pool) grantLocked(e *list.Element, g grant) {
	wt := p.waiters.Remove(e).(*waiter)
	p.addWaitLocked(time.Since(wt.start))
	wt.ch <- g
}

// armExpiryLocked makes sure expireLocked runs by deadline.
func (p *Pool) armExpiryLocked(deadline time.Time) {
	if p.expiryAt.IsZero() || deadline.Before(p.expiryAt) {
		p.expiryAt = deadline
		p.expiry.Reset(time.Until(deadline))
	}
}

func (p *Pool) onExpiry() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked(time.Now())
}

// expireLocked fails the waits past their deadline with an AcquireTimeoutError and arms the
// timer for the next deadline. Deadlines mostly come in queue order (a fixed timeout, FIFO),
// but a reload may shorten the timeout and a requeued waiter goes first: the whole queue is
// looked at, which happens only when a wait times out.
func (p *Pool) expireLocked(now time.Time) {
	p.expiryAt = time.Time{}
	var next time.Time
	for e := p.waiters.Front(); e != nil; {
		following := e.Next()
		wt := e.Value.(*waiter)
		if now.Before(wt.deadline) {
			if next.IsZero() || wt.deadline.Before(next) {
				next = wt.deadline
			}
		} else {
			p.stats.Timeouts++
			err := &AcquireTimeoutError{Backend: p.addr, Cap: p.capLocked(), Open: p.open,
				Waiting: p.waiters.Len(), Timeout: p.set.AcquireTimeout, LastErr: p.lastDialErrLocked(wt.want)}
			p.grantLocked(e, grant{err: err})
		}
		e = following
	}
	if !next.IsZero() {
		p.armExpiryLocked(next)
	}
}
