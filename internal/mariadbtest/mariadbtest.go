// Package mariadbtest starts throwaway MariaDB servers for integration tests.
//
// Each server gets its own temporary data directory, listens on 127.0.0.1 on a
// free port (plus a unix socket inside the temporary directory), accepts TLS with a
// certificate from a test authority (CAFile) as well as plain clients, ignores every
// option file (--no-defaults) and is killed when the test binary dies.
//
// After start the server has these accounts and databases:
//
//   - root@localhost, root@127.0.0.1: no password, ALL PRIVILEGES WITH GRANT OPTION
//   - app (AppUser/AppPassword) at '%', 'localhost' and '127.0.0.1': ALL PRIVILEGES on *.*
//   - other and other2 (OtherUser, Other2User / OtherPassword) at the same hosts: ALL PRIVILEGES on *.*
//   - no anonymous users (they would shadow 'app'@'%' for clients on 127.0.0.1)
//   - databases `test` and `test2`
//
// One server for a whole test package:
//
//	var db *mariadbtest.Server
//
//	func TestMain(m *testing.M) {
//		os.Exit(mariadbtest.Main(m, mariadbtest.Options{MaxConnections: 40}, &db))
//	}
//
//	func TestSomething(t *testing.T) {
//		mariadbtest.Need(t, db)
//		...
//	}
//
// One server for one test: srv := mariadbtest.StartTB(t, mariadbtest.Options{}).
//
// When mariadbd is not installed, tests skip, unless the environment variable
// CI is set (non-empty, other than "0" or "false") or MYSQLMUX_REQUIRE_MARIADB=1:
// then they fail. scripts/install-mariadb.sh installs it on Debian. The binaries
// are looked up in PATH, then /usr/sbin (mariadbd, mysqld) and /usr/bin,
// /usr/scripts (mariadb-install-db); MYSQLMUX_MARIADBD and
// MYSQLMUX_MARIADB_INSTALL_DB name them explicitly.
package mariadbtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Accounts created on every server.
const (
	AppUser       = "app"
	AppPassword   = "secret"
	OtherUser     = "other"
	Other2User    = "other2"
	OtherPassword = "secret2" // password of both OtherUser and Other2User
	RootUser      = "root"    // no password
)

// RequireEnv, set to 1, makes a missing mariadbd a test failure instead of a skip.
// A non-empty CI variable (other than "0" or "false") does the same.
const RequireEnv = "MYSQLMUX_REQUIRE_MARIADB"

// ErrNotInstalled is returned (wrapped) by Start when mariadbd or
// mariadb-install-db cannot be found.
var ErrNotInstalled = errors.New("mariadbtest: MariaDB server not installed (run scripts/install-mariadb.sh)")

const (
	startTimeout   = 60 * time.Second // mariadb-install-db, and again until the server accepts connections
	stopTimeout    = 30 * time.Second // after SIGTERM, before SIGKILL
	portAttempts   = 3
	logTailBytes   = 4096
	maxSocketPath  = 100 // sun_path is 108 bytes
	setupQueryWait = 30 * time.Second
)

// Options configure a server.
type Options struct {
	MaxConnections int      // 0 = server default (151)
	ExtraArgs      []string // extra mariadbd flags, appended last (so they override the defaults)
	// TLSOnly starts the server with require_secure_transport=ON: TCP clients must use TLS
	// (DSN and Root then ask for it, verifying the server against CAFile).
	TLSOnly bool
}

// Server is a running throwaway mariadbd.
type Server struct {
	Addr string // "127.0.0.1:PORT"

	dir     string // temporary directory: data/, socket, logs, TLS files
	socket  string
	tls     TLSFiles
	tlsOnly bool   // require_secure_transport=ON
	tlsName string // the go-sql-driver TLS config registered for DSN, when tlsOnly
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd.Wait returned
	werr    error         // cmd.Wait's result, valid after exited is closed
	admin   *sql.DB       // root over the unix socket

	stopOnce sync.Once
	stopErr  error
}

// Required reports whether a missing mariadbd must fail tests rather than skip them:
// CI is set (and not "0" or "false"), or MYSQLMUX_REQUIRE_MARIADB=1.
func Required() bool {
	ci := strings.TrimSpace(os.Getenv("CI"))
	if ci != "" && ci != "0" && !strings.EqualFold(ci, "false") {
		return true
	}
	return os.Getenv(RequireEnv) == "1"
}

// Start launches a mariadbd on 127.0.0.1 with a free port and a temporary data
// directory, waits until it accepts connections and creates the test accounts and
// databases. The caller must call Stop. The error wraps ErrNotInstalled when the
// MariaDB binaries are missing.
func Start(opts Options) (*Server, error) {
	mariadbd, installDB, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir()
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, socket: filepath.Join(dir, "mysqld.sock"), tlsOnly: opts.TLSOnly}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop()
		}
	}()

	if err := s.installDB(installDB); err != nil {
		return nil, err
	}
	if s.tls, err = WriteTLSFiles(dir); err != nil {
		return nil, err
	}
	if s.tlsOnly {
		conf, err := s.TLSConfig()
		if err != nil {
			return nil, err
		}
		s.tlsName = "mariadbtest-" + filepath.Base(dir)
		if err := mysql.RegisterTLSConfig(s.tlsName, conf); err != nil {
			return nil, fmt.Errorf("mariadbtest: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.launch(mariadbd, opts)
		if err == nil {
			break
		}
		if !errors.Is(err, errAddrInUse) || attempt >= portAttempts {
			return nil, err
		}
	}
	if err := s.setup(); err != nil {
		return nil, fmt.Errorf("mariadbtest: setting up accounts: %w%s", err, s.logTail())
	}
	ok = true
	return s, nil
}

// StartTB starts a server for one test and stops it in tb.Cleanup. A missing
// mariadbd skips the test, or fails it when Required.
func StartTB(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(opts)
	if errors.Is(err, ErrNotInstalled) {
		if Required() {
			tb.Fatalf("%v (required: CI or %s=1 is set)", err, RequireEnv)
		}
		tb.Skipf("skipping: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("mariadbtest: stop: %v", err)
		}
	})
	return s
}

// Main runs a test package against one shared server: it starts the server, stores
// it in *srv, runs m.Run, stops the server and returns the exit code for os.Exit.
// When mariadbd is not installed and not Required, *srv is nil and the tests run
// anyway; those that call Need skip. Any other start failure returns 1 without
// running the tests.
func Main(m *testing.M, opts Options, srv **Server) int {
	*srv = nil
	s, err := Start(opts)
	switch {
	case errors.Is(err, ErrNotInstalled) && !Required():
		fmt.Fprintf(os.Stderr, "mariadbtest: %v; tests that need it will be skipped\n", err)
		return m.Run()
	case err != nil:
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	*srv = s
	code := m.Run()
	*srv = nil
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "mariadbtest: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Need skips the test when s is nil (mariadbd missing), or fails it when Required.
func Need(tb testing.TB, s *Server) {
	tb.Helper()
	if s != nil {
		return
	}
	if Required() {
		tb.Fatalf("mariadbtest: no server: %v (required: CI or %s=1 is set)", ErrNotInstalled, RequireEnv)
	}
	tb.Skipf("skipping: %v", ErrNotInstalled)
}

// DSN returns a go-sql-driver DSN, "user:password@tcp(addr)/db".
func (s *Server) DSN(user, password, db string) string {
	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Passwd = password
	cfg.Net = "tcp"
	cfg.Addr = s.Addr
	cfg.DBName = db
	cfg.TLSConfig = s.tlsName
	return cfg.FormatDSN()
}

// TLSOnly reports whether TCP clients must use TLS (Options.TLSOnly).
func (s *Server) TLSOnly() bool { return s.tlsOnly }

// TLSConfig returns a client TLS configuration that verifies the server (CAFile, 127.0.0.1).
func (s *Server) TLSConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(s.tls.CA)
	if err != nil {
		return nil, fmt.Errorf("mariadbtest: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("mariadbtest: no certificate in the test CA file")
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, nil
}

// Root opens a root connection pool over TCP (127.0.0.1, no password). The caller closes it.
// Root has SUPER, so it still gets in when clients hold every max_connections slot
// (one extra connection): open it before a load test to sample Threads_connected.
func (s *Server) Root() (*sql.DB, error) {
	db, err := sql.Open("mysql", s.DSN(RootUser, "", ""))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupQueryWait)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Exec runs one statement as root (over the unix socket, so it does not count
// against TCP-only checks, though it does count in Threads_connected while it runs).
func (s *Server) Exec(query string) error {
	if s.admin == nil {
		return errors.New("mariadbtest: server not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupQueryWait)
	defer cancel()
	_, err := s.admin.ExecContext(ctx, query)
	return err
}

// PID returns the mariadbd process id (0 before launch).
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Dir returns the server's temporary directory (data/, the socket, error.log);
// Stop removes it.
func (s *Server) Dir() string { return s.dir }

// CAFile returns the PEM file of the authority that signed the server's certificate (for
// 127.0.0.1 and localhost): the server accepts TLS as well as plain clients.
func (s *Server) CAFile() string { return s.tls.CA }

// Socket returns the path of the server's unix socket.
func (s *Server) Socket() string { return s.socket }

// Stop kills the server by PID (SIGTERM, then SIGKILL after a bound), waits for it
// and removes its temporary directory. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	if err := s.killProcess(); err != nil {
		errs = append(errs, err)
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killProcess stops the running mariadbd, if any, and reaps it.
func (s *Server) killProcess() error {
	if s.cmd == nil || s.exited == nil {
		return nil
	}
	defer func() { s.cmd, s.exited = nil, nil }()
	select {
	case <-s.exited:
		return nil // already gone (died on its own; start reported it)
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("mariadbtest: mariadbd (pid %d) ignored SIGTERM for %v; killed", s.cmd.Process.Pid, stopTimeout)
}

var errAddrInUse = errors.New("address in use")

// Environment variables naming the binaries to use instead of searching PATH and
// the usual directories (for custom installs; a path that is not executable
// counts as not installed).
const (
	MariadbdEnv  = "MYSQLMUX_MARIADBD"
	InstallDBEnv = "MYSQLMUX_MARIADB_INSTALL_DB"
)

func findBinaries() (mariadbd, installDB string, err error) {
	if p := os.Getenv(MariadbdEnv); p != "" {
		if !isExecutable(p) {
			return "", "", fmt.Errorf("%w: %s=%s is not executable", ErrNotInstalled, MariadbdEnv, p)
		}
		mariadbd = p
	}
	if p := os.Getenv(InstallDBEnv); p != "" {
		if !isExecutable(p) {
			return "", "", fmt.Errorf("%w: %s=%s is not executable", ErrNotInstalled, InstallDBEnv, p)
		}
		installDB = p
	}
	if mariadbd == "" {
		mariadbd = findExe([]string{"mariadbd", "mysqld"}, []string{"/usr/sbin/mariadbd", "/usr/sbin/mysqld", "/usr/libexec/mariadbd", "/usr/libexec/mysqld"})
	}
	if installDB == "" {
		installDB = findExe([]string{"mariadb-install-db", "mysql_install_db"}, []string{
			"/usr/bin/mariadb-install-db", "/usr/scripts/mariadb-install-db",
			"/usr/bin/mysql_install_db", "/usr/scripts/mysql_install_db",
		})
	}
	switch {
	case mariadbd == "":
		return "", "", fmt.Errorf("%w: mariadbd not found in PATH or /usr/sbin", ErrNotInstalled)
	case installDB == "":
		return "", "", fmt.Errorf("%w: mariadb-install-db not found in PATH, /usr/bin or /usr/scripts", ErrNotInstalled)
	}
	return mariadbd, installDB, nil
}

func findExe(names, paths []string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	for _, p := range paths {
		if isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

const (
	dirPrefix = "mariadbtest-"
	ownerFile = "owner.pid" // PID of the test process that made the directory
)

// makeTempDir creates the server's directory, under /tmp when TMPDIR is too long
// for a unix socket path, after removing directories left by test processes that
// were killed.
func makeTempDir() (string, error) {
	parent := os.TempDir()
	if len(filepath.Join(parent, dirPrefix+"0123456789", "mysqld.sock")) > maxSocketPath {
		parent = "/tmp"
	}
	sweepStale(parent)
	dir, err := os.MkdirTemp(parent, dirPrefix)
	if err != nil {
		return "", fmt.Errorf("mariadbtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("mariadbtest: %w", err)
	}
	return dir, nil
}

// sweepStale removes directories of earlier Starts whose test process is gone
// (killed before Stop ran; Pdeathsig already took their mariadbd down).
func sweepStale(parent string) {
	matches, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"*"))
	for _, dir := range matches {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or still being created
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if !processGone(pid) {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(dir, "mariadbd.pid")); err == nil {
			if spid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && spid > 0 && !processGone(spid) {
				continue // its server outlived the owner: leave it alone
			}
		}
		os.RemoveAll(dir)
	}
}

// commonArgs are given to both mariadb-install-db and mariadbd, after --no-defaults.
func commonArgs(dataDir string) []string {
	args := []string{
		"--datadir=" + dataDir,
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=16M",
		"--innodb-log-buffer-size=4M",
		"--innodb-flush-log-at-trx-commit=0",
		"--innodb-doublewrite=0",
		"--skip-log-bin",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

func (s *Server) dataDir() string  { return filepath.Join(s.dir, "data") }
func (s *Server) errorLog() string { return filepath.Join(s.dir, "error.log") }
func (s *Server) outLog() string   { return filepath.Join(s.dir, "mariadbd.out") }

func (s *Server) installDB(installDB string) error {
	args := append([]string{"--no-defaults"}, commonArgs(s.dataDir())...)
	args = append(args,
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		// Its own temporary directory: a server starting up deletes the #sql temporary files
		// it finds in its tmpdir, including those of another server bootstrapping there.
		"--tmpdir="+s.dir,
	)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, installDB, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadbtest: %s: %v\n%s", installDB, err, tail(out, logTailBytes))
	}
	return nil
}

// launch starts mariadbd on a fresh free port and waits until it accepts
// connections. It returns an error wrapping errAddrInUse when the port was taken
// in the meantime.
func (s *Server) launch(mariadbd string, opts Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	_ = os.Remove(s.errorLog())
	args := append([]string{"--no-defaults"}, commonArgs(s.dataDir())...)
	args = append(args,
		"--bind-address=127.0.0.1",
		"--port="+strconv.Itoa(port),
		"--socket="+s.socket,
		"--pid-file="+filepath.Join(s.dir, "mariadbd.pid"),
		"--log-error="+s.errorLog(),
		"--tmpdir="+s.dir,
		"--performance-schema=OFF",
		"--max-connect-errors=1000000000",
		"--ssl-ca="+s.tls.CA, "--ssl-cert="+s.tls.Cert, "--ssl-key="+s.tls.Key,
	)
	if opts.MaxConnections > 0 {
		args = append(args, "--max-connections="+strconv.Itoa(opts.MaxConnections))
	}
	if opts.TLSOnly {
		args = append(args, "--require-secure-transport=ON")
	}
	args = append(args, opts.ExtraArgs...)

	out, err := os.Create(s.outLog())
	if err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	defer out.Close() // the child keeps its own descriptor
	cmd := exec.Command(mariadbd, args...)
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL, // die with the test binary
		Setpgid:   true,            // a ^C to `go test` reaches us, not the server; Stop ends it
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mariadbtest: starting %s: %w", mariadbd, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(exited chan struct{}) {
		s.werr = cmd.Wait()
		close(exited)
	}(s.exited)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	if err := s.waitReady(); err != nil {
		_ = s.killProcess()
		return err
	}
	return nil
}

func (s *Server) waitReady() error {
	cfg := mysql.NewConfig()
	cfg.User = RootUser
	cfg.Net = "unix"
	cfg.Addr = s.socket
	cfg.Timeout = 2 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for {
		select {
		case <-s.exited:
			db.Close()
			logText := s.readLogs()
			if strings.Contains(logText, "Address already in use") || strings.Contains(logText, "Do you already have another") {
				return fmt.Errorf("mariadbtest: port of %s taken: %w", s.Addr, errAddrInUse)
			}
			return fmt.Errorf("mariadbtest: mariadbd exited during startup (%v)%s", s.werr, s.logTail())
		default:
		}
		if _, err := os.Stat(s.socket); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			lastErr = db.PingContext(ctx)
			cancel()
			if lastErr == nil {
				db.SetMaxIdleConns(2)
				s.admin = db
				return nil
			}
		}
		if time.Now().After(deadline) {
			db.Close()
			return fmt.Errorf("mariadbtest: mariadbd not accepting connections after %v (last error: %v)%s", startTimeout, lastErr, s.logTail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// noBinlog runs f on a root connection that does not write to the binary log.
func (s *Server) noBinlog(f func(ctx context.Context, conn *sql.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupQueryWait)
	defer cancel()
	conn, err := s.admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return err
	}
	// The connection goes back to the admin pool: later statements must reach the binary log.
	defer func() { _, _ = conn.ExecContext(context.Background(), "SET SESSION sql_log_bin = 1") }()
	return f(ctx, conn)
}

// setup creates the test accounts and databases. Each server of a replication set is set up on
// its own: nothing of it goes to a binary log.
func (s *Server) setup() error {
	if err := s.noBinlog(s.createAccounts); err != nil {
		return err
	}
	// Root must work over TCP, as tests use it that way.
	root, err := s.Root()
	if err != nil {
		return fmt.Errorf("root over TCP: %w", err)
	}
	return root.Close()
}

func (s *Server) createAccounts(ctx context.Context, conn *sql.Conn) error {
	// Anonymous users shadow 'app'@'%' for clients on 127.0.0.1: drop them all.
	rows, err := conn.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ''")
	if err != nil {
		return err
	}
	var anonHosts []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		anonHosts = append(anonHosts, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	var stmts []string
	for _, h := range anonHosts {
		stmts = append(stmts, "DROP USER ''@"+quote(h))
	}
	for _, h := range []string{"localhost", "127.0.0.1"} {
		stmts = append(stmts,
			"CREATE USER IF NOT EXISTS 'root'@"+quote(h),
			"ALTER USER 'root'@"+quote(h)+" IDENTIFIED BY ''",
			"GRANT ALL PRIVILEGES ON *.* TO 'root'@"+quote(h)+" WITH GRANT OPTION",
		)
	}
	users := []struct{ name, pw string }{
		{AppUser, AppPassword},
		{OtherUser, OtherPassword},
		{Other2User, OtherPassword},
	}
	for _, u := range users {
		for _, h := range []string{"%", "localhost", "127.0.0.1"} {
			acct := quote(u.name) + "@" + quote(h)
			stmts = append(stmts,
				"CREATE USER IF NOT EXISTS "+acct+" IDENTIFIED BY "+quote(u.pw),
				"GRANT ALL PRIVILEGES ON *.* TO "+acct,
			)
		}
	}
	stmts = append(stmts,
		"CREATE DATABASE IF NOT EXISTS `test`",
		"CREATE DATABASE IF NOT EXISTS `test2`",
		"FLUSH PRIVILEGES",
	)
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// quote makes a single-quoted SQL string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mariadbtest: finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port, nil
}

func (s *Server) readLogs() string {
	var b strings.Builder
	for _, p := range []string{s.errorLog(), s.outLog()} {
		if data, err := os.ReadFile(p); err == nil {
			b.Write(data)
		}
	}
	return b.String()
}

// logTail returns the end of the error log (and stdout/stderr), prefixed for
// appending to an error message.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, p := range []string{s.errorLog(), s.outLog()} {
		data, err := readTail(p, logTailBytes)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n--- tail of %s ---\n%s", p, data)
	}
	return b.String()
}

func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		if _, err := f.Seek(fi.Size()-n, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(f)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
