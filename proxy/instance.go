package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/frontend"
)

// fallbackVersion is announced when no backend answered at start.
const fallbackVersion = "5.5.5-10.11.0-MariaDB-mysqlmux"

// trackingSQL turns on the session tracking the router relies on: the server reports every
// system variable, schema and transaction-characteristics change in its OK packets.
const trackingSQL = "SET SESSION session_track_system_variables = '*', session_track_schema = ON, " +
	"session_track_state_change = ON, session_track_transaction_info = 'CHARACTERISTICS'"

// Instance is a running proxy: listener, frontend server, router and pools, built from a
// Config. cmd/mysqlmux runs one; tests start them in-process.
type Instance struct {
	log    *slog.Logger
	ln     net.Listener
	users  *frontend.Users
	front  *frontend.Server
	router *Router

	mu      sync.Mutex
	cfg     *config.Config
	pools   map[string]*backend.Pool   // by address
	dialers map[string]*backend.Dialer // by address, the pools' (TLS changes on reload)

	observer Observer // see SetObserver; guarded by mu

	limits PoolLimits // nil: every pool at its configured cap (see fleet.go)

	ctx     context.Context
	cancel  context.CancelFunc
	serveCh chan error

	connectTimeout atomic.Int64 // [pool].connect_timeout, reloadable
}

func (in *Instance) connectTimeoutNow() time.Duration { return time.Duration(in.connectTimeout.Load()) }

// Start listens on cfg.Proxy.Listen and serves until Shutdown.
func Start(cfg *config.Config, log *slog.Logger) (*Instance, error) {
	return start(cfg, log, nil)
}

func start(cfg *config.Config, log *slog.Logger, limits PoolLimits) (*Instance, error) {
	in := &Instance{log: log, cfg: cfg, pools: make(map[string]*backend.Pool), dialers: make(map[string]*backend.Dialer), limits: limits}
	in.connectTimeout.Store(int64(cfg.Pool.ConnectTimeout.Duration))
	in.users = frontend.NewUsers(usersOf(cfg))
	in.router = NewRouter(nil, in.users, routerSettings(cfg), log)
	in.router.onCatalog = in.catalogRead
	in.router.SetPools(in.buildPools(cfg))
	in.router.SetRouting(cfg, in.users.Password, in.dialer)

	version := fallbackVersion
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Pool.ConnectTimeout.Duration)
	if v, err := backend.ProbeVersion(ctx, cfg.Backends[0].Address); err == nil {
		version = v
	} else {
		log.Warn("backend did not answer; announcing a default version", "backend", cfg.Backends[0].Address, "err", err)
	}
	cancel()

	var tlsConf *tls.Config
	if cfg.Proxy.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Proxy.TLSCert, cfg.Proxy.TLSKey)
		if err != nil {
			in.router.StopMonitor()
			in.closePools()
			return nil, fmt.Errorf("proxy.tls_cert: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	front, err := frontend.NewServer(frontend.Config{
		ServerVersion:    version,
		MaxClients:       cfg.Proxy.MaxClientConnections,
		HandshakeTimeout: cfg.Proxy.HandshakeTimeout.Duration,
		TLS:              tlsConf,
	}, in.users, in.router, log)
	if err != nil {
		in.router.StopMonitor()
		in.closePools()
		return nil, err
	}
	in.front = front
	ln, err := net.Listen("tcp", cfg.Proxy.Listen)
	if err != nil {
		front.Close()
		in.router.StopMonitor()
		in.closePools()
		return nil, fmt.Errorf("listen %s: %w", cfg.Proxy.Listen, err)
	}
	in.ln = ln
	in.ctx, in.cancel = context.WithCancel(context.Background())
	in.serveCh = make(chan error, 1)
	go func() { in.serveCh <- front.Serve(in.ctx, ln) }()
	log.Info("mysqlmux listening", "addr", ln.Addr().String(), "backends", len(cfg.Backends), "version", version)
	return in, nil
}

// Addr is the address the proxy listens on.
func (in *Instance) Addr() string { return in.ln.Addr().String() }

// Router exposes the sessions and counters (admin console, tests).
func (in *Instance) Router() *Router { return in.router }

// Frontend exposes the client-side counters.
func (in *Instance) Frontend() *frontend.Server { return in.front }

func usersOf(cfg *config.Config) map[string]frontend.Account {
	m := make(map[string]frontend.Account, len(cfg.Users))
	for _, u := range cfg.Users {
		m[u.Name] = frontend.Account{Password: u.Password, Plugin: u.Plugin()}
	}
	return m
}

func routerSettings(cfg *config.Config) Settings {
	return Settings{ClientIdleTimeout: cfg.Proxy.ClientIdleTimeout.Duration, MaxPacket: cfg.Proxy.MaxAllowedPacket}
}

// poolSettings are a backend's pool limits. A server that closes idle connections sooner than
// idle_timeout (its wait_timeout, once read: see sysvars.go) gets a shorter one: a connection is
// never lent when the server may be closing it.
func (in *Instance) poolSettings(cfg *config.Config, b config.BackendConfig) backend.Settings {
	idle := cfg.Pool.IdleTimeout.Duration
	if wt, err := strconv.Atoi(in.router.vars.get(b.Address).freshValue("wait_timeout")); err == nil && wt > 0 {
		serverIdle := time.Duration(wt)*time.Second - time.Second
		if wt < 4 {
			serverIdle = time.Duration(wt) * time.Second / 2
		}
		if idle == 0 || serverIdle < idle {
			idle = serverIdle
		}
	}
	return backend.Settings{
		MaxConns:       b.Cap(cfg.Pool),
		AcquireTimeout: cfg.Pool.AcquireTimeout.Duration,
		IdleTimeout:    idle,
		MaxLifetime:    cfg.Pool.MaxLifetime.Duration,
		ConnectTimeout: cfg.Pool.ConnectTimeout.Duration,
	}
}

// catalogRead applies what a backend's newly read variable catalog changes in its pool's
// limits.
func (in *Instance) catalogRead(addr string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, b := range in.cfg.Backends {
		if p := in.pools[b.Address]; p != nil && b.Address == addr {
			p.SetSettings(in.poolSettings(in.cfg, b))
		}
	}
}

// buildPools creates or updates one pool per backend, in configuration order; pools of removed
// backends are closed (their lent connections close as they come back).
func (in *Instance) buildPools(cfg *config.Config) []*backend.Pool {
	in.mu.Lock()
	defer in.mu.Unlock()
	keep := make(map[string]*backend.Pool, len(cfg.Backends))
	var ordered []*backend.Pool
	for _, b := range cfg.Backends {
		tlsConf, _ := b.ClientTLS() // checked by cfg.Validate
		p, ok := in.pools[b.Address]
		if ok {
			p.SetSettings(in.poolSettings(cfg, b))
			in.dialers[b.Address].SetTLS(tlsConf)
		} else {
			d := &backend.Dialer{Addr: b.Address, Password: in.users.Password,
				Timeout: in.connectTimeoutNow, InitSQL: trackingSQL}
			d.SetTLS(tlsConf)
			p = backend.NewPool(b.Address, in.router.dialFunc(d), in.poolSettings(cfg, b), in.log)
			if in.limits != nil {
				p.SetLimit(in.limits.Limit(b.Address)) // before any client can borrow from it
			}
			p.SetWaitObserver(in.waitObserverLocked(b.Address))
			in.dialers[b.Address] = d
		}
		keep[b.Address] = p
		ordered = append(ordered, p)
	}
	for addr, p := range in.pools {
		if _, ok := keep[addr]; !ok {
			p.Close()
			delete(in.dialers, addr)
		}
	}
	in.pools = keep
	return ordered
}

// Reload applies a new configuration without dropping clients: users and passwords, backends,
// pool limits, timeouts. The listen address cannot change at run time.
func (in *Instance) Reload(cfg *config.Config) error {
	if cfg.Proxy.Listen != in.cfg.Proxy.Listen {
		return errors.New("proxy.listen cannot change on reload; restart to move the listener")
	}
	old, now := usersOf(in.cfg), usersOf(cfg)
	in.users.Set(now)
	for name, a := range old {
		if na, ok := now[name]; !ok || na.Password != a.Password {
			in.front.ForgetAuthCache()
			break
		}
	}
	in.connectTimeout.Store(int64(cfg.Pool.ConnectTimeout.Duration))
	in.router.SetPools(in.buildPools(cfg))
	in.router.SetRouting(cfg, in.users.Password, in.dialer)
	in.router.SetSettings(routerSettings(cfg))
	in.front.SetLimits(cfg.Proxy.MaxClientConnections, cfg.Proxy.HandshakeTimeout.Duration)
	in.mu.Lock()
	in.cfg = cfg
	in.mu.Unlock()
	in.log.Info("configuration reloaded", "backends", len(cfg.Backends), "users", len(cfg.Users))
	return nil
}

// Shutdown stops accepting, lets statements in flight finish (until ctx ends, then cuts them
// off), rolls back what clients left open, and closes the pools.
func (in *Instance) Shutdown(ctx context.Context) error {
	_ = in.ln.Close()
	in.router.Drain()
	var err error
	select {
	case err = <-in.serveCh:
	case <-ctx.Done():
		in.log.Warn("shutdown timeout: closing clients with statements in flight")
		in.router.Abort()
		in.cancel()
		select {
		case err = <-in.serveCh:
		case <-time.After(5 * time.Second):
			err = errors.New("sessions did not end after abort")
		}
	}
	in.cancel()
	in.front.Close()
	in.router.StopMonitor()
	in.closePools()
	return err
}

// dialer is the pool's dialer of backend addr.
func (in *Instance) dialer(addr string) *backend.Dialer {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.dialers[addr]
}

func (in *Instance) closePools() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, p := range in.pools {
		p.Close()
	}
}
