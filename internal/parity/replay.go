package parity

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Replay runs a case one step at a time, in its order, against a fresh fixture and a fresh proxy,
// and returns the failures it shows. The proxy side of each step is waited for before the next
// (a step that blocks, on a connection held by a client whose next step comes later, is left
// running after replayEscape and the schedule goes on); direct sides run on their own.

const replayEscape = 2 * time.Second

// directDrain bounds the wait, once the schedule is over, for the direct sides to finish it.
const directDrain = 3 * time.Second

// rclient is one session of a case being replayed.
type rclient struct {
	cl         CaseClient
	jobs, refs chan rjob // proxy side (or observer), direct side
	pr         *pair
	prev       *rclient // the earlier generation with the same id, if any
	pid, did   atomic.Uint32
	ended      atomic.Bool   // the proxy side ran a step that ends the session
	dEnded     chan struct{} // closed when the direct side is done with its connection
}

type rjob struct {
	step Step
	done chan struct{}
}

// replay runs c and returns its failures; an error means the replay itself could not run.
func (e *env) replay(c *Case) ([]*Failure, error) {
	var ids []int
	for _, cl := range c.Clients {
		if !cl.Observer && !slices.Contains(ids, cl.Spec.ID) {
			ids = append(ids, cl.Spec.ID)
		}
	}
	slices.Sort(ids)
	// Nothing of an earlier run or replay may be left on either server (a lock, a session).
	if err := e.waitNoClients(); err != nil {
		return nil, fmt.Errorf("parity: sessions of an earlier run are still on a server: %w", err)
	}
	if err := e.fixture(ids); err != nil {
		return nil, err
	}
	if err := e.startProxy(c.Cap, replayAcquire); err != nil {
		return nil, err
	}
	defer e.stopProxy()

	rp := &replayer{e: e, ids: ids, incl: c.Include}
	clients := make([]*rclient, len(c.Clients))
	last := map[int]*rclient{}
	var wg sync.WaitGroup
	for i, cl := range c.Clients {
		rc := &rclient{cl: cl, jobs: make(chan rjob, len(c.Events)), refs: make(chan rjob, len(c.Events)), dEnded: make(chan struct{})}
		var steps []Step
		for _, ev := range c.Events {
			if ev.Client == i {
				steps = append(steps, ev.Step)
			}
		}
		rc.pr = newPair("client "+cl.Label, steps, func(f *Failure, _ int64) bool { rp.report(f, nil); return false })
		if !cl.Observer {
			rc.prev = last[cl.Spec.ID]
			last[cl.Spec.ID] = rc
		}
		clients[i] = rc
		wg.Go(func() { rp.proxySide(rc) })
		if !cl.Observer {
			wg.Go(func() { rp.directSide(rc) })
		}
	}
	for _, ev := range c.Events {
		rc := clients[ev.Client]
		done := make(chan struct{})
		rc.jobs <- rjob{step: ev.Step, done: done}
		rc.refs <- rjob{step: ev.Step}
		if ev.Step.Op == OpIdle {
			continue
		}
		select {
		case <-done:
		case <-time.After(replayEscape):
		}
	}
	// What is still queued behind a step that never got a connection is dropped: the schedule
	// is over.
	rp.closing.Store(true)
	for _, rc := range clients {
		close(rc.jobs)
		close(rc.refs)
	}
	// The direct sides run what they were handed: a server may answer later than the proxy
	// (MariaDB answers a refused COM_CHANGE_USER after a second), and its answer is compared.
	drained := time.After(directDrain)
	for _, rc := range clients {
		if rc.cl.Observer {
			continue
		}
		select {
		case <-rc.dEnded:
		case <-drained:
		}
	}
	rp.directClosing.Store(true)
	wg.Wait()
	return rp.failures, rp.infra
}

type replayer struct {
	// closing: the schedule is over, what a proxy side still has queued is dropped;
	// directClosing: the same for the direct sides, which are given directDrain more.
	closing, directClosing atomic.Bool
	e                      *env
	ids                    []int
	incl                   Features
	mu                     sync.Mutex
	failures               []*Failure
	infra                  error
}

func (rp *replayer) report(f *Failure, err error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if f != nil {
		rp.failures = append(rp.failures, f)
	}
	if err != nil && rp.infra == nil {
		rp.infra = err
	}
}

// proxySide runs a session's steps through the proxy as the schedule hands them out.
func (rp *replayer) proxySide(rc *rclient) {
	var s, ref *side
	defer func() {
		if s != nil && !rc.ended.Load() {
			s.c.Quit()
		}
		if ref != nil {
			ref.c.Quit()
		}
	}()
	dead := false
	for job := range rc.jobs {
		if rp.closing.Load() {
			dead = true
		}
		if !dead && s == nil {
			var err error
			// A schedule cut short can leave a session holding the only connection for good:
			// a login that needs one then fails, and this session takes no part.
			if s, ref, err = rp.login(rc); err != nil {
				dead = true
			}
		}
		switch {
		case dead:
		case job.step.Op == OpConnect:
			rc.pr.put(true, Outcome{NoReply: true}, 0)
		case job.step.Op == OpIdle:
			time.Sleep(job.step.Idle)
			rc.pr.put(true, Outcome{NoReply: true}, 0)
		case rc.cl.Observer:
			po, do, kind := probe(s.c, ref.c, probes(job.step.Op, rp.ids, rp.incl))
			rp.report(judgeProbe("observer "+rc.cl.Label, job.step, kind, po, do), nil)
			if job.step.Op == OpDeepProbe || kind != "" {
				s.c.ResetConnection()
			}
		default:
			o := s.do(job.step)
			rc.pr.put(true, o, 0)
			if job.step.ends() || o.Lost != "" {
				rc.ended.Store(true)
				dead = true
			}
		}
		close(job.done)
	}
}

// login logs a session in through the proxy (observers get a fresh direct reference too), once
// the earlier generation with the same names is gone.
func (rp *replayer) login(rc *rclient) (s, ref *side, err error) {
	if p := rc.prev; p != nil && p.ended.Load() {
		if err := rp.e.awaitProxyGone(p.pid.Load()); err != nil {
			return nil, nil, err
		}
		if err := rp.e.endXA(0, namesFor(p.cl.Spec.ID).X); err != nil {
			return nil, nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
	defer cancel()
	l := observerLogin()
	if !rc.cl.Observer {
		l = rc.cl.Spec.login()
	}
	if s, err = dialSide(ctx, rp.e, l, true); err != nil {
		return nil, nil, err
	}
	rc.pid.Store(s.c.ID)
	if rc.cl.Observer {
		if ref, err = dialSide(ctx, rp.e, l, false); err != nil {
			s.c.Close()
			return nil, nil, err
		}
	}
	return s, ref, nil
}

// directSide runs a client's steps on its direct connection, without waiting for the schedule's
// other clients (idle gaps left out).
func (rp *replayer) directSide(rc *rclient) {
	var s *side
	dead := false
	ended := sync.OnceFunc(func() { close(rc.dEnded) })
	defer func() {
		if s != nil && !dead {
			s.c.Quit()
		}
		ended()
	}()
	for job := range rc.refs {
		if rp.directClosing.Load() && !dead {
			if s != nil {
				s.c.Quit()
			}
			dead = true
			ended()
		}
		if dead || job.step.Op == OpIdle || (job.step.Op == OpConnect && s != nil) {
			rc.pr.put(false, Outcome{NoReply: true}, 0)
			continue
		}
		if s == nil {
			var err error
			if s, err = rp.directLogin(rc); err != nil {
				rp.report(nil, err)
				dead = true
				ended()
				continue
			}
		}
		if job.step.Op == OpConnect {
			rc.pr.put(false, Outcome{NoReply: true}, 0)
			continue
		}
		o := s.do(job.step)
		rc.pr.put(false, o, 0)
		if job.step.ends() || o.Lost != "" {
			dead = true
			ended()
		}
	}
}

// directLogin logs a client in on the direct server, once the earlier generation with the same
// names is gone there (its prepared XA transaction rolled back).
func (rp *replayer) directLogin(rc *rclient) (*side, error) {
	if p := rc.prev; p != nil {
		<-p.dEnded
		if did := p.did.Load(); did != 0 {
			if err := rp.e.awaitDirectGone(did); err != nil {
				return nil, err
			}
		}
		if err := rp.e.endXA(1, namesFor(p.cl.Spec.ID).X); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
	defer cancel()
	s, err := dialSide(ctx, rp.e, rc.cl.Spec.login(), false)
	if err == nil {
		rc.did.Store(s.c.ID)
	}
	return s, err
}
