package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the tests run this binary's main: with MYSQLMUX_RUN_MAIN=1 the test binary is
// mysqlmux itself.
func TestMain(m *testing.M) {
	if os.Getenv("MYSQLMUX_RUN_MAIN") == "1" {
		os.Args = append([]string{"mysqlmux"}, os.Args[2:]...) // drop the -test.run marker
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// mysqlmux runs this binary's main with args and returns its output, stdout then stderr, and
// its exit status.
func mysqlmux(t *testing.T, args ...string) (string, int) {
	t.Helper()
	stdout, stderr, code := runMain(t, args...)
	return stdout + stderr, code
}

// mainCommand returns a command that runs this binary's main with args. Under -race a process
// sleeps a second at exit unless told otherwise; these tests start many.
func mainCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), "MYSQLMUX_RUN_MAIN=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	return cmd
}

// runMain runs this binary's main with args and returns what it wrote to stdout and to stderr,
// and its exit status.
func runMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := mainCommand(args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := "[[backends]]\naddress = \"127.0.0.1:3306\"\n[[users]]\nname = \"app\"\npassword = \"secret\"\n"
	cases := []struct {
		name, body string
		code       int
		want       string
	}{
		{"valid", base, 0, "configuration is valid"},
		{"example", "", 0, "configuration is valid"},
		{"replicas example", "", 0, "configuration is valid"},
		{"cap zero", "[pool]\nmax_connections = 0\n" + base, 1, "pool.max_connections"},
		{"unknown key", "[proxy]\nlisen = \"x\"\n" + base, 1, "proxy.lisen"},
		{"syntax", "[proxy\n" + base, 1, "(line 2)"},
		{"bad duration", "[pool]\nacquire_timeout = \"ten\"\n" + base, 1, "pool.acquire_timeout"},
	}
	for _, c := range cases {
		path := "../../examples/mysqlmux.toml"
		if c.name == "replicas example" {
			path = "../../examples/replicas.toml"
		} else if c.name != "example" {
			path = write(strings.ReplaceAll(c.name, " ", "_")+".toml", c.body)
		}
		out, code := mysqlmux(t, "-config", path, "-check")
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, output %q; want exit %d mentioning %q", c.name, code, out, c.code, c.want)
		}
	}
	if out, code := mysqlmux(t, "-check"); code != 2 || !strings.Contains(out, "-config") {
		t.Errorf("without -config: exit %d, %q", code, out)
	}
}
