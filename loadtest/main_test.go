//go:build load

// Package loadtest holds the load tests: thousands of real client connections through the proxy
// built as its own process, against a throwaway MariaDB. They run outside the -race run (the race
// detector caps a process at 8128 goroutines): `make test-load`.
package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"log"
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

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// db is MariaDB with max_connections=40, as the core issue's load test asks.
var db *mariadbtest.Server

// bin is the mysqlmux binary built for this run.
var bin string

func TestMain(m *testing.M) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	// The direct run is refused ~2000 times; go-sql-driver would log every reset.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	dir, err := os.MkdirTemp("", "mysqlmux-loadtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "mysqlmux")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/mysqlmux").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mysqlmux: %v\n%s", err, out)
		os.Exit(1)
	}
	code := mariadbtest.Main(m, mariadbtest.Options{MaxConnections: 40}, &db)
	os.RemoveAll(dir)
	os.Exit(code)
}

// proxyProc is a mysqlmux process started by a test.
type proxyProc struct {
	cmd      *exec.Cmd
	addr     string
	stopOnce sync.Once
}

// startProxy writes a config for a proxy in front of db with the given pool cap and starts the
// binary; the process is stopped (SIGTERM, by PID) in t.Cleanup.
func startProxy(t *testing.T, cap int, extra string) *proxyProc {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	return startProxyTOML(t, addr, fmt.Sprintf(`[proxy]
listen = %q
max_client_connections = 10000
[pool]
max_connections = %d
acquire_timeout = "60s"
%s
[[backends]]
address = %q
[[users]]
name = "app"
password = "secret"
`, addr, cap, extra, db.Addr))
}

// startProxyTOML starts the binary with the configuration toml, listening on addr; the process
// is stopped in t.Cleanup if the test has not stopped it.
func startProxyTOML(t *testing.T, addr, toml string) *proxyProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mysqlmux.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", path, "-log-level", "warn")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proxyProc{cmd: cmd, addr: addr}
	t.Cleanup(func() { p.stop(t) })
	waitListening(t, addr)
	return p
}

// stop ends the process (SIGTERM, by PID) and waits for it.
func (p *proxyProc) stop(t *testing.T) {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("mysqlmux exited with %v after SIGTERM", err)
			}
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			t.Error("mysqlmux did not stop within 20s of SIGTERM")
		}
	})
}

// statusKB reads a field such as VmRSS or VmHWM from /proc/PID/status, in KiB.
func statusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
