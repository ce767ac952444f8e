package backend

import "time"

// Maintenance of a pool outside the borrow/return path: new limits on reload, closing
// connections past idle_timeout or max_lifetime, ending dial-failure episodes, shutting the pool.

// SetSettings applies new limits. Lowering the cap closes idle connections above it at once and
// busy ones as they come back; raising it serves waiters. Refused logins are forgotten: a reload
// may have changed the passwords, so the next dial tries at once.
func (p *Pool) SetSettings(s Settings) {
	p.mu.Lock()
	p.set = s
	p.idleLimit.Store(int64(s.IdleTimeout))
	clear(p.logins)
	p.applyCapLocked()
}

// Settings returns the limits in force.
func (p *Pool) Settings() Settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set
}

// Close closes idle connections, ends the waits and dials in progress and fails later Acquires
// with ErrPoolClosed; lent connections close on Release.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var idle []*Conn
	for len(p.idle) > 0 {
		idle = append(idle, p.dropLocked(p.popIdleLocked(0)))
	}
	for e := p.waiters.Front(); e != nil; e = p.waiters.Front() {
		p.grantLocked(e, grant{err: ErrPoolClosed})
	}
	p.timer.Stop()
	p.expiry.Stop()
	p.mu.Unlock()
	p.cancel()
	close(p.stop)
	<-p.done
	p.quitAll(idle)
}

// janitor closes connections idle past idle_timeout or older than max_lifetime, and ends
// dial-failure episodes that are over.
func (p *Pool) janitor() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		var expired []*Conn
		now := time.Now()
		p.mu.Lock()
		keep := p.idle[:0]
		for _, c := range p.idle {
			idleFor := now.Sub(c.lastUsed)
			switch {
			case p.set.IdleTimeout > 0 && idleFor > p.set.IdleTimeout:
				p.stats.ClosedIdle++
			case p.set.MaxLifetime > 0 && c.Age() > p.set.MaxLifetime:
				p.stats.ClosedExpired++
			default:
				keep = append(keep, c)
				continue
			}
			expired = append(expired, p.dropLocked(c))
		}
		clear(p.idle[len(keep):])
		p.idle = keep
		notes := p.expireFaultsLocked(now)
		p.dialLocked()
		p.mu.Unlock()
		for _, note := range notes {
			note()
		}
		p.quitAll(expired)
	}
}
