package parity

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// A step that takes much longer than any statement of the grammar should is a stall: a connection
// the proxy will never lend again, or a lock nobody will release. The watchdog prints what the
// proxy's sessions and the proxied server's threads are doing, once per stall, so the cause shows
// (the step then fails by itself after commandTimeout).

const stallAfter = 20 * time.Second

// inflight tracks the proxy-side steps under way.
type inflight struct {
	mu    sync.Mutex
	steps map[string]inflightStep
}

type inflightStep struct {
	step  Step
	since time.Time
	told  bool
}

func (f *inflight) start(who string, s Step) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.steps == nil {
		f.steps = map[string]inflightStep{}
	}
	f.steps[who] = inflightStep{step: s, since: time.Now()}
}

func (f *inflight) end(who string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.steps, who)
}

// stalled returns the steps running longer than stallAfter not reported yet, and marks them.
func (f *inflight) stalled() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for who, s := range f.steps {
		if !s.told && time.Since(s.since) > stallAfter {
			s.told = true
			f.steps[who] = s
			out = append(out, fmt.Sprintf("%s: %s (for %v)", who, s.step, time.Since(s.since).Round(time.Second)))
		}
	}
	return out
}

// describe reports what the proxy's sessions and the proxied server's threads are doing.
func (e *env) describe() string {
	var b strings.Builder
	if e.inst != nil {
		for _, ci := range e.inst.Router().Sessions() {
			label, _ := e.labels.Load(ci.ID)
			fmt.Fprintf(&b, "  proxy client %d (%v) %s db=%s state=%s pinned=%q\n", ci.ID, label, ci.User, ci.Database, ci.State, ci.PinnedReason)
		}
		for _, p := range e.inst.Router().Pools() {
			st := p.Stats()
			fmt.Fprintf(&b, "  pool %s: open %d, in use %d, waiting %d\n", st.Backend, st.Open, st.InUse, st.Waiting)
		}
	}
	e.adminMu.Lock()
	o := e.admins[0].c.Query("SELECT ID, USER, COMMAND, TIME, STATE, LEFT(INFO, 100) FROM information_schema.PROCESSLIST ORDER BY ID")
	e.adminMu.Unlock()
	for _, r := range o.Results {
		for _, row := range r.Rows {
			fmt.Fprintf(&b, "  server thread %s\n", row)
		}
	}
	return b.String()
}
