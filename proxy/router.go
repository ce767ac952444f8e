// Package proxy is the session router: one Session per client decides, statement by statement,
// which backend connection runs it (borrowing from the pool or keeping a pinned one), makes that
// connection's session state match the client's, forwards the command and streams the response.
// It never touches sockets itself: frontend and backend do the packet I/O.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/frontend"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Settings are the router's tunables (reloadable).
type Settings struct {
	// ClientIdleTimeout closes clients idle this long between statements; 0 = never.
	ClientIdleTimeout time.Duration
	// MaxPacket bounds a client command the proxy reads whole.
	MaxPacket int
}

// Router owns the backend pools and the sessions. It implements frontend.Handler.
type Router struct {
	log   *slog.Logger
	users *frontend.Users

	mu       sync.Mutex
	pools    []*backend.Pool
	sessions map[uint32]*Session
	next     int // round-robin over pools for new sessions

	settings atomic.Pointer[Settings]
	draining atomic.Bool

	// gate is nil while running; while paused (PAUSE), a channel closed by Resume. Sessions that
	// need a backend connection wait on it. Read on every borrow, so without a lock; gateMu
	// orders Pause and Resume.
	gateMu sync.Mutex
	gate   atomic.Pointer[chan struct{}]

	parsers parsers
	states  stateTable
	metas   *metaCache
	vars    catalogs // each backend's session variables
	// onCatalog is told when a backend's catalog was read (its pool's limits may follow it).
	onCatalog func(addr string)

	// Routing by backend role (route.go): nil without roles. hg is rebuilt by the monitor.
	routing atomic.Pointer[routing]
	hg      atomic.Pointer[hostgroups]
	hgMu    sync.Mutex // serialises the hostgroups' replacements (onRound)
	monMu   sync.Mutex
	mon     *monitor // guarded by monMu

	// knownDBs caches recent successful checks of the database named at login ("user\x00db").
	dbMu     sync.Mutex
	knownDBs map[string]time.Time

	stats Stats

	observer atomic.Pointer[Observer] // nil: none; see Instance.SetObserver
}

// Stats are the router's counters, for the console and metrics.
type Stats struct {
	Queries         atomic.Uint64 // COM_QUERY and COM_STMT_EXECUTE forwarded
	Commands        atomic.Uint64 // every client command handled
	Borrows         atomic.Uint64 // backend connections borrowed from a pool
	Syncs           atomic.Uint64 // state replays sent before a statement
	Resets          atomic.Uint64 // COM_RESET_CONNECTION sent to clean a connection
	AcquireTimeouts atomic.Uint64 // ERROR 9001 sent
	BackendErrors   atomic.Uint64 // backend connections lost mid-command
	// With backend roles (route.go):
	ReplicaReads  atomic.Uint64 // statements sent to a replica
	GTIDWaits     atomic.Uint64 // replica reads that first waited for the session's GTID
	GTIDFallbacks atomic.Uint64 // of those, the replica had not caught up: the read went to the writer
}

// NewRouter creates a router over pools (one per backend server); users are the accounts
// COM_CHANGE_USER may switch to.
func NewRouter(pools []*backend.Pool, users *frontend.Users, s Settings, log *slog.Logger) *Router {
	r := &Router{log: log, users: users, pools: pools, sessions: make(map[uint32]*Session), knownDBs: make(map[string]time.Time),
		metas: newMetaCache(4096, 32<<20)}
	r.SetSettings(s)
	return r
}

// SetSettings replaces the tunables.
func (r *Router) SetSettings(s Settings) {
	if s.MaxPacket <= 0 {
		s.MaxPacket = 64 << 20
	}
	r.settings.Store(&s)
}

// Stats returns the router's counters.
func (r *Router) Stats() *Stats { return &r.stats }

// Pools returns the pools in configuration order.
func (r *Router) Pools() []*backend.Pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*backend.Pool(nil), r.pools...)
}

// SetPools replaces the pools (reload); sessions keep the pool they were assigned until they end.
func (r *Router) SetPools(pools []*backend.Pool) {
	r.mu.Lock()
	r.pools = pools
	r.mu.Unlock()
}

func (r *Router) pickPool() *backend.Pool {
	if h := r.hg.Load(); h != nil && h.writer != nil {
		return h.writer // with roles: the writer, when there is one, else a reader
	} else if h != nil && len(h.readers) > 0 {
		return h.readers[0].pool
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pools[r.next%len(r.pools)]
	r.next++
	return p
}

// dialFunc dials with d and reads the server's variable catalog on the first connection (and
// after a version change), so sessions know which tracked variables they may replay.
func (r *Router) dialFunc(d *backend.Dialer) backend.DialFunc {
	return func(ctx context.Context, key backend.Key, db string) (*backend.Conn, error) {
		c, err := d.Dial(ctx, key, db)
		if err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = c.NetConn().SetDeadline(dl)
		}
		read, err := r.vars.observe(d.Addr, c)
		_ = c.NetConn().SetDeadline(time.Time{})
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("backend %s: reading its session variables: %w", d.Addr, err)
		}
		if read && r.onCatalog != nil {
			go r.onCatalog(d.Addr) // not from inside the pool's dial
		}
		return c, nil
	}
}

// CheckLogin checks the database named at connect, as the server would at login: it must exist
// and the user must have access. Recent successes are cached so reconnecting clients cost no
// round trip.
func (r *Router) CheckLogin(user, db string, caps wire.Capability) error {
	if db == "" {
		return nil
	}
	k := user + "\x00" + db
	r.dbMu.Lock()
	t, ok := r.knownDBs[k]
	r.dbMu.Unlock()
	if ok && time.Since(t) < 30*time.Second {
		return nil
	}
	r.waitGate()
	pool := r.pickPool()
	key := backend.Key{User: user, Flags: caps & backend.ConnectFlags}
	c, err := pool.Acquire(context.Background(), backend.Want{Key: key, DB: db})
	if err != nil {
		return clientError(err)
	}
	if c.DB != db {
		if err := initDB(c, db); err != nil {
			var we *wire.Error
			if errors.As(err, &we) {
				// The refusal is in the connection's diagnostics area: emptied before the next
				// borrower can read it.
				if c.Roundtrip(append([]byte{byte(wire.ComQuery)}, clearDiagSQL...)) != nil {
					pool.Discard(c)
					return we
				}
				pool.Release(c)
				return we
			}
			pool.Discard(c)
			return clientError(err)
		}
	}
	pool.Release(c)
	r.dbMu.Lock()
	if len(r.knownDBs) > 10000 {
		clear(r.knownDBs)
	}
	r.knownDBs[k] = time.Now()
	r.dbMu.Unlock()
	return nil
}

// LoginStatus is the status of a fresh session: autocommit on, unless the backend's default is
// off.
func (r *Router) LoginStatus() wire.Status {
	r.mu.Lock()
	first := r.pools[0]
	r.mu.Unlock()
	if r.autocommitOff(first) {
		return 0
	}
	return wire.StatusAutocommit
}

// autocommitOff reports whether a fresh connection of pool has autocommit off.
func (r *Router) autocommitOff(pool *backend.Pool) bool {
	return r.vars.get(pool.Addr()).freshValue("autocommit") == "OFF"
}

// Serve runs a session for a logged-in client. It may return while the client is parked; the
// session finishes the client itself.
func (r *Router) Serve(ctx context.Context, c *frontend.Client) {
	s := newSession(ctx, r, c, r.pickPool())
	r.mu.Lock()
	r.sessions[c.ID] = s
	r.mu.Unlock()
	// Park at once: the login goroutine's stack (grown by the handshake) goes, and the session
	// continues on a fresh goroutine when the client sends its first command.
	if s.c.Park(s.idleDeadline(), s.resumeFn) {
		if r.draining.Load() {
			s.c.Wake()
		}
		return
	}
	s.run()
}

func (r *Router) unregister(s *Session) {
	r.mu.Lock()
	delete(r.sessions, s.c.ID)
	r.mu.Unlock()
}

// Sessions returns a snapshot of every session's state, ordered by nothing in particular.
func (r *Router) Sessions() []ClientInfo {
	r.mu.Lock()
	ss := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		ss = append(ss, s)
	}
	r.mu.Unlock()
	out := make([]ClientInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.info())
	}
	return out
}

// Drain asks every session to end after its current statement (graceful shutdown): idle ones end
// at once, busy ones when their statement is done.
func (r *Router) Drain() {
	r.draining.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		s.wake()
	}
}

// Abort closes every client connection at once (the shutdown bound has passed); sessions then
// clean up their backend connections.
func (r *Router) Abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		s.abort()
	}
}

// initDB makes db the default database of c.
func initDB(c *backend.Conn, db string) error {
	if err := c.Roundtrip(append([]byte{byte(wire.ComInitDB)}, db...)); err != nil {
		return err
	}
	c.DB = db
	return nil
}

// Pause makes sessions that need a backend connection wait until Resume; sessions that hold one
// (transactions, pins) go on. For maintenance: once the pools show nothing in use, the backends
// can restart without a client noticing more than a delay.
func (r *Router) Pause() {
	r.gateMu.Lock()
	defer r.gateMu.Unlock()
	if r.gate.Load() == nil {
		g := make(chan struct{})
		r.gate.Store(&g)
	}
}

// Resume lets waiting sessions go on.
func (r *Router) Resume() {
	r.gateMu.Lock()
	defer r.gateMu.Unlock()
	if g := r.gate.Swap(nil); g != nil {
		close(*g)
	}
}

// Paused reports whether Pause is in effect.
func (r *Router) Paused() bool { return r.gate.Load() != nil }

// waitGate blocks while paused.
func (r *Router) waitGate() {
	if g := r.gate.Load(); g != nil {
		<-*g
	}
}

// Kill closes the client connection id (its backend connection is reset or closed as when a
// client drops); false if there is no such client.
func (r *Router) Kill(id uint32) bool {
	r.mu.Lock()
	s, ok := r.sessions[id]
	r.mu.Unlock()
	if ok {
		s.abort()
	}
	return ok
}

// session returns the session of client id, nil if none.
func (r *Router) session(id uint64) *Session {
	if id > uint64(^uint32(0)) {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[uint32(id)]
}

// StmtCacheStats reports the shared prepared-statement metadata: statements cached, and PREPAREs
// answered from it (hits) or sent to a backend (misses).
func (r *Router) StmtCacheStats() (entries int, hits, misses uint64) { return r.metas.stats() }
