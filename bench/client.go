package bench

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// reconnectPause is how long a client waits after a failed connect before it tries again, so that
// a refusing target is not hammered in a tight loop.
const reconnectPause = 10 * time.Millisecond

// client is one simulated client. Only its own goroutine touches it while the round runs, except
// live, which the progress printer reads.
type client struct {
	r     *round
	class class
	rng   *rand.Rand
	sess  *session // nil while disconnected
	live  liveCounters

	// Figures of the measured phase (plus the first connect), read once the client is done.
	ops, queries, rows, bytes int64
	latency, connect          Histogram
	errors                    Errors
	connected                 bool      // the first connect succeeded
	finished                  time.Time // when the client stopped; zero if it never ran
}

// liveCounters count every operation, warm-up included, for the progress line.
type liveCounters struct {
	ops, queries, errs atomic.Int64
}

// dial opens a connection and runs the workload's opening on it, returning the time the
// connection itself took.
func (c *client) dial(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	conn, err := c.r.db.Conn(ctx)
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	s := &session{conn: conn, rng: c.rng, plan: c.r.plan}
	if c.r.w.open != nil {
		if err := c.r.w.open(ctx, s); err != nil {
			s.close()
			return took, err
		}
	}
	c.sess = s
	return took, nil
}

// connectFirst makes the client's first connection, before the round starts. A client that fails
// here (say with ERROR 1040) sits the round out; the error is counted.
func (c *client) connectFirst(ctx context.Context) {
	took, err := c.dial(ctx)
	switch {
	case err == nil:
		c.connect.Record(took)
		c.connected = true
	case ctx.Err() == nil:
		c.errors.add(err)
		c.live.errs.Add(1)
	}
}

// class is what a client does in a round.
type class uint8

const (
	classFast  class = iota // operations back to back (every client of the other workloads)
	classPaced              // many-clients: Config.Rate operations per second
	classIdle               // many-clients: connected, no operation
)

// run loads the target until the deadline, the shared budget of operations runs out or ctx is
// cancelled. Operations run under context.Background(): a cancellable context would make the driver
// hand every query to a watcher goroutine, an extra wake-up per query that would bias the figures;
// ctx is checked between operations instead.
func (c *client) run(ctx context.Context) {
	r := c.r
	defer func() { c.finished = time.Now() }()
	if r.w.mode != churn && !c.connected {
		return
	}
	switch {
	case r.w.mode == idle || c.class == classIdle:
		sleepUntil(ctx, r.deadline)
		return
	case c.class == classPaced:
		c.runPaced(ctx)
		return
	}
	for ctx.Err() == nil {
		start := time.Now()
		if !r.deadline.IsZero() && !start.Before(r.deadline) {
			break
		}
		measured := !start.Before(r.measureStart)
		if measured && r.budget != nil && r.budget.Add(-1) < 0 {
			break
		}
		if !c.step(ctx, start, measured) {
			break
		}
	}
}

// runPaced issues an operation every 1/Rate seconds, from a random phase so that the clients
// spread over the period. The schedule is kept whatever the latency: an operation that comes due
// while the previous one runs starts as soon as it ends, and its latency counts from when it was
// due, so a target that cannot keep up shows it in the latencies rather than by lowering the load
// (no coordinated omission).
func (c *client) runPaced(ctx context.Context) {
	r := c.r
	period := time.Duration(float64(time.Second) / r.cfg.Rate)
	due := r.begun.Add(time.Duration(c.rng.Int64N(int64(period))))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil && due.Before(r.deadline) {
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if !c.step(ctx, due, !due.Before(r.measureStart)) {
			return
		}
		due = due.Add(period)
	}
}

// step runs one operation, counted from start, and records it; false when ctx was cancelled
// meanwhile (the operation may have been cut short: it is not counted).
func (c *client) step(ctx context.Context, start time.Time, measured bool) bool {
	var t tally
	err := c.operate(ctx, &t, measured)
	took := time.Since(start)
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		c.live.errs.Add(1)
		if measured {
			c.errors.add(err)
		}
		return true
	}
	c.live.ops.Add(1)
	c.live.queries.Add(t.queries)
	if measured {
		c.ops++
		c.queries += t.queries
		c.rows += t.rows
		c.bytes += t.bytes
		c.latency.Record(took)
	}
	return true
}

// operate runs one operation, connecting first when the client has no connection (churn, or after
// a broken one), and disconnecting after it for churn or when the connection is no longer usable.
func (c *client) operate(ctx context.Context, t *tally, measured bool) error {
	if c.sess == nil {
		took, err := c.dial(ctx)
		if err != nil {
			time.Sleep(reconnectPause)
			return err
		}
		if measured {
			c.connect.Record(took)
		}
	}
	err := c.r.w.do(context.Background(), c.sess, t)
	if c.r.w.mode == churn || (err != nil && !serverAnswered(err)) {
		c.sess.close()
		c.sess = nil
	}
	return err
}

// close closes the client's connection, if it holds one.
func (c *client) close() {
	if c.sess != nil {
		c.sess.close()
		c.sess = nil
	}
}
