package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// pythonDrivers runs testdata/pydrivers.py against addr and returns what it printed, step by
// step. Debian's python3 with python3-pymysql and python3-mysqldb (scripts/install-mariadb.sh
// installs them); missing, the test fails under CI and skips otherwise.
func pythonDrivers(t *testing.T, addr string) map[string]string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/pydrivers.py", host, port,
		mariadbtest.AppUser, mariadbtest.AppPassword, "test")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "ModuleNotFoundError") || strings.Contains(err.Error(), "no such file") {
			if mariadbtest.Required() {
				t.Fatalf("python drivers missing (scripts/install-mariadb.sh installs them): %v\n%s", err, stderr.String())
			}
			t.Skipf("python drivers missing: %v", err)
		}
		t.Fatalf("pydrivers.py against %s: %v\n%s", addr, err, stderr.String())
	}
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Driver, Step string
			Value        any
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("pydrivers.py printed %q: %v", sc.Text(), err)
		}
		got[r.Driver+": "+r.Step] = fmt.Sprint(r.Value)
	}
	return got
}

// TestPythonDrivers: PyMySQL and mysqlclient (apps connect with autocommit off and read
// get_autocommit() from the last OK packet's status flags) see through the proxy what they see
// directly; a statement over max_allowed_packet gets the error where the driver expects it, not
// a broken packet sequence.
func TestPythonDrivers(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 2)
	cfg.Proxy.MaxAllowedPacket = 16 << 20 // the server's default, so the oversized step is refused by the proxy
	in := proxytest.Start(t, cfg)
	direct, proxied := pythonDrivers(t, db.Addr), pythonDrivers(t, in.Addr())
	if len(direct) == 0 {
		t.Fatal("pydrivers.py reported nothing")
	}
	for step, want := range direct {
		got := proxied[step]
		if strings.HasSuffix(step, "oversized statement") {
			// Directly the server may reset the connection before the client reads its error;
			// through the proxy the client must get ERROR 1153 (PyMySQL raised "Packet sequence
			// number wrong" when it came with sequence id 1).
			if code, err := strconv.Atoi(got); err != nil || code != 1153 && code != 2006 && code != 2013 {
				t.Errorf("%s: through the proxy %q, want ERROR 1153", step, got)
			}
			continue
		}
		if got != want {
			t.Errorf("%s: through the proxy %q, directly %q", step, got, want)
		}
	}
}

// TestMariadbCLIShowWarnings: the mariadb client with --show-warnings runs SHOW WARNINGS itself
// after each statement that has warnings; a script's own SHOW WARNINGS after that prints the same
// rows again, through the proxy as directly (it printed nothing: the proxy took the first SHOW
// WARNINGS for the end of the warnings).
func TestMariadbCLIShowWarnings(t *testing.T) {
	mariadbtest.Need(t, db)
	cli, err := exec.LookPath("mariadb")
	if err != nil {
		if mariadbtest.Required() {
			t.Fatal("the mariadb client is missing (scripts/install-mariadb.sh installs it)")
		}
		t.Skip("no mariadb client")
	}
	in := proxytest.Start(t, proxytest.Config(db, 1))
	script := "SELECT CAST('1x' AS SIGNED) AS a; SHOW WARNINGS; SELECT @@warning_count; SHOW COUNT(*) WARNINGS;"
	run := func(addr string) string {
		host, port, _ := strings.Cut(addr, ":")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cli, "--show-warnings", "--table", "-h", host, "-P", port,
			"-u"+mariadbtest.AppUser, "-p"+mariadbtest.AppPassword, "test", "-e", script).CombinedOutput()
		if err != nil {
			t.Fatalf("mariadb against %s: %v\n%s", addr, err, out)
		}
		return string(out)
	}
	if got, want := run(in.Addr()), run(db.Addr); got != want {
		t.Errorf("mariadb --show-warnings through the proxy:\n%s\ndirectly:\n%s", got, want)
	}
}
