package backend

import "time"

// Maintenance of a pool outside the borrow/return path: new limits on reload, closing
// connections past idle_timeout or max_lifetime, shutting the pool.

// SetSettings applies new limits. Lowering the cap closes idle connections above it at once and
// busy ones as they come back; raising it serves waiters.
func (p *Pool) SetSettings(s Settings) {
	p.mu.Lock()
	p.set = s
	var extra []*Conn
	for p.open > s.MaxConns && len(p.idle) > 0 {
		extra = append(extra, p.popIdleLocked(0))
		p.open--
		p.stats.Closed++
	}
	p.serveWaitersLocked()
	p.mu.Unlock()
	for _, c := range extra {
		c.Quit()
	}
}

// Close closes idle connections and fails later Acquires; lent connections close on Release.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	p.stats.Closed += uint64(len(idle))
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, c := range idle {
		c.Quit()
	}
}

// janitor closes connections idle past idle_timeout or older than max_lifetime.
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
		p.mu.Lock()
		keep := p.idle[:0]
		for _, c := range p.idle {
			idleFor := time.Since(c.lastUsed)
			switch {
			case p.set.IdleTimeout > 0 && idleFor > p.set.IdleTimeout:
				p.stats.ClosedIdle++
			case p.set.MaxLifetime > 0 && c.Age() > p.set.MaxLifetime:
				p.stats.ClosedExpired++
			default:
				keep = append(keep, c)
				continue
			}
			expired = append(expired, c)
		}
		clear(p.idle[len(keep):])
		p.idle = keep
		p.open -= len(expired)
		p.stats.Closed += uint64(len(expired))
		p.serveWaitersLocked()
		p.mu.Unlock()
		for _, c := range expired {
			c.Quit()
		}
	}
}
