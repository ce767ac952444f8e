package parity

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// server is one MariaDB as the fuzzer reaches it.
type server struct {
	Addr      string      // where clients (or the proxy) connect
	AdminAddr string      // root connects here: the Unix socket, which needs no TLS
	TLS       *tls.Config // for client connections to Addr; nil: plain
}

// env is what a run and each replay work against: the two servers with their root connections,
// the proxy in front of the first, and the connections that KILL clients.
type env struct {
	o               Options
	proxied, direct server
	admins          [2]*admin // proxied, direct
	adminMu         sync.Mutex

	inst      *proxy.Instance
	relay     *relay // in place of inst when Options.relay is set
	proxyAddr string
	killers   [2]*killer // through the proxy, direct
	labels    sync.Map   // proxy client id → who it is (for stall reports)
}

// cleanupWait bounds the wait for a server or the proxy to finish with a closed connection.
const cleanupWait = 30 * time.Second

func newEnv(o Options) (*env, error) {
	e := &env{o: o,
		proxied: server{Addr: o.Proxied.Addr, AdminAddr: o.Proxied.Socket()},
		direct:  server{Addr: o.Direct.Addr, AdminAddr: o.Direct.Socket(), TLS: o.DirectTLS}}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
	defer cancel()
	for i, s := range []server{e.proxied, e.direct} {
		a, err := dialAdmin(ctx, s)
		if err != nil {
			e.close()
			return nil, err
		}
		e.admins[i] = a
	}
	return e, nil
}

// both runs statements as root on both servers.
func (e *env) both(stmts ...string) error {
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	for _, a := range e.admins {
		if err := a.exec(stmts...); err != nil {
			return err
		}
	}
	return nil
}

// fixture drops and recreates the databases with the objects of clients ids.
func (e *env) fixture(ids []int) error {
	e.adminMu.Lock()
	for _, a := range e.admins {
		if err := a.rollbackXA(); err != nil {
			e.adminMu.Unlock()
			return err
		}
	}
	e.adminMu.Unlock()
	// A new connection gets a new server thread, so its FOUND_ROWS() is 0 as a new session's
	// through the proxy (a cached thread keeps its previous connection's).
	stmts := append([]string{"SET GLOBAL thread_cache_size = 0"}, sharedFixture()...)
	for _, id := range ids {
		stmts = append(stmts, clientFixture(id)...)
	}
	return e.both(stmts...)
}

// Acquire timeouts of the proxy: a run's clients wait for the one or two connections while others
// hold them pinned (idle gaps included), but never near runAcquire; a replay runs one step at a
// time. An ERROR 9001 (which the direct twin cannot produce) then means a connection that did
// not come back.
const (
	runAcquire    = 30 * time.Second
	replayAcquire = 10 * time.Second
)

// startProxy starts an in-process proxy in front of the proxied server with pool cap capN and
// the given acquire timeout (or, with Options.relay, a plain TCP relay).
func (e *env) startProxy(capN int, acquire time.Duration) error {
	if e.o.relay {
		r, err := startRelay(e.proxied.Addr)
		if err != nil {
			return err
		}
		e.relay, e.proxyAddr = r, r.Addr()
		return e.startKillers()
	}
	cfg := proxytest.Config(e.o.Proxied, capN)
	cfg.Pool.AcquireTimeout = config.Duration{Duration: acquire}
	if e.o.Configure != nil {
		e.o.Configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("parity: proxy config: %w", err)
	}
	var out io.Writer = io.Discard
	if os.Getenv("MYSQLMUX_TEST_LOG") == "1" {
		out = os.Stderr
	}
	inst, err := proxy.Start(cfg, slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		return fmt.Errorf("parity: starting the proxy: %w", err)
	}
	e.inst, e.proxyAddr = inst, inst.Addr()
	return e.startKillers()
}

// startKillers logs in the connections that KILL clients.
func (e *env) startKillers() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
	defer cancel()
	for i := range e.killers {
		c, err := Dial(ctx, e.login(Login{User: mariadbUser, Password: mariadbPass, Collation: 45}, i == 0))
		if err != nil {
			e.stopProxy()
			return fmt.Errorf("parity: killer connection: %w", err)
		}
		e.killers[i] = &killer{c: c}
	}
	return nil
}

// login fills in the address (and TLS) of one side.
func (e *env) login(l Login, throughProxy bool) Login {
	if throughProxy {
		l.Addr, l.TLS = e.proxyAddr, nil
	} else {
		l.Addr, l.TLS = e.direct.Addr, e.direct.TLS
	}
	return l
}

// stopProxy shuts the proxy down and waits until neither server has a client connection left.
func (e *env) stopProxy() {
	for i, k := range e.killers {
		if k != nil {
			k.c.Quit()
			e.killers[i] = nil
		}
	}
	if e.inst != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
		_ = e.inst.Shutdown(ctx)
		cancel()
		e.inst = nil
	}
	if e.relay != nil {
		e.relay.Close()
		e.relay = nil
	}
	_ = e.waitNoClients()
}

// waitNoClients waits until no connection of the test accounts is left on either server.
func (e *env) waitNoClients() error {
	return e.poll(func() (bool, error) {
		e.adminMu.Lock()
		defer e.adminMu.Unlock()
		for _, a := range e.admins {
			n, err := a.int("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN ('app', 'other', 'other2')")
			if err != nil || n > 0 {
				return false, err
			}
		}
		return true, nil
	})
}

// awaitGone waits until the proxy has finished with client pid (its backend connection is reset
// or closed) and the direct server with thread did, so the next client with the same names
// starts from nothing.
func (e *env) awaitGone(pid, did uint32) error {
	if err := e.awaitProxyGone(pid); err != nil {
		return err
	}
	return e.awaitDirectGone(did)
}

// awaitProxyGone waits until the proxy forgot client pid (behind the relay: until the server
// thread pid is gone).
func (e *env) awaitProxyGone(pid uint32) error {
	if e.inst == nil {
		return e.awaitThreadGone(0, pid)
	}
	return e.poll(func() (bool, error) {
		gone := !slices.ContainsFunc(e.inst.Router().Sessions(), func(ci proxy.ClientInfo) bool { return ci.ID == pid })
		return gone, nil
	})
}

func (e *env) awaitDirectGone(did uint32) error { return e.awaitThreadGone(1, did) }

// endXA rolls back the XA transaction x that a client which left may have left prepared on the
// proxied (0) or direct (1) server. It outlives the connection, detached once the server thread
// ends, which can come after the proxy forgot the client (the proxy closes that connection; the
// server sees it later): until then a rollback from elsewhere is refused. It holds its row locks
// meanwhile, so the next generation's writes would wait for them.
func (e *env) endXA(server int, x string) error {
	return e.poll(func() (bool, error) {
		e.adminMu.Lock()
		defer e.adminMu.Unlock()
		a := e.admins[server]
		o := a.c.Query("XA RECOVER")
		if o.Err != nil || o.Lost != "" || len(o.Results) != 1 {
			return false, fmt.Errorf("parity: XA RECOVER: %s", o.Short())
		}
		if !slices.ContainsFunc(o.Results[0].Rows, func(row string) bool {
			f := splitRow(row) // formatID, gtrid_length, bqual_length, data
			return len(f) == 4 && f[3] == x
		}) {
			return true, nil
		}
		a.c.Query("XA ROLLBACK " + quote(x))
		return false, fmt.Errorf("parity: XA transaction %s still prepared", x)
	})
}

// awaitThreadGone waits until thread id is gone from the proxied (0) or direct (1) server.
func (e *env) awaitThreadGone(server int, id uint32) error {
	return e.poll(func() (bool, error) {
		e.adminMu.Lock()
		defer e.adminMu.Unlock()
		n, err := e.admins[server].int(fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %d", id))
		return err == nil && n == 0, err
	})
}

func (e *env) poll(cond func() (bool, error)) error {
	deadline := time.Now().Add(cleanupWait)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("parity: still waiting after %v", cleanupWait)
			}
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) close() {
	e.stopProxy()
	for _, a := range e.admins {
		if a != nil {
			a.close()
		}
	}
}
