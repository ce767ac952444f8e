package backend

// A ceiling on the pool set from outside its Settings: the share of a fleet-wide connection
// budget this proxy was granted (cluster/). Settings.MaxConns stays what the configuration says;
// the pool holds at most the lower of the two.

// SetLimit caps the pool at n connections below Settings.MaxConns (n < 0: no ceiling). Lowering
// it closes idle connections above it at once and busy ones as they come back (a transaction is
// never broken); raising it serves waiters. Held tells when the lowering is done.
func (p *Pool) SetLimit(n int) {
	p.mu.Lock()
	p.limit = n
	p.applyCapLocked()
}

// Held is the number of connections the server may still count for this pool: open, being
// dialled, or dropped and not yet closed. The pool's sockets never outnumber it, and after a
// lowered cap it only falls until it reaches the cap (see startDialLocked for the one moment it
// counts a connection twice: one closing to make room for a dial in its slot).
func (p *Pool) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open + int(p.closing.Load())
}

// capLocked is the cap in force: Settings.MaxConns, or the limit when lower.
func (p *Pool) capLocked() int {
	if p.limit >= 0 && p.limit < p.set.MaxConns {
		return p.limit
	}
	return p.set.MaxConns
}

// applyCapLocked closes idle connections above the cap in force, starts the dials a raised cap
// allows, and unlocks p.mu.
func (p *Pool) applyCapLocked() {
	var quit []*Conn
	for p.open > p.capLocked() && len(p.idle) > 0 {
		quit = append(quit, p.dropLocked(p.popIdleLocked(0)))
	}
	p.dialLocked()
	p.mu.Unlock()
	p.quitAll(quit)
}

// ConfiguredCap is Settings.MaxConns: the cap the configuration gives, whatever the limit.
func (p *Pool) ConfiguredCap() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set.MaxConns
}
