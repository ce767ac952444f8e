// Package frontend is the client leg: the listener, the handshake and login (through go-mysql's
// server package), the client-count limit, and packet I/O with logged-in clients. It knows nothing
// of backends or SQL; a Handler takes each logged-in client.
package frontend

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"log/slog"
	"math"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Buffer sizes of a client connection, taken from a shared pool only while a command is handled:
// an idle client holds none.
const (
	readBufferSize  = 16 << 10
	writeBufferSize = 64 << 10 // held only while a response streams: few at a time (the pool cap)
	// handshakeByteLimit bounds what a client may send before login completes.
	handshakeByteLimit = 1 << 20
	// maxConcurrentLogins bounds logins in progress: each costs go-mysql's 64 KiB read buffer
	// and a stack grown by the crypto, and a storm of thousands of connects would otherwise
	// leave that peak in the process's memory for good.
	maxConcurrentLogins = 64
)

// extraCaps are offered on top of go-mysql's own set: the backends honour both per connection
// (connections are pooled by these flags).
const extraCaps = wire.ClientFoundRows | wire.ClientMultiStatements | wire.ClientIgnoreSpace | wire.ClientLocalFiles

// ErrTooManyConnections is the error sent when max_client_connections is reached.
var ErrTooManyConnections = &wire.Error{Code: 1040, SQLState: "08004", Message: "Too many connections"}

// Client is a logged-in client connection.
type Client struct {
	*wire.Conn
	// ID is the proxy's connection id for this client (what the handshake announced).
	ID uint32
	// User is the authenticated account.
	User string
	// DB is the database named at connect ("" for none).
	DB string
	// Caps are the negotiated capabilities; RawCaps what the client asked for (clients send some
	// flags, e.g. FOUND_ROWS and MULTI_STATEMENTS, that the server never offered, and the server
	// honours them).
	Caps, RawCaps wire.Capability
	// Collation is the character set id the client logged in with.
	Collation uint8
	// Addr is the client's address.
	Addr string
	// Attributes are the connection attributes the client sent.
	Attributes map[string]string
	// LastError is the code of the last error WriteError sent (statistics; the session clears
	// it before each command).
	LastError uint16

	// Parking (see park.go); fd is -1 when the connection cannot be parked (TLS).
	fd           int
	parker       *parker
	parkID       uint64 // non-zero while parked; guarded by parker.mu
	parkDeadline time.Time
	parkTimer    *time.Timer
	resumeFn     func(timedOut bool)
	finish       func()
}

// Handler serves logged-in clients. Serve may return while the client is parked (see
// Client.Park); the handler calls Client.Finish exactly once, when the client is done.
type Handler interface {
	// CheckLogin runs after the password checked out, before the client is told it is in (for
	// example to check the database named at connect). A *wire.Error is sent to the client.
	CheckLogin(user, db string, caps wire.Capability) error
	// LoginStatus is the status a fresh session has (SERVER_STATUS_AUTOCOMMIT unless the
	// server's default is autocommit off), announced in the initial handshake: drivers such as
	// PyMySQL decide from it whether to send SET autocommit.
	LoginStatus() wire.Status
	Serve(ctx context.Context, c *Client)
}

// Config is what the Server needs to know.
type Config struct {
	ServerVersion    string
	MaxClients       int
	HandshakeTimeout time.Duration
	// TLS, if set, is offered to clients (who may also stay in plain text). TLS clients are
	// not parked: their idle cost includes a goroutine and the TLS buffers.
	TLS *tls.Config
}

// Server accepts clients, logs them in and hands them to the Handler.
type Server struct {
	srv     atomic.Pointer[server.Server] // replaced to forget cached caching_sha2 logins
	newSrv  func() *server.Server
	bufs    *wire.BufferPool
	parker  *parker // nil if epoll is not available: clients then wait with a goroutine
	logins  chan struct{}
	users   *Users
	handler Handler
	log     *slog.Logger

	nextID           atomic.Uint32 // see newID
	maxClients       atomic.Int64
	handshakeTimeout atomic.Int64
	clients          atomic.Int64
	refused          atomic.Uint64
	authFailed       atomic.Uint64

	wg sync.WaitGroup

	// Memory given back after connect storms (see afterLogin).
	loginsSinceFree atomic.Int64
	stormMu         sync.Mutex
	stormTimer      *time.Timer
}

// After stormLogins logins, once logins have paused for stormQuiet, the heap is collected and
// its free memory returned to the OS. A storm of thousands of connects leaves tens of MB of
// handshake garbage (go-mysql reads each handshake through a 64 KiB buffer) that the runtime
// would otherwise keep mapped for good, while the clients it let in cost 2 KB each idle.
const (
	stormLogins = 1000
	stormQuiet  = time.Second
)

func (s *Server) afterLogin() {
	if s.loginsSinceFree.Add(1) < stormLogins {
		return
	}
	s.stormMu.Lock()
	defer s.stormMu.Unlock()
	if s.stormTimer == nil {
		s.stormTimer = time.AfterFunc(stormQuiet, func() {
			s.loginsSinceFree.Store(0)
			debug.FreeOSMemory()
		})
		return
	}
	s.stormTimer.Reset(stormQuiet)
}

// rsaKey is the key a caching_sha2_password client without TLS encrypts its password with (it
// asks for the public half) when the login misses the cache. One per process: making it takes
// about 0.1 s, and an account may switch to caching_sha2_password on a reload.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// NewServer prepares a Server.
func NewServer(cfg Config, users *Users, h Handler, log *slog.Logger) (*Server, error) {
	// Collation 45 (utf8mb4_general_ci): go-mysql's default 255 does not exist on MariaDB.
	// Logins use each account's plugin (clients that start with the other one are switched);
	// the handshake offers mysql_native_password, which every client speaks.
	key, err := rsaKey()
	if err != nil {
		return nil, err
	}
	s := &Server{users: users, handler: h, log: log,
		newSrv: func() *server.Server {
			return server.NewServer(cfg.ServerVersion, 45, mysql.AUTH_NATIVE_PASSWORD, key, cfg.TLS)
		},
		bufs: wire.NewBufferPool(readBufferSize, writeBufferSize), logins: make(chan struct{}, maxConcurrentLogins)}
	s.srv.Store(s.newSrv())
	s.SetLimits(cfg.MaxClients, cfg.HandshakeTimeout)
	if p, err := newParker(); err == nil {
		s.parker = p
	} else {
		log.Warn("idle clients will each keep a goroutine", "err", err)
	}
	return s, nil
}

// Close releases what Serve leaves behind (the parking watch); call it after Serve returned.
func (s *Server) Close() {
	if s.parker != nil {
		s.parker.close()
	}
}

// WakeParked resumes every parked client at once (graceful shutdown).
func (s *Server) WakeParked() {
	if s.parker != nil {
		s.parker.wakeAll()
	}
}

// SetLimits changes the client cap and the login deadline (reload).
func (s *Server) SetLimits(maxClients int, handshakeTimeout time.Duration) {
	s.maxClients.Store(int64(maxClients))
	s.handshakeTimeout.Store(int64(handshakeTimeout))
}

// ForgetAuthCache forgets every cached caching_sha2_password login (after a password change),
// so the old password no longer passes the fast path. go-mysql keys its cache by user and the
// address the client reached, which is not known here: the handshake server is replaced.
func (s *Server) ForgetAuthCache() { s.srv.Store(s.newSrv()) }

// Clients reports how many clients are connected (logging in or logged in).
func (s *Server) Clients() int64 { return s.clients.Load() }

// Refused reports how many connections were refused with ERROR 1040.
func (s *Server) Refused() uint64 { return s.refused.Load() }

// AuthFailures reports how many logins failed.
func (s *Server) AuthFailures() uint64 { return s.authFailed.Load() }

// Serve accepts on ln until it is closed, then waits for the clients' handlers to return. ctx is
// passed to each handler; cancel it to ask sessions to end.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.wg.Wait()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = max(5*time.Millisecond, min(2*delay, time.Second))
				time.Sleep(delay)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// EMFILE and friends: back off instead of spinning.
			s.log.Warn("accept failed", "err", err)
			delay = max(5*time.Millisecond, min(2*delay, time.Second))
			time.Sleep(delay)
			continue
		}
		delay = 0
		if s.clients.Add(1) > s.maxClients.Load() {
			s.clients.Add(-1)
			s.refused.Add(1)
			go refuse(nc)
			continue
		}
		s.wg.Add(1)
		go s.serveConn(ctx, nc)
	}
}

// refuse answers a connection over the cap with ERROR 1040 in place of the handshake, as MySQL does.
func refuse(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(time.Second))
	c := wire.NewConn(nc, 64, 128)
	if c.WritePacket(wire.AppendErr(nil, ErrTooManyConnections)) == nil {
		_ = c.Flush()
	}
	_ = nc.Close()
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	done := func() {
		_ = nc.Close()
		s.clients.Add(-1)
		s.wg.Done()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	timeout := time.NewTimer(time.Duration(s.handshakeTimeout.Load()))
	select {
	case s.logins <- struct{}{}:
		timeout.Stop()
	case <-timeout.C:
		s.log.Debug("login not started within the handshake timeout", "client", nc.RemoteAddr().String())
		done()
		return
	}
	c, err := s.login(nc)
	<-s.logins
	s.afterLogin()
	if err != nil {
		s.log.Debug("login failed", "client", nc.RemoteAddr().String(), "err", err)
		done()
		return
	}
	c.finish = done
	s.handler.Serve(ctx, c)
}

// ClientIDBase is where the connection ids the proxy gives its clients start. Server thread ids,
// which SHOW PROCESSLIST and CONNECTION_ID() show through the proxy, stay far below it (a server
// would need a billion connections to get there), so a KILL's id tells which of the two it
// names. Ids stay below 2^31 for clients that keep them in a signed 32-bit integer.
const ClientIDBase = 1 << 30

// newID returns the next client connection id: ClientIDBase+1, +2, ..., wrapping back to
// ClientIDBase+1 before 2^31.
func (s *Server) newID() uint32 {
	for {
		id := s.nextID.Add(1)
		if id > ClientIDBase && id < math.MaxInt32 {
			return id
		}
		s.nextID.CompareAndSwap(id, ClientIDBase)
	}
}

// login runs the handshake with a deadline and a byte bound.
func (s *Server) login(nc net.Conn) (*Client, error) {
	status := s.handler.LoginStatus()
	lc := &limitConn{Conn: nc, left: handshakeByteLimit, addCaps: extraCaps, id: s.newID(), status: status}
	_ = nc.SetDeadline(time.Now().Add(time.Duration(s.handshakeTimeout.Load())))
	dbh := &dbHandler{}
	auth := &authHandler{users: s.users, onSuccess: func(sc *server.Conn) error {
		sc.SetStatus(uint16(status)) // in the OK that ends the login (libmariadb reads it)
		if err := s.handler.CheckLogin(sc.GetUser(), dbh.db, wire.Capability(sc.Capability())); err != nil {
			var we *wire.Error
			if errors.As(err, &we) {
				return &mysql.MyError{Code: we.Code, Message: we.Message, State: we.SQLState}
			}
			return err
		}
		return nil
	}}
	srv := s.srv.Load()
	sc, err := srv.NewCustomizedConn(lc, auth, dbh)
	if err != nil {
		if errors.Is(err, server.ErrAccessDenied) {
			s.authFailed.Add(1)
		}
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	// After login go-mysql's packet reader is drained (clients wait for the OK), so the raw
	// connection can be taken over. Under TLS the tls.Conn wraps lc: lift its bound instead.
	raw := sc.Conn.Conn
	if raw == net.Conn(lc) {
		raw = nc
	} else {
		lc.lift()
	}
	rawCaps := wire.Capability(sc.Capability())
	fd := -1
	if sc, ok := raw.(syscall.Conn); ok && s.parker != nil {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(f uintptr) { fd = int(f) })
		}
	}
	return &Client{
		fd:         fd,
		parker:     s.parker,
		Conn:       wire.NewPooledConn(raw, s.bufs),
		ID:         lc.id,
		User:       sc.GetUser(),
		DB:         dbh.db,
		Caps:       rawCaps & (wire.Capability(srv.Capability()) | extraCaps),
		RawCaps:    rawCaps,
		Collation:  sc.Charset(),
		Addr:       nc.RemoteAddr().String(),
		Attributes: sc.Attributes(),
	}, nil
}

// WriteError sends e as the reply to the current command (sequence id as the command expects).
func (c *Client) WriteError(e *wire.Error) error {
	c.LastError = e.Code
	if err := c.WritePacket(wire.AppendErr(nil, e)); err != nil {
		return err
	}
	return c.Flush()
}
