// Package admin is mysqlmux's operator surface: a MySQL-protocol console (SHOW POOLS, SHOW CLIENTS,
// SHOW DIGESTS, PAUSE, RELOAD, SET, ...) and an HTTP listener with Prometheus metrics, health and
// readiness checks and a live dashboard. It reads what proxy, frontend and backend count and calls
// the Router's controls; what it owns is statistics: the backend up/down judgement (health.go),
// latency histograms and the digest table (observer.go), the dashboard's recent history (series.go).
package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"

	"github.com/mysqlmux/mysqlmux/cluster"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/digest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// consoleVersion is the server version the console announces; the suffix tells a human which
// port they reached.
const consoleVersion = "5.5.5-10.11.0-mysqlmux-admin"

// consoleCollation is utf8mb4_general_ci (go-mysql's default 255 does not exist on MariaDB, and
// the mariadb CLI rejects it).
const consoleCollation = 45

// handshakeTimeout bounds an admin login, so half-open connections cannot pile up.
const handshakeTimeout = 10 * time.Second

// defaultPauseWait is how long PAUSE waits for the pools to drain before answering.
const defaultPauseWait = 10 * time.Second

// Runtime is the running configuration as the console reads and changes it; cmd/mysqlmux owns
// it. A nil function makes the commands that need it answer an error.
type Runtime struct {
	// Config returns the configuration in force (SHOW CONFIG, SET's starting point).
	Config func() *config.Config
	// Reload re-reads the configuration file and applies it (RELOAD).
	Reload func() error
	// Update applies change to a copy of the configuration in force, validates the result and
	// applies it as a reload does (SET): the one way settings change, whoever changes them.
	Update func(change func(*config.Config) error) error
	// Fleet returns the fleet's state ([cluster]: SHOW FLEET, SHOW BACKENDS, metrics); nil, or
	// a function returning nil, without one.
	Fleet func() *cluster.Status
}

// Server is a running admin console and/or HTTP metrics listener.
type Server struct {
	log    *slog.Logger
	in     *proxy.Instance
	rt     Runtime
	creds  credentials
	health *healthTracker
	ready  *readiness
	pprof  bool

	obs     *observer
	digests *digest.Table // nil when [admin].digests is off
	series  *series       // nil without the HTTP listener

	// pauseWait bounds PAUSE's wait for in_use 0. Set before serving; tests shorten it.
	pauseWait time.Duration

	srv    *server.Server
	ln     net.Listener // console; nil when disabled
	httpLn net.Listener // metrics; nil when disabled
	http   *http.Server

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // open console connections, closed by Close
	closed bool
	done   chan struct{} // closed by Close: ends PAUSE waits

	wg sync.WaitGroup
}

// Start opens the listeners cfg names (an empty address disables that one) and serves until Close.
// rt is how the console reads and changes the configuration. The console's credentials are
// cfg.User and cfg.Password, fixed for the life of the Server. A port already taken is an error
// naming the key. The Server observes the proxy's statements and pools (histograms, digests)
// until Close.
func Start(cfg config.AdminConfig, in *proxy.Instance, rt Runtime, log *slog.Logger) (*Server, error) {
	if in == nil {
		return nil, errors.New("admin: no proxy instance")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log: log, in: in, rt: rt,
		creds:     newCredentials(cfg.User, cfg.Password),
		health:    newHealthTracker(),
		ready:     newReadiness(),
		pprof:     cfg.Pprof,
		pauseWait: defaultPauseWait,
		conns:     make(map[net.Conn]struct{}),
		done:      make(chan struct{}),
	}
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("admin.listen %s: %w", cfg.Listen, err)
		}
		s.ln = ln
	}
	if cfg.HTTPListen != "" {
		ln, err := net.Listen("tcp", cfg.HTTPListen)
		if err != nil {
			if s.ln != nil {
				_ = s.ln.Close()
			}
			return nil, fmt.Errorf("admin.http_listen %s: %w", cfg.HTTPListen, err)
		}
		s.httpLn = ln
	}
	if cfg.Digests {
		s.digests = digest.New(cfg.DigestRows)
	}
	s.obs = newObserver(s.digests)
	in.SetObserver(s.obs)
	if s.ln != nil {
		s.srv = server.NewServer(consoleVersion, consoleCollation, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
		s.wg.Add(1)
		go s.acceptLoop()
		log.Info("admin console listening", "addr", s.ln.Addr().String())
	}
	if s.httpLn != nil {
		s.series = newSeries()
		s.wg.Add(1)
		go s.sample()
		s.http = s.newHTTPServer()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("admin http", "err", err)
			}
		}()
		log.Info("admin http listening", "addr", s.httpLn.Addr().String())
	}
	return s, nil
}

// Addr is the console's address ("" when disabled).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// HTTPAddr is the metrics listener's address ("" when disabled).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// Close stops both listeners, closes every console connection and waits for their goroutines.
// It does not undo a PAUSE: the proxy's state is the proxy's.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	var errs []error
	if s.ln != nil {
		errs = append(errs, ignoreClosed(s.ln.Close()))
	}
	if s.http != nil {
		errs = append(errs, s.http.Close())
	}
	s.wg.Wait()
	s.in.SetObserver(nil)
	if s.digests != nil {
		s.digests.Close()
	}
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("admin accept", "err", err)
			}
			return
		}
		if !s.track(nc) {
			_ = nc.Close()
			return
		}
		s.wg.Add(1)
		go s.serveConn(nc)
	}
}

// track registers nc for Close; false once closed.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	_ = nc.Close()
}

// serveConn logs an admin in and runs its commands until it quits or Close.
func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	defer s.untrack(nc)
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	c, err := s.srv.NewCustomizedConn(nc, s.creds, &handler{s: s})
	if err != nil {
		s.log.Debug("admin login failed", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s.log.Info("admin connected", "remote", nc.RemoteAddr().String(), "user", c.GetUser())
	for !c.Closed() {
		if err := c.HandleCommand(); err != nil {
			return
		}
	}
}
