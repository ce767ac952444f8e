package bench

import (
	"context"
	"fmt"
	"time"
)

// Result holds the figures of every round against one target, with one number of clients.
type Result struct {
	Target   Target
	Workload string
	Clients  int
	Step     Step
	Txn      bool // an operation is a transaction
	Churn    bool // an operation includes its own connect and disconnect
	Rounds   []Round
	Latency  Histogram // of the successful operations of the measured phases
	Connect  Histogram // of the successful connects: every client's first one, and those measured during the run
	Errors   Errors    // of the first connects and of the measured phases; an operation that failed has no latency
	// many-clients: the figures of the clients at full speed and of the paced ones.
	Fast, Paced ClassFigures
}

// ClassFigures are the successful operations of one class of clients over the measured phases.
type ClassFigures struct {
	Ops     int64
	Latency Histogram
}

func (f *ClassFigures) add(c *client) {
	f.Ops += c.ops
	f.Latency.Merge(&c.latency)
}

// Round holds the figures of one measured round.
type Round struct {
	Elapsed   time.Duration // from the end of warm-up to the last client's stop
	Window    time.Duration // the measured phase as set (-duration); 0 with -queries alone
	Connected int           // clients whose first connect succeeded (all of them for churn, which connects per operation)
	Ops       int64         // successful operations
	Queries   int64         // statements of the successful operations (BEGIN and COMMIT included)
	Rows      int64         // large-result: rows read
	Bytes     int64         // large-result: bytes of column data read
	SelfCPU   time.Duration // CPU time of this process over the measured phase
	// Target.PID, when sampled: its CPU time over the measured phase, and its RSS (bytes) before
	// the clients connected and at the end, while they are still connected.
	Sampled             bool
	TargetCPU           time.Duration
	RSSBefore, RSSAfter int64
	// Its context switches and its read and write syscalls over the measured phase.
	Voluntary, Involuntary, Reads, Writes int64
	// many-clients: the fewest and the most operations a paced client completed.
	PacedMinOps, PacedMaxOps int64
	// The backend connections the server counted (Config.Server); nil when not sampled.
	ServerConns *ConnSamples
}

// Run checks every target, then runs cfg.Rounds rounds against each, alternating between targets
// round by round (A B A B …) so that they see the same machine noise and their ratios mean
// something, and returns one Result per target, in order. With several steps, every round runs
// each step against each target (the Results are those of the first step's targets, then the
// second's, …). A setup error (target unreachable,
// tables missing, bad pid) returns before any load. When ctx is cancelled, Run stops once the
// operations in flight are done and returns what it measured with ctx's error.
func Run(ctx context.Context, cfg Config) ([]*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w, _ := lookupWorkload(cfg.Workload)
	for _, t := range cfg.Targets {
		if err := preflight(ctx, &cfg, &w, t); err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Addr, err)
		}
	}
	p := newPlan(&cfg)
	steps := cfg.steps()
	var results []*Result
	for _, st := range steps {
		for _, t := range cfg.Targets {
			results = append(results, &Result{Target: t, Workload: w.name, Clients: st.Clients, Step: st,
				Txn: w.txn, Churn: w.mode == churn, Errors: Errors{}})
		}
	}
	for n := 1; n <= cfg.Rounds; n++ {
		for _, res := range results {
			t := res.Target
			label := ""
			if len(results) > 1 || cfg.Rounds > 1 {
				label = fmt.Sprintf(" %s round %d/%d:", t.label(), n, cfg.Rounds)
				if len(steps) > 1 {
					label = fmt.Sprintf(" %s, %d clients, round %d/%d:", t.label(), res.Clients, n, cfg.Rounds)
				}
			}
			if err := runRound(ctx, &cfg, &w, p, t, res, label); err != nil {
				return results, fmt.Errorf("target %s, round %d: %w", t.Addr, n, err)
			}
			if err := ctx.Err(); err != nil {
				return results, err
			}
		}
	}
	return results, nil
}

// label names a target in progress lines and reports.
func (t Target) label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Addr
}
