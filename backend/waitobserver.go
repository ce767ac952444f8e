package backend

import (
	"context"
	"time"
)

// SetWaitObserver makes every Acquire report how long it took, successful or not, to f (nil:
// none): the wait for a connection as the statement sees it, a dial included.
func (p *Pool) SetWaitObserver(f func(time.Duration)) {
	if f == nil {
		p.waitObserver.Store(nil)
		return
	}
	p.waitObserver.Store(&f)
}

// Acquire returns a connection for w, waiting up to the acquire timeout. The connection's default
// database and character set may still differ from what the session needs.
func (p *Pool) Acquire(ctx context.Context, w Want) (*Conn, error) {
	f := p.waitObserver.Load()
	if f == nil {
		return p.acquire(ctx, w)
	}
	start := time.Now()
	c, err := p.acquire(ctx, w)
	(*f)(time.Since(start))
	return c, err
}
