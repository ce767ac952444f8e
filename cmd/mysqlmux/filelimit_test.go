package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFileLimitWarning runs the proxy with a configuration that fits the open-files limit (no
// warning before it listens), then reloads one allowing more clients than any limit (a warning
// naming the figures), then stops it.
func TestFileLimitWarning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mysqlmux.toml")
	write := func(maxClients int) {
		// 127.0.0.1:1 refuses at once: the proxy starts without a server behind it.
		body := fmt.Sprintf("[proxy]\nlisten = \"127.0.0.1:0\"\nmax_client_connections = %d\n"+
			"[[backends]]\naddress = \"127.0.0.1:1\"\n[[users]]\nname = \"app\"\npassword = \"secret\"\n", maxClients)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(100)
	cmd := mainCommand("-config", path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		for range lines { // drain so the proxy never blocks on a full pipe
		}
		_ = cmd.Wait()
	})
	// waitFor returns the lines logged before the first containing want.
	waitFor := func(want string) []string {
		t.Helper()
		var before []string
		deadline := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("proxy exited before logging %q; it logged:\n%s", want, strings.Join(before, "\n"))
				}
				if strings.Contains(l, want) {
					return before
				}
				before = append(before, l)
			case <-deadline:
				t.Fatalf("no %q within 60 s; logged:\n%s", want, strings.Join(before, "\n"))
			}
		}
	}
	for _, l := range waitFor("mysqlmux listening") {
		if strings.Contains(l, "open-files limit") {
			t.Errorf("warning for 100 clients: %s", l)
		}
	}
	write(1 << 30)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("open-files limit too low")
}
