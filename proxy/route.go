package proxy

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/config"
)

// With backend roles, each statement a session runs without holding a connection is routed: a
// proven plain read in autocommit mode may go to a replica (by weight, among those the monitor
// keeps in rotation); everything else — a write, a transaction, a locking read, anything that
// pins, anything not proven a plain read — goes to the writer. A session holding a connection
// runs everything on it, so state never splits between servers; the session's tracked state is
// replayed on whichever server it borrows from, as on one.

// routing is the configuration of statement routing.
type routing struct {
	ryw      string            // the default read-your-writes mode
	userRYW  map[string]string // per user
	window   time.Duration     // read_your_writes_window
	gtidWait time.Duration     // gtid_wait_timeout
	rules    []rule
	weights  map[string]int // read weight by backend address
}

// rule is a compiled [[rules]] entry.
type rule struct {
	re        *regexp.Regexp
	digest    string
	toReplica bool
}

func newRouting(cfg *config.Config) *routing {
	rt := &routing{ryw: cfg.Routing.ReadYourWrites, userRYW: make(map[string]string),
		window: cfg.Routing.ReadYourWritesWindow.Duration, gtidWait: cfg.Routing.GTIDWaitTimeout.Duration,
		weights: make(map[string]int)}
	for _, u := range cfg.Users {
		if u.ReadYourWrites != "" {
			rt.userRYW[u.Name] = u.ReadYourWrites
		}
	}
	for _, b := range cfg.Backends {
		rt.weights[b.Address] = b.ReadWeight()
	}
	for _, r := range cfg.Rules {
		cr := rule{toReplica: r.To == config.RoleReplica}
		if r.Match != "" {
			cr.re = regexp.MustCompile(r.Match) // validated
		} else {
			cr.digest, _ = parser.NormalizeDigest(r.Digest)
		}
		rt.rules = append(rt.rules, cr)
	}
	return rt
}

// SetRouting turns routing by role on (cfg has roles) or off, and starts, reconfigures or stops
// the monitor. dialer gives the pool's dialer of a backend (its TLS and connect timeout).
func (r *Router) SetRouting(cfg *config.Config, password func(string) (string, bool), dialer func(string) *backend.Dialer) {
	r.monMu.Lock()
	defer r.monMu.Unlock()
	if !cfg.HasRoles() {
		r.routing.Store(nil)
		r.stopMonitorLocked()
		r.hg.Store(nil)
		return
	}
	r.routing.Store(newRouting(cfg))
	if r.hg.Load() == nil {
		r.hg.Store(&hostgroups{changed: make(chan struct{})}) // writes wait for the first look
	}
	if r.mon == nil {
		r.mon = newMonitor(r.log, r.onRound)
	}
	r.mon.configure(cfg, password, dialer)
	r.mon.publish() // removed backends leave the hostgroups now
}

// StopMonitor stops watching the backends (shutdown).
func (r *Router) StopMonitor() {
	r.monMu.Lock()
	defer r.monMu.Unlock()
	r.stopMonitorLocked()
}

func (r *Router) stopMonitorLocked() {
	if r.mon != nil {
		r.mon.close()
		r.mon = nil
	}
}

// onRound rebuilds the hostgroups from the monitor's states.
func (r *Router) onRound(states []BackendState) {
	rt := r.routing.Load()
	if rt == nil {
		return
	}
	byAddr := make(map[string]*backend.Pool)
	for _, p := range r.Pools() {
		byAddr[p.Addr()] = p
	}
	h := &hostgroups{changed: make(chan struct{})}
	for _, st := range states {
		p := byAddr[st.Addr]
		switch {
		case p == nil:
		case st.Writer:
			h.writer = p
		case st.Reader:
			if w := rt.weights[st.Addr]; w > 0 {
				h.readers = append(h.readers, reader{pool: p, weight: w, fresh: st.FreshUntil})
				h.total += w
			}
		}
	}
	r.hgMu.Lock()
	old := r.hg.Load()
	h.inherit(old)
	r.hg.Store(h)
	r.hgMu.Unlock()
	if old != nil {
		close(old.changed)
	}
}

// BackendStates returns the monitor's view of the backends (nil without roles).
func (r *Router) BackendStates() []BackendState {
	r.monMu.Lock()
	m := r.mon
	r.monMu.Unlock()
	if m == nil {
		return nil
	}
	return m.snapshot()
}

// NoWriterError is returned when no backend takes writes within the acquire timeout.
type NoWriterError struct{ Timeout time.Duration }

func (e *NoWriterError) Error() string {
	return fmt.Sprintf("no writable backend within %s: the primary is down or read-only and no replica has been promoted", e.Timeout)
}

// writer returns the pool that takes writes now and the context of its role, waiting up to
// the acquire timeout for one.
func (r *Router) writer(abort <-chan struct{}) (target, error) {
	var timer *time.Timer
	timeout := r.acquireTimeout()
	for {
		h := r.hg.Load()
		if h == nil {
			return target{}, &NoWriterError{Timeout: timeout}
		}
		if h.writer != nil {
			return target{pool: h.writer, ctx: h.wctx}, nil
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		select {
		case <-h.changed:
		case <-timer.C:
			return target{}, &NoWriterError{Timeout: timeout}
		case <-abort:
			return target{}, backend.ErrAborted
		}
	}
}

// awaitChange returns once the hostgroups h was read from are replaced (at once if they are
// already), so that a statement whose pool lost its role is routed on a newer view.
func (r *Router) awaitChange(h *hostgroups, abort <-chan struct{}) error {
	if h == nil || r.hg.Load() != h {
		return nil
	}
	timer := time.NewTimer(r.acquireTimeout())
	defer timer.Stop()
	select {
	case <-h.changed:
		return nil
	case <-abort:
		return backend.ErrAborted
	case <-timer.C:
		return &NoWriterError{Timeout: r.acquireTimeout()}
	}
}

// acquireTimeout is the pools' acquire timeout (the first pool's: they share [pool]).
func (r *Router) acquireTimeout() time.Duration {
	if ps := r.Pools(); len(ps) > 0 {
		return ps[0].Settings().AcquireTimeout
	}
	return 10 * time.Second
}

// routeHint forces the writer: a comment anywhere in the statement.
var routeHint = []byte("mysqlmux:primary")

// target is where a statement goes: a pool, and the context of the role it goes there for
// (ends when the pool loses it).
type target struct {
	pool    *backend.Pool
	ctx     context.Context
	replica bool
	gtid    string // for a replica: what it must have applied first (read-your-writes by GTID)
}

// route decides where the session's next statement (effects e; nil for other commands) runs
// when it holds no connection.
func (s *Session) route(e *effects, q []byte) (target, error) {
	rt := s.r.routing.Load()
	if rt == nil {
		return target{pool: s.pool, ctx: context.Background()}, nil
	}
	if h := s.r.hg.Load(); h != nil && s.readable(e, q, rt) {
		if rd := h.reader(); rd != nil {
			t := target{pool: rd.pool, ctx: rd.ctx, replica: true}
			switch mode := s.ryw(rt); {
			case mode == config.RYWOff || s.lastWrite.IsZero():
				return t, nil
			case mode == config.RYWGTID && s.lastGTID != "":
				if s.confirmed[rd.pool.Addr()] != s.lastGTID {
					t.gtid = s.lastGTID
				}
				return t, nil
			case time.Since(s.lastWrite) >= rt.window:
				return t, nil
			}
		}
	}
	return s.r.writer(s.killWait)
}

// leaveReplica gives back a connection the session holds on a server that does not take writes,
// for soft pins only (the warnings or FOUND_ROWS() of its last read), when its next statement
// must run on the writer.
func (s *Session) leaveReplica(e *effects, q []byte) {
	rt, h := s.r.routing.Load(), s.r.hg.Load()
	if rt == nil || h == nil || s.be == nil || h.writer != nil && s.be.Addr == h.writer.Addr() ||
		s.pins&^softPins != 0 || s.readable(e, q, rt) {
		return
	}
	if err := s.releaseSoft(); err != nil {
		s.dropSoft() // broken: the statement has not been sent, it goes to the writer
	}
}

// ryw is the session's read-your-writes mode.
func (s *Session) ryw(rt *routing) string {
	if m, ok := rt.userRYW[s.key.User]; ok {
		return m
	}
	return rt.ryw
}

// readable reports whether a statement may go to a replica: a plain read (or a rule says so
// of a harmless one) in autocommit mode, with no hint and no rule for the primary.
func (s *Session) readable(e *effects, q []byte, rt *routing) bool {
	if e == nil || s.pins&^softPins != 0 || !s.autocommit() || bytes.Contains(q, routeHint) {
		return false
	}
	plain := e.plainRead()
	for _, r := range rt.rules {
		if r.matches(q) {
			return r.toReplica && (plain || e.harmlessRead())
		}
	}
	return plain
}

func (r *rule) matches(q []byte) bool {
	if r.re != nil {
		return r.re.Match(q)
	}
	norm, _ := parser.NormalizeDigest(string(q))
	return norm == r.digest
}

// autocommit reports whether the session runs in autocommit mode (a statement then opens no
// transaction).
func (s *Session) autocommit() bool {
	ac, ok := s.state.varsMap()["autocommit"]
	if !ok {
		return !s.r.autocommitOff(s.pool)
	}
	return ac != "OFF"
}

// waitForGTID makes the replica connection be wait until it has applied gtid, for at most
// gtid_wait_timeout; false when it has not.
func (s *Session) waitForGTID(be *backend.Conn, gtid string) (bool, error) {
	rt := s.r.routing.Load()
	if rt == nil {
		return true, nil
	}
	q := fmt.Sprintf("SELECT MASTER_GTID_WAIT(%s, %.3f) LIMIT 1", quote(gtid, s.noBackslash()), rt.gtidWait.Seconds())
	v, _, err := be.QueryValue(q)
	if err != nil {
		if isServerError(err) {
			return false, nil // e.g. not a MariaDB replica: use the primary
		}
		return false, err
	}
	if strings.TrimSpace(v) != "0" {
		return false, nil
	}
	if s.confirmed == nil {
		s.confirmed = make(map[string]string)
	}
	s.confirmed[be.Addr] = gtid
	return true, nil
}

// poolFor returns the current pool of backend addr (nil if it was removed).
func (r *Router) poolFor(addr string) *backend.Pool {
	for _, p := range r.Pools() {
		if p.Addr() == addr {
			return p
		}
	}
	return nil
}
