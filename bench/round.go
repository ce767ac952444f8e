package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// connectParallelism bounds how many clients connect at once when a round starts, so that
// thousands of clients do not overflow the target's listen backlog (a dropped SYN costs a one-second
// retransmission, which would be measured as connection time).
const connectParallelism = 128

// round is one measured run of the workload against one target.
type round struct {
	cfg  *Config
	w    *workload
	plan *plan
	db   *sql.DB
	step Step
	// Set before the clients start, read-only after.
	begun        time.Time     // end of connecting: the warm-up starts
	measureStart time.Time     // end of warm-up
	deadline     time.Time     // end of the measured phase; zero with -queries alone
	budget       *atomic.Int64 // operations left with -queries; nil without
}

// runRound connects the clients, runs a warm-up and a measured phase and adds the figures to res.
func runRound(ctx context.Context, cfg *Config, w *workload, p *plan, t Target, res *Result, label string) error {
	st := res.Step
	if st.Clients == 0 {
		st = Step{Clients: cfg.Clients}
	}
	db, err := openDB(cfg, t.Addr, cfg.DB, w.interpolate)
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection per client. A released connection is kept until the round ends, except for
	// churn, where releasing one closes it.
	db.SetMaxOpenConns(st.Clients)
	keep := st.Clients
	if w.mode == churn {
		keep = -1
	}
	db.SetMaxIdleConns(keep)
	r := &round{cfg: cfg, w: w, plan: p, db: db, step: st}
	if cfg.Queries > 0 {
		r.budget = new(atomic.Int64)
		r.budget.Store(cfg.Queries)
	}

	var rssBefore procSample
	if t.PID > 0 {
		if rssBefore, err = sampleProc(t.PID); err != nil {
			return err
		}
	}
	sampler := newConnSampler(ctx, cfg)
	clients := make([]*client, st.Clients)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	slots := make(chan struct{}, connectParallelism)
	for i := range clients {
		c := &client{r: r, rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i))), errors: Errors{}, class: st.classOf(w, i)}
		clients[i] = c
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if w.mode != churn {
				slots <- struct{}{}
				c.connectFirst(ctx)
				<-slots
			}
			ready.Done()
			<-start
			c.run(ctx)
		}()
	}
	ready.Wait()
	begun := time.Now()
	r.begun = begun
	r.measureStart = begun.Add(cfg.Warmup)
	if cfg.Duration > 0 {
		r.deadline = r.measureStart.Add(cfg.Duration)
	}
	close(start)
	stopProgress := startProgress(cfg, w, clients, label, begun, r.measureStart)
	sleepUntil(ctx, r.measureStart)
	// A target process that vanishes mid-round is reported once the clients are done and closed.
	var cpuStart, end procSample
	var procErr error
	selfStart := selfCPU()
	if t.PID > 0 {
		cpuStart, procErr = sampleProc(t.PID)
	}
	sampler.start(ctx)
	done.Wait()
	stopProgress()

	rd := Round{SelfCPU: selfCPU() - selfStart, ServerConns: sampler.stop(), Window: cfg.Duration}
	if t.PID > 0 && procErr == nil {
		end, procErr = sampleProc(t.PID) // the clients still hold their connections: idle's RSS
		rd.Sampled = procErr == nil
		rd.TargetCPU, rd.RSSBefore, rd.RSSAfter = end.cpu-cpuStart.cpu, rssBefore.rss, end.rss
		rd.Voluntary, rd.Involuntary = end.voluntary-cpuStart.voluntary, end.involuntary-cpuStart.involuntary
		rd.Reads, rd.Writes = end.reads-cpuStart.reads, end.writes-cpuStart.writes
	}
	r.collect(clients, &rd, res)
	res.Rounds = append(res.Rounds, rd)
	return procErr
}

// collect closes the clients' connections and adds their figures to rd and res.
func (r *round) collect(clients []*client, rd *Round, res *Result) {
	var last time.Time
	var paced []*client
	for _, c := range clients {
		switch {
		case r.w.mode != mixed:
		case c.class == classFast:
			res.Fast.add(c)
		case c.class == classPaced:
			paced = append(paced, c)
			res.Paced.add(c)
		}
		c.close()
		if c.connected || r.w.mode == churn {
			rd.Connected++
		}
		if c.finished.After(last) {
			last = c.finished
		}
		rd.Ops += c.ops
		rd.Queries += c.queries
		rd.Rows += c.rows
		rd.Bytes += c.bytes
		res.Latency.Merge(&c.latency)
		res.Connect.Merge(&c.connect)
		res.Errors.merge(c.errors)
	}
	rd.Elapsed = max(last.Sub(r.measureStart), 0)
	for i, c := range paced {
		if i == 0 || c.ops < rd.PacedMinOps {
			rd.PacedMinOps = c.ops
		}
		rd.PacedMaxOps = max(rd.PacedMaxOps, c.ops)
	}
}

// classOf says what client i does: many-clients' first Fast clients run at full speed, the next
// Active ones are paced, the rest idle.
func (st Step) classOf(w *workload, i int) class {
	switch {
	case w.mode != mixed || i < st.Fast:
		return classFast
	case i < st.Fast+st.Active:
		return classPaced
	}
	return classIdle
}

// sleepUntil sleeps until t or until ctx is cancelled.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// startProgress prints a line to cfg.Log every cfg.ProgressInterval, with the rates over the last
// interval summed from the clients' live counters, until the returned stop is called.
func startProgress(cfg *Config, w *workload, clients []*client, label string, begun, measureStart time.Time) (stop func()) {
	if cfg.Log == nil || cfg.ProgressInterval <= 0 {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(cfg.ProgressInterval)
		defer tick.Stop()
		var lastOps, lastQueries, lastErrs int64
		last := begun
		for {
			select {
			case <-quit:
				return
			case now := <-tick.C:
				var ops, queries, errs int64
				for _, c := range clients {
					ops += c.live.ops.Load()
					queries += c.live.queries.Load()
					errs += c.live.errs.Load()
				}
				secs := now.Sub(last).Seconds()
				line := fmt.Sprintf("[%5.1fs]%s qps %.0f", now.Sub(begun).Seconds(), label, float64(queries-lastQueries)/secs)
				switch {
				case w.txn:
					line += fmt.Sprintf(" tps %.0f", float64(ops-lastOps)/secs)
				case w.mode == churn:
					line += fmt.Sprintf(" connects/s %.0f", float64(ops-lastOps)/secs)
				}
				line += fmt.Sprintf(" err/s %.0f", float64(errs-lastErrs)/secs)
				if now.Before(measureStart) {
					line += " (warm-up)"
				}
				fmt.Fprintln(cfg.Log, line)
				lastOps, lastQueries, lastErrs, last = ops, queries, errs, now
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
	}
}
