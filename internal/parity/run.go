package parity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// runner drives a concurrent run: Clients sessions (each generation a new login with the same
// names, after the previous one is gone on both sides) and Observers, until the statement budget,
// the duration, or MaxFailures is reached.
type runner struct {
	e     *env
	o     Options
	rec   *recorder
	ids   []int
	nudge chan struct{} // a client step done: an observer may probe

	ctx  context.Context
	stop context.CancelFunc

	statements, probes, sessions, drops, kills atomic.Int64
	inflight                                   inflight

	mu       sync.Mutex
	failures []*Failure
	keys     map[string]bool
	infra    error
}

// ringSize bounds the recorded schedule (about 200 bytes an event).
const ringSize = 1 << 16

// scriptSteps bounds one generation of a client: it logs out (or drops) and starts over.
const scriptSteps = 400

// observerLogin is how observers log in: they never set anything.
func observerLogin() Login {
	return Login{User: mariadbUser, Password: mariadbPass, DB: dbMain, Collation: 45, Caps: wire.ClientMultiStatements}
}

func newRunner(e *env, o Options) *runner {
	r := &runner{e: e, o: o, rec: newRecorder(ringSize), nudge: make(chan struct{}, o.Observers), keys: map[string]bool{}}
	r.ctx, r.stop = context.WithCancel(context.Background())
	for i := 1; i <= o.Clients; i++ {
		r.ids = append(r.ids, i)
	}
	return r
}

// run runs until a stop condition and returns when every session has logged out.
func (r *runner) run() {
	defer r.stop()
	var wg sync.WaitGroup
	for _, id := range r.ids {
		wg.Go(func() { r.client(id) })
	}
	for n := range r.o.Observers {
		wg.Go(func() { r.observer(n + 1) })
	}
	start := time.Now()
	lastLog, lastCount := start, int64(0)
	for r.ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		n := r.statements.Load()
		if (r.o.Statements > 0 && n >= r.o.Statements) || (r.o.Duration > 0 && time.Since(start) >= r.o.Duration) {
			r.stop()
		}
		if stuck := r.inflight.stalled(); len(stuck) > 0 {
			r.o.Logf("parity: stalled steps:\n  %s\n%s", strings.Join(stuck, "\n  "), r.e.describe())
		}
		if time.Since(lastLog) >= 10*time.Second {
			r.o.Logf("parity: %d statements (%.0f/s), %d probes, %d sessions, %d drops, %d kills, %d failures",
				n, float64(n-lastCount)/time.Since(lastLog).Seconds(), r.probes.Load(), r.sessions.Load(),
				r.drops.Load(), r.kills.Load(), len(r.failed()))
			lastLog, lastCount = time.Now(), n
		}
	}
	wg.Wait()
}

func (r *runner) failed() []*Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Failure(nil), r.failures...)
}

// fail records f (once per key) and stops the run when MaxFailures distinct ones are in.
func (r *runner) fail(f *Failure, seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys[f.Key] || len(r.failures) >= r.o.MaxFailures {
		return // a failure already stopped the run; what the others saw meanwhile may be its echo
	}
	r.keys[f.Key] = true
	f.seq = seq
	f.Case = r.rec.caseUpTo(seq, caseWindow, r.o.Cap, r.o.Include)
	r.failures = append(r.failures, f)
	r.o.Logf("parity: %s\n%s", f.Key, f.Detail)
	if len(r.failures) >= r.o.MaxFailures {
		r.stop()
	}
}

// caseWindow is how many events before a failure its first replay covers.
const caseWindow = 3000

// brokenUnlessStopped is broken for a login that failed while the run still went on.
func (r *runner) brokenUnlessStopped(err error) {
	if r.ctx.Err() == nil {
		r.broken(err)
	}
}

func (r *runner) broken(err error) {
	r.mu.Lock()
	if r.infra == nil {
		r.infra = err
	}
	r.mu.Unlock()
	r.stop()
}

// client runs generation after generation of client id.
func (r *runner) client(id int) {
	for gen := 0; r.ctx.Err() == nil; gen++ {
		spec := specFor(r.o.Seed, id, gen)
		g := newGen(r.o.Seed, spec, gen, grammar{incl: r.o.Include, drops: r.o.Drops, longIdle: r.o.LongIdles})
		steps := g.script(30 + g.pick(scriptSteps-30))
		ds, err := dialSide(r.ctx, r.e, spec.login(), false)
		if err != nil {
			r.brokenUnlessStopped(err)
			return
		}
		ps, err := dialSide(r.ctx, r.e, spec.login(), true)
		if err != nil {
			ds.c.Quit()
			if r.ctx.Err() == nil {
				// The server let the twin in: a login the proxy does not finish is the proxy's.
				r.fail(&Failure{Key: "difference in login", Detail: fmt.Sprintf("client %d: %v\n%s", id, err, r.e.describe())}, r.rec.last())
			}
			return
		}
		r.sessions.Add(1)
		r.e.labels.Store(ps.c.ID, fmt.Sprintf("client %d.%d", id, gen))
		// A login through the proxy may need a connection (to check the database): a replay
		// logs in where the run did.
		r.rec.add(event{who: who{id: id, gen: gen}, spec: spec, step: Step{Op: OpConnect}})
		pr := newPair(fmt.Sprintf("client %d", id), steps, func(f *Failure, seq int64) bool {
			r.fail(f, seq)
			return true
		})
		w := who{id: id, gen: gen}
		// The twin takes each step once the proxy side has taken it. Run free, twins went ahead
		// of the proxy's order into lock waits on each other that the proxy's order never has
		// (a FLUSH TABLES WITH READ LOCK waiting on a twin's open transaction, whose client
		// waits at a cap of 1 for the connection the lock holds), and timed out.
		proxied := make(chan struct{}, len(steps))
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(proxied)
			r.proxySide(ps, pr, w, spec, proxied)
		})
		wg.Go(func() { r.directSide(ds, pr, proxied) })
		wg.Wait()
		if err := r.e.awaitGone(ps.c.ID, ds.c.ID); err != nil {
			r.broken(fmt.Errorf("parity: client %d did not go away: %w", id, err))
			return
		}
		// An XA transaction left prepared outlives the connection: the next generation must
		// not find it.
		for server := range 2 {
			if err := r.e.endXA(server, namesFor(id).X); err != nil {
				r.broken(err)
				return
			}
		}
		if pr.stopped() {
			// The sides stopped at different steps: start the next generation from equal tables.
			// Once both sessions are gone nothing may hold a lock on them.
			if err := r.e.both(clientReset(id)...); err != nil {
				r.fail(&Failure{Foreign: true, Key: "foreign state: locks on the tables of a client that left",
					Detail: fmt.Sprintf("client %d: %v\n%s", id, err, r.e.describe())}, r.rec.last())
				return
			}
		}
	}
}

// proxySide runs a script through the proxy, recording each step as it completes, and tells
// the twin (proxied) that it may take it.
func (r *runner) proxySide(s *side, pr *pair, w who, spec Spec, proxied chan<- struct{}) {
	for _, step := range pr.steps {
		if r.ctx.Err() != nil || pr.stopped() {
			s.c.Quit()
			return
		}
		o := Outcome{NoReply: true}
		if step.Op == OpIdle {
			time.Sleep(step.Idle)
		} else {
			r.inflight.start(pr.label, step)
			o = s.do(step)
			r.inflight.end(pr.label)
		}
		seq := r.rec.add(event{who: w, spec: spec, step: step})
		if step.statement() {
			r.statements.Add(1)
		}
		switch step.Op {
		case OpDrop:
			r.drops.Add(1)
		case OpKill:
			r.kills.Add(1)
		}
		if seq%probeEvery == 0 {
			select {
			case r.nudge <- struct{}{}:
			default:
			}
		}
		pr.put(true, o, seq)
		proxied <- struct{}{}
		if step.ends() || o.Lost != "" {
			s.c.Close()
			return
		}
	}
}

// directSide runs the same script on the client's direct connection, idle gaps left out, each
// step once the proxy side has taken it (until the proxy side ends).
func (r *runner) directSide(s *side, pr *pair, proxied <-chan struct{}) {
	for _, step := range pr.steps {
		if _, ok := <-proxied; !ok || r.ctx.Err() != nil || pr.stopped() {
			s.c.Quit()
			return
		}
		o := Outcome{NoReply: true}
		if step.Op != OpIdle {
			o = s.do(step)
		}
		pr.put(false, o, 0)
		if step.ends() || o.Lost != "" {
			s.c.Close()
			return
		}
	}
}

// probeEvery: an observer probes after one client step in probeEvery (at a cap of 1 or 2, a few
// steps are enough for a connection to come back from another client, and probes cost as much as
// client statements).
const probeEvery = 4

// observerProbes is how many probes one observer connection makes before it logs in afresh.
const observerProbes = 100

// observer probes, after client steps, for state no client of its own left. Its reference is a
// fresh direct connection that only ever probes.
func (r *runner) observer(n int) {
	rng := rand.New(rand.NewPCG(r.o.Seed, uint64(n)))
	for conn := 0; r.ctx.Err() == nil; conn++ {
		ref, err := dialSide(r.ctx, r.e, observerLogin(), false)
		if err != nil {
			r.brokenUnlessStopped(err)
			return
		}
		p, err := dialSide(r.ctx, r.e, observerLogin(), true)
		if err != nil {
			ref.c.Quit()
			if r.ctx.Err() == nil {
				r.fail(&Failure{Key: "difference in login", Detail: fmt.Sprintf("observer %d: %v\n%s", n, err, r.e.describe())}, r.rec.last())
			}
			return
		}
		w := who{id: n, gen: conn, observer: true}
		r.e.labels.Store(p.c.ID, fmt.Sprintf("observer %d.%d", n, conn))
		r.rec.add(event{who: w, step: Step{Op: OpConnect}})
		for range observerProbes {
			select {
			case <-r.nudge:
			case <-r.ctx.Done():
			}
			if r.ctx.Err() != nil {
				break
			}
			step := Step{Op: OpProbe}
			if rng.IntN(16) == 0 {
				step.Op = OpDeepProbe
			}
			label := fmt.Sprintf("observer %d", n)
			r.inflight.start(label, step)
			po, do, kind := probe(p.c, ref.c, probes(step.Op, r.ids, r.o.Include))
			r.inflight.end(label)
			seq := r.rec.add(event{who: w, step: step})
			r.probes.Add(1)
			if f := judgeProbe(label, step, kind, po, do); f != nil {
				r.fail(f, seq)
				break
			}
			if step.Op == OpDeepProbe || kind != "" {
				// The deep probe's failing statements (or a connection that came with someone
				// else's transaction) may pin the observer's session: start over, so it never
				// holds a connection while it waits for the next client step.
				p.c.ResetConnection()
			}
		}
		p.c.Quit()
		ref.c.Quit()
	}
}
