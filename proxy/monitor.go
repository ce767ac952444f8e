package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// With backend roles, a monitor reads every backend's read_only and replication state on its own
// connection, every monitor_interval: read_only decides who takes writes (a promoted replica
// becomes the writer without a change of configuration, a primary that turns read-only stops
// getting them), replication lag takes a replica out of the reads while it is further behind
// than max_replica_lag (or not replicating at all), and a backend that does not answer is
// shunned and retried with a growing backoff.

// BackendState is what the monitor knows of a backend (SHOW BACKENDS, metrics).
type BackendState struct {
	Addr        string
	Role        string // as configured: primary or replica
	Up          bool   // the monitor's last look succeeded
	ReadOnly    bool
	Replicating bool          // both replication threads run
	Lag         time.Duration // how far behind the writer (lag.go); -1 when unknown
	GTID        string        // @@gtid_current_pos at the last look
	Writer      bool          // takes writes now
	Reader      bool          // takes reads now
	State       string        // writer, reader, lagging, not_replicating, extra_writer, down
	Why         string        // the reason of a state other than writer or reader
	FreshUntil  time.Time     // a replica's reads are proven within max_replica_lag until then
	Since       time.Time     // when State began
	Checked     time.Time     // the last look
}

// monitor watches the backends of a routed configuration.
type monitor struct {
	log     *slog.Logger
	onRound func([]BackendState) // called after every look, with all backends' states

	roundMu  sync.Mutex // serialises publish
	mu       sync.Mutex
	settings config.RoutingConfig
	states   map[string]*BackendState
	order    []string // backends in configuration order
	watchers map[string]*watcher
	history  writerHistory // the writer's GTID positions (lag.go)
}

// watcher monitors one backend; it ends when stop is closed.
type watcher struct {
	addr   string
	dialer *backend.Dialer
	user   string
	stop   chan struct{}
	done   chan struct{}
}

func newMonitor(log *slog.Logger, onRound func([]BackendState)) *monitor {
	return &monitor{log: log, onRound: onRound, states: make(map[string]*BackendState),
		watchers: make(map[string]*watcher)}
}

// configure starts watching the backends of cfg and stops watching the others.
func (m *monitor) configure(cfg *config.Config, password func(string) (string, bool), tlsFor func(string) *backend.Dialer) {
	user, pw := cfg.Routing.MonitorUser, cfg.Routing.MonitorPassword
	if user == "" && len(cfg.Users) > 0 {
		user = cfg.Users[0].Name
		pw, _ = password(user)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settings = cfg.Routing
	keep := make(map[string]bool, len(cfg.Backends))
	m.order = m.order[:0]
	for _, b := range cfg.Backends {
		keep[b.Address] = true
		m.order = append(m.order, b.Address)
		st := m.states[b.Address]
		if st == nil {
			st = &BackendState{Addr: b.Address, Lag: -1, State: "down", Why: "not checked yet", Since: time.Now()}
			m.states[b.Address] = st
		}
		st.Role = b.Role
		if w := m.watchers[b.Address]; w != nil && w.user == user {
			continue
		} else if w != nil {
			close(w.stop)
		}
		d := tlsFor(b.Address)
		monitorPW := pw
		w := &watcher{addr: b.Address, user: user, stop: make(chan struct{}), done: make(chan struct{}),
			dialer: &backend.Dialer{Addr: b.Address, Password: func(string) (string, bool) { return monitorPW, true },
				Timeout: d.Timeout}}
		w.dialer.SetTLS(d.TLS())
		m.watchers[b.Address] = w
		go m.watch(w)
	}
	for addr, w := range m.watchers {
		if !keep[addr] {
			close(w.stop)
			delete(m.watchers, addr)
			delete(m.states, addr)
		}
	}
}

// close stops every watcher and waits for them.
func (m *monitor) close() {
	m.mu.Lock()
	ws := make([]*watcher, 0, len(m.watchers))
	for _, w := range m.watchers {
		close(w.stop)
		ws = append(ws, w)
	}
	m.watchers = map[string]*watcher{}
	m.mu.Unlock()
	for _, w := range ws {
		<-w.done
	}
}

// look is one reading of a backend.
type look struct {
	readOnly, replicating bool
	lag                   time.Duration // Seconds_Behind_Master; -1 when unknown
	binlogPos, currentPos string        // @@gtid_binlog_pos, @@gtid_current_pos
	// noStatus is the server's refusal of SHOW SLAVE STATUS (the monitor user lacks SLAVE
	// MONITOR): replication is then judged by GTID positions alone.
	noStatus *wire.Error
}

// watch looks at one backend every interval until stopped; a backend that fails is retried with
// a backoff doubling up to 10 s.
func (m *monitor) watch(w *watcher) {
	defer close(w.done)
	var c *backend.Conn
	defer func() {
		if c != nil {
			c.Quit()
		}
	}()
	backoff := time.Duration(0)
	warned := false
	for {
		m.mu.Lock()
		interval := m.settings.MonitorInterval.Duration
		m.mu.Unlock()
		var l look
		var err error
		if c == nil {
			c, err = w.dialer.Dial(context.Background(), backend.Key{User: w.user}, "")
		}
		if err == nil {
			l, err = readLook(c, max(interval, time.Second))
			if l.noStatus != nil && !warned {
				warned = true
				m.log.Warn("the monitor cannot read SHOW SLAVE STATUS: replication lag is judged by GTID positions only; "+
					"grant SLAVE MONITOR to [routing] monitor_user", "backend", w.addr, "user", w.user, "err", l.noStatus.Message)
			}
			if err != nil {
				c.Quit()
				c = nil
			}
		}
		m.record(w.addr, l, err)
		wait := interval
		if err != nil {
			backoff = min(max(2*backoff, interval), 10*time.Second)
			wait = backoff
		} else {
			backoff = 0
		}
		select {
		case <-w.stop:
			return
		case <-time.After(wait):
		}
	}
}

// readLook reads read_only, the GTID positions and the replication state on c, within timeout.
func readLook(c *backend.Conn, timeout time.Duration) (look, error) {
	_ = c.NetConn().SetDeadline(time.Now().Add(timeout))
	defer func() { _ = c.NetConn().SetDeadline(time.Time{}) }()
	l := look{lag: -1}
	err := c.QueryRows("SELECT @@global.read_only, @@global.gtid_binlog_pos, @@global.gtid_current_pos", func(row []*string) error {
		if len(row) == 3 && row[0] != nil {
			l.readOnly = *row[0] == "1"
			l.binlogPos, l.currentPos = deref(row[1]), deref(row[2])
		}
		return nil
	})
	if err != nil {
		return l, err
	}
	if err := c.Command(append([]byte{byte(wire.ComQuery)}, "SHOW SLAVE STATUS"...)); err != nil {
		return l, err
	}
	if err := c.Flush(); err != nil {
		return l, err
	}
	_, err = c.ReadRows(func(cols []wire.Column, row []*string) error {
		get := func(name string) string {
			for i, col := range cols {
				if string(col.Name) == name && i < len(row) {
					return deref(row[i])
				}
			}
			return ""
		}
		l.replicating = get("Slave_IO_Running") == "Yes" && get("Slave_SQL_Running") == "Yes"
		if s, err := strconv.Atoi(get("Seconds_Behind_Master")); err == nil && l.replicating {
			l.lag = time.Duration(s) * time.Second
		}
		return nil
	})
	if errors.As(err, &l.noStatus) {
		err = nil
	}
	return l, err
}

// record stores a look (or its failure), decides writer and readers again and tells onRound.
func (m *monitor) record(addr string, l look, err error) {
	m.mu.Lock()
	st := m.states[addr]
	if st == nil { // no longer configured
		m.mu.Unlock()
		return
	}
	now := time.Now()
	first, wasUp := st.Checked.IsZero(), st.Up
	st.Checked, st.Up = now, err == nil
	if err != nil {
		st.Why = err.Error()
		if wasUp || first {
			m.log.Warn("backend does not answer the monitor: shunned", "backend", addr, "err", err)
		}
	} else {
		st.ReadOnly, st.Replicating, st.GTID = l.readOnly, l.replicating, l.currentPos
		if !wasUp && !first {
			m.log.Info("backend answers the monitor again", "backend", addr)
		}
	}
	writer := m.writerLocked()
	switch {
	case err != nil:
	case addr == writer:
		st.Lag = 0
		if pos, ok := parseGTIDPos(l.binlogPos); ok && len(pos) > 0 {
			m.history.observe(writer, pos, now)
		}
	default:
		st.Lag, st.FreshUntil = m.lagLocked(l, writer, now)
	}
	m.decideLocked(writer, now)
	m.mu.Unlock()
	m.publish()
}

// publish hands the states to onRound; rounds are published one at a time, each with the states
// of its moment, so a slower one never overwrites a newer view.
func (m *monitor) publish() {
	m.roundMu.Lock()
	defer m.roundMu.Unlock()
	m.onRound(m.snapshot())
}

// snapshot returns every backend's state, in configuration order.
func (m *monitor) snapshot() []BackendState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshotLocked()
}

func (m *monitor) snapshotLocked() []BackendState {
	out := make([]BackendState, 0, len(m.order))
	for _, a := range m.order {
		out = append(out, *m.states[a])
	}
	return out
}

// lagLocked is how far behind the writer a replica's look shows it (-1 when unknown): the
// staleness its GTID position proves (lag.go), or Seconds_Behind_Master when larger; and until
// when its reads are proven within max_replica_lag. With no writer (the primary is down, none
// promoted yet) nothing is being written: a replica is as fresh as its own last look.
func (m *monitor) lagLocked(l look, writer string, now time.Time) (time.Duration, time.Time) {
	maxLag := m.settings.MaxReplicaLag.Duration
	pos, posOK := parseGTIDPos(l.currentPos)
	switch {
	case writer == "" && posOK && m.history.writer != "" && len(m.history.entries) > 0:
		if _, _, ok := m.history.staleness(pos, now); ok {
			return max(l.lag, 0), now.Add(maxLag - max(l.lag, 0))
		}
		return -1, time.Time{}
	case len(m.history.entries) == 0 || m.history.writer != writer || !posOK:
		// The writer writes no binary log (or is not known yet): the replica's own report.
		if l.lag < 0 {
			return -1, time.Time{}
		}
		return l.lag, now.Add(maxLag - l.lag)
	}
	lag, since, ok := m.history.staleness(pos, now)
	if !ok {
		return -1, time.Time{}
	}
	fresh := since.Add(maxLag)
	if l.lag >= 0 {
		lag = max(lag, l.lag)
		fresh = minTime(fresh, now.Add(maxLag-l.lag))
	}
	return lag, fresh
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// writerLocked picks the writer: a configured primary that is up and writable, else the first
// writable backend.
func (m *monitor) writerLocked() string {
	writer := ""
	for _, a := range m.order {
		st := m.states[a]
		if st.Up && !st.ReadOnly && (writer == "" || st.Role == config.RolePrimary && m.states[writer].Role != config.RolePrimary) {
			writer = a
		}
	}
	return writer
}

// decideLocked sets every backend's state. A replica reads while it is up, read-only and no
// further behind than max_replica_lag can take it before the next look: a stopped replication
// thread takes it out only once that matters (or at once when its lag cannot be measured).
func (m *monitor) decideLocked(writer string, now time.Time) {
	maxLag := m.settings.MaxReplicaLag.Duration
	for _, a := range m.order {
		st := m.states[a]
		state, why := "", ""
		switch {
		case !st.Up:
			state, why = "down", st.Why
		case a == writer:
			state = "writer"
		case !st.ReadOnly:
			state, why = "extra_writer", "writable, but "+writer+" takes the writes; set read_only on it to read from it"
		case st.Lag < 0 && !st.Replicating:
			state, why = "not_replicating", "a replication thread is stopped and its lag cannot be measured"
		case st.Lag < 0:
			state, why = "lagging", "its lag cannot be measured yet"
		case st.Lag > maxLag || !now.Before(st.FreshUntil):
			state, why = "lagging", fmt.Sprintf("up to %s behind (max_replica_lag %s)", st.Lag.Round(time.Millisecond), maxLag)
		default:
			state = "reader"
		}
		if state != st.State {
			if st.State == "writer" || state == "writer" {
				m.log.Warn("backend role changed", "backend", a, "from", st.State, "to", state, "why", why)
			} else {
				m.log.Info("backend state changed", "backend", a, "from", st.State, "to", state, "why", why)
			}
			st.State, st.Since = state, now
		}
		st.Why = why
		st.Writer, st.Reader = state == "writer", state == "reader"
	}
}

// hostgroups is which pools take writes and reads now, built from the monitor's states. Each
// role a pool holds comes with a context that ends when the pool loses that role: a statement
// waiting for one of its connections then goes where it now belongs (it has not been sent).
type hostgroups struct {
	writer  *backend.Pool
	wctx    context.Context // ends when writer stops taking writes
	wcancel context.CancelFunc
	readers []reader
	total   int           // the sum of the readers' weights
	next    atomic.Uint64 // weighted round robin position
	// changed is closed when a newer hostgroups replaces this one (statements waiting for a
	// writer wake).
	changed chan struct{}
}

type reader struct {
	pool   *backend.Pool
	weight int
	fresh  time.Time       // reads are proven within max_replica_lag until then
	ctx    context.Context // ends when pool leaves the readers
	cancel context.CancelFunc
}

// inherit carries over from old the contexts of the roles pools keep, and ends the others.
func (h *hostgroups) inherit(old *hostgroups) {
	if old != nil && old.writer == h.writer && h.writer != nil {
		h.wctx, h.wcancel = old.wctx, old.wcancel
	} else {
		if old != nil && old.wcancel != nil {
			old.wcancel()
		}
		h.wctx, h.wcancel = context.WithCancel(context.Background())
	}
	kept := make(map[*backend.Pool]*reader)
	if old != nil {
		for i := range old.readers {
			kept[old.readers[i].pool] = &old.readers[i]
		}
	}
	for i := range h.readers {
		r := &h.readers[i]
		if o := kept[r.pool]; o != nil {
			r.ctx, r.cancel = o.ctx, o.cancel
			delete(kept, r.pool)
		} else {
			r.ctx, r.cancel = context.WithCancel(context.Background())
		}
	}
	for _, o := range kept {
		o.cancel()
	}
}

// reader picks a replica by weight, round robin, among those still proven fresh; nil when none
// is.
func (h *hostgroups) reader() *reader {
	if h.total == 0 {
		return nil
	}
	n := int(h.next.Add(1) % uint64(h.total))
	i := 0
	for ; i < len(h.readers)-1 && n >= h.readers[i].weight; i++ {
		n -= h.readers[i].weight
	}
	now := time.Now()
	for k := range h.readers {
		if r := &h.readers[(i+k)%len(h.readers)]; now.Before(r.fresh) {
			return r
		}
	}
	return nil
}
