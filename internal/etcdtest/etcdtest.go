// Package etcdtest starts throwaway etcd servers for tests and the fleet demo: one member,
// listening on 127.0.0.1 on free ports, with a temporary data directory, as its own process
// (so a test can stop it, kill it, and start it again on the same ports and data).
//
// The server is etcd's own (go.etcd.io/etcd/server/v3/embed v3.7.3, the version of the client
// the proxy uses), built from ./etcdserver with the go command on first use and kept in the
// temporary directory under a name that changes with its source and go.sum. Only the Go module
// proxy is needed, as for the rest of the build. When it cannot be built, tests skip, unless
// mariadbtest.Required() (CI, MYSQLMUX_REQUIRE_MARIADB=1): then they fail.
package etcdtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

const (
	serverPkg    = "github.com/mysqlmux/mysqlmux/internal/etcdtest/etcdserver"
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
)

// ErrNotBuilt is returned (wrapped) by Start when the etcd server cannot be built.
var ErrNotBuilt = errors.New("etcdtest: cannot build the etcd server")

// Options configure a server.
type Options struct {
	// TLS serves clients over https with a certificate from a test authority (CAFile).
	TLS bool
}

// Server is a running throwaway etcd.
type Server struct {
	Endpoint string // "127.0.0.1:PORT", or "https://127.0.0.1:PORT" with TLS

	bin     string
	dir     string
	client  string // host:port of the client listener, kept across restarts
	peer    string
	tls     mariadbtest.TLSFiles
	opts    Options
	cmd     *exec.Cmd
	exited  chan struct{}
	logFrom int64 // where the last launch's log begins in etcd.log
}

// Binary returns the path of the etcd server binary, building it when needed.
func Binary() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range []string{"internal/etcdtest/etcdserver/main.go", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrNotBuilt, err)
		}
		h.Write(data)
	}
	bin := filepath.Join(os.TempDir(), "mysqlmux-etcdserver-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp := bin + "." + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, serverPkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: go build %s: %v\n%s", ErrNotBuilt, serverPkg, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil { // atomic: concurrent builders each rename a whole file
		return "", fmt.Errorf("%w: %v", ErrNotBuilt, err)
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("%w: go env GOMOD: %v", ErrNotBuilt, err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("%w: not inside the mysqlmux module", ErrNotBuilt)
	}
	return filepath.Dir(mod), nil
}

// Start builds (if needed) and starts a server on free loopback ports. The caller must Stop it.
func Start(opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mysqlmux-etcdtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, opts: opts}
	if opts.TLS {
		if s.tls, err = mariadbtest.WriteTLSFiles(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		if s.client, err = freeAddr(); err == nil {
			s.peer, err = freeAddr()
		}
		if err == nil {
			err = s.launch()
		}
		if err == nil {
			return s, nil
		}
		if attempt == 3 { // a port taken between the look and the bind
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// StartTB starts a server for one test and stops it in tb.Cleanup. A server that cannot be
// built skips the test, or fails it when mariadbtest.Required().
func StartTB(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(opts)
	if errors.Is(err, ErrNotBuilt) && !mariadbtest.Required() {
		tb.Skipf("skipping: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("etcdtest: %v", err)
		}
		os.RemoveAll(s.dir)
	})
	return s
}

func (s *Server) launch() error {
	// Info level: the log is read only when a start fails, and then it says where etcd waited.
	args := []string{"-data-dir", filepath.Join(s.dir, "data"), "-client", s.client, "-peer", s.peer, "-log-level", "info"}
	s.Endpoint = s.client
	if s.opts.TLS {
		args = append(args, "-cert", s.tls.Cert, "-key", s.tls.Key)
		s.Endpoint = "https://" + s.client
	}
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child keeps its own descriptor
	if fi, err := logf.Stat(); err == nil {
		s.logFrom = fi.Size()
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("etcdtest: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	// The waiter has its own signal: with both receiving from ready, the waiter could take the
	// answer, and a server ready in a second was waited for startTimeout.
	ready, scanned := make(chan bool, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		ready <- sc.Scan() && sc.Text() == "ready"
		close(scanned)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func(cmd *exec.Cmd, exited chan struct{}) {
		<-scanned // Wait closes stdout: let the reader see "ready" first
		_ = cmd.Wait()
		close(exited)
	}(cmd, s.exited)
	why := "exited before it was ready"
	select {
	case ok := <-ready:
		if ok {
			return nil
		}
	case <-time.After(startTimeout):
		why = fmt.Sprintf("not ready after %v", startTimeout)
	}
	_ = s.Stop()
	return fmt.Errorf("etcdtest: etcd on %s (peer %s) %s%s", s.client, s.peer, why, s.logTail())
}

// Stop ends the server (SIGTERM by PID, SIGKILL after 20 s) and waits for it; the data
// directory stays for Restart.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil }()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("etcd (pid %d) ignored SIGTERM for %v; killed", s.cmd.Process.Pid, stopTimeout)
}

// Restart starts a stopped server again on the same ports, with the same data.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return errors.New("etcdtest: Restart of a running server")
	}
	return s.launch()
}

// PID is the server's process id (0 when stopped).
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// CAFile is the test authority that signed the server's certificate (with Options.TLS).
func (s *Server) CAFile() string { return s.tls.CA }

// Client returns a client of the server, closed in tb.Cleanup.
func (s *Server) Client(tb testing.TB) *clientv3.Client {
	tb.Helper()
	conf, err := (&config.ClusterConfig{Endpoints: []string{s.Endpoint}, TLSCA: s.tls.CA}).ClientTLS()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second, TLS: conf, Logger: zap.NewNop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Get(ctx, "health"); err != nil {
		tb.Fatalf("etcdtest: %v", err)
	}
	return c
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "etcd.log") }

// logTail is what the last launched process logged (its last 32 KiB): at info level, enough
// for a start's election and publish attempts.
func (s *Server) logTail() string {
	data, err := os.ReadFile(s.logPath())
	if err != nil || int64(len(data)) <= s.logFrom {
		return ""
	}
	data = data[s.logFrom:]
	if len(data) > 32<<10 {
		data = data[len(data)-32<<10:]
	}
	return "\n--- " + s.logPath() + " of this start ---\n" + string(data)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("etcdtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
