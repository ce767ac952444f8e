package main

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/mysqlmux/mysqlmux/bench"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

var srv *mariadbtest.Server

func TestMain(m *testing.M) {
	if to := os.Getenv(relayEnv); to != "" { // -relay's child: this test binary stands in for mysqlmux-bench
		os.Exit(serveRelay(to, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(mariadbtest.Main(m, mariadbtest.Options{}, &srv))
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestContractCommand runs the command line of CONTRACT.md, after -prepare, and reads its -json.
func TestContractCommand(t *testing.T) {
	mariadbtest.Need(t, srv)
	common := []string{"-addr", srv.Addr, "-user", "app", "-password", "secret", "-db", "test", "-tables", "2", "-table-size", "500"}
	if code, _, stderr := runCLI(append(common, "-prepare")...); code != 0 {
		t.Fatalf("-prepare: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLI(append(common, "-clients", "3", "-duration", "300ms", "-warmup", "0s", "-workload", "point-select", "-json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s bench.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("-json output is not one object: %v\n%s", err, stdout)
	}
	if s.Target != srv.Addr || s.Clients != 3 || s.Connected != 3 || s.QPS <= 0 || s.ErrorCount != 0 {
		t.Errorf("summary %+v", s)
	}

	code, stdout, stderr = runCLI(append(common, "-clients", "2", "-queries", "50", "-workload", "read-only")...)
	if code != 0 || !strings.Contains(stdout, "transactions  50 (") {
		t.Errorf("text output, exit %d:\n%s%s", code, stdout, stderr)
	}
}

// TestRelayChild runs -relay: the relay starts as a child process, is loaded between the direct
// target and the second, sampled by its own pid, and stopped at the end.
func TestRelayChild(t *testing.T) {
	mariadbtest.Need(t, srv)
	common := []string{"-user", "app", "-password", "secret", "-db", "test", "-tables", "2", "-table-size", "500"}
	if code, _, stderr := runCLI(append(common, "-addr", srv.Addr, "-prepare")...); code != 0 {
		t.Fatalf("-prepare: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLI(append(common, "-compare", srv.Addr+","+srv.Addr, "-relay", "-rounds", "1",
		"-clients", "2", "-duration", "300ms", "-warmup", "0s", "-json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sums []bench.Summary
	if err := json.Unmarshal([]byte(stdout), &sums); err != nil {
		t.Fatalf("-json: %v\n%s", err, stdout)
	}
	if len(sums) != 3 || sums[1].Name != "relay" || sums[1].Process == nil || sums[1].Process.PID == os.Getpid() {
		t.Fatalf("want direct, the relay (its own process, sampled), direct: %+v", sums)
	}
	if sums[1].Ops == 0 || sums[1].ErrorCount != 0 || sums[1].Process.ReadsPerQuery < 1 || sums[2].VsFloor == nil {
		t.Errorf("relay %+v; third target against it %+v", sums[1], sums[2].VsFloor)
	}
	if err := syscall.Kill(sums[1].Process.PID, 0); err == nil {
		t.Errorf("the relay (pid %d) still runs after mysqlmux-bench returned", sums[1].Process.PID)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-workload", "nope"}, 1, "-workload: unknown workload"},
		{[]string{"-compare", "a:1,b:2", "-addr", "c:3"}, 1, "give one of them"},
		{[]string{"-compare", "a:1,b:2", "-target-pid", "1,2,3"}, 1, "3 pids for 2 targets"},
		{[]string{"-clients", "0"}, 1, "-clients"},
		{[]string{"-addr", "127.0.0.1:1", "-duration", "1s"}, 1, "connection refused"},
		{[]string{"-no-such-flag"}, 2, "not defined"},
		{[]string{"-clients", "16,x"}, 1, `-clients: bad number "x"`},
		{[]string{"-clients", "16,1000", "-active", "1,2,3", "-workload", "many-clients"}, 1, "-clients: 2 numbers for 3 steps"},
		{[]string{"-clients", "4,5,6", "-fast", "1,2", "-workload", "many-clients"}, 1, "-fast: 2 numbers for 3 steps"},
		{[]string{"-active", "2"}, 1, "only for the many-clients workload"},
		{[]string{"-addr", "127.0.0.1:1,127.0.0.1:2", "-relay"}, 1, "the relay goes to one server"},
		{[]string{"extra"}, 2, "unexpected argument"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
	code, _, stderr := runCLI("-h")
	if code != 0 {
		t.Errorf("-h: exit %d", code)
	}
	for _, w := range bench.Workloads() {
		if !strings.Contains(stderr, "  "+w.Name+" ") {
			t.Errorf("usage lacks workload %s", w.Name)
		}
	}
}

func TestParsePIDs(t *testing.T) {
	for _, c := range []struct {
		in      string
		targets int
		want    []int
	}{
		{"", 2, []int{0, 0}},
		{"42", 3, []int{42, 42, 42}},
		{"1, 0", 2, []int{1, 0}},
	} {
		got, err := parsePIDs(c.in, c.targets)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parsePIDs(%q, %d) = %v, %v; want %v", c.in, c.targets, got, err, c.want)
		}
	}
	for _, bad := range []string{"x", "-1", "1,2"} {
		if _, err := parsePIDs(bad, 3); err == nil {
			t.Errorf("parsePIDs(%q, 3): want an error", bad)
		}
	}
}
