package backend

import "time"

// Stats are the pool's counters, for the admin console and metrics.
type Stats struct {
	Backend  string
	MaxConns int
	Open     int // open or being dialled
	Dialing  int // being dialled
	InUse    int
	Idle     int
	Waiting  int

	WaitCount    uint64        // acquisitions that had to wait (for a connection to come back or be opened)
	WaitDuration time.Duration // total time spent waiting
	WaitMax      time.Duration // the longest wait
	Timeouts     uint64        // acquisitions that failed with AcquireTimeoutError

	Dials        uint64
	DialErrors   uint64
	DialFailures [NumDialFailures]uint64 // failed dials by reason (they add up to DialErrors)
	RefusedDials uint64                  // dials the server refused for lack of room (DialFailure.serverFull)

	// DialState says whether dials fail now: "ok", or "server_full", "unreachable",
	// "dial_failing" (the server's state), "login_refused" (a login of some user or database).
	DialState      string
	DialStateSince time.Time // when the failures began; zero when ok
	LastDialError  string    // why the last dial failed while DialState is not ok

	Closed        uint64 // connections closed for any reason
	ClosedIdle    uint64 // closed by idle_timeout
	ClosedExpired uint64 // closed by max_lifetime
}

// Stats returns a snapshot of the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Backend, s.MaxConns, s.Open, s.Dialing, s.InUse = p.addr, p.capLocked(), p.open, p.dialing, p.inUse
	s.Idle, s.Waiting = len(p.idle), p.waiters.Len()
	s.DialState = "ok"
	if err, kind, since := p.dialFaultLocked(); err != nil {
		s.DialState, s.DialStateSince, s.LastDialError = kind, since, err.Error()
	}
	return s
}

func (p *Pool) addWaitLocked(d time.Duration) {
	p.stats.WaitDuration += d
	p.stats.WaitMax = max(p.stats.WaitMax, d)
}
