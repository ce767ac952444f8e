package fdlimit

import (
	"syscall"
	"testing"

	"github.com/mysqlmux/mysqlmux/config"
)

func TestNeed(t *testing.T) {
	cfg := config.Defaults()
	cfg.Proxy.MaxClientConnections = 1000
	cfg.Pool.MaxConnections = 20
	cfg.Backends = []config.BackendConfig{{Address: "127.0.0.1:3306"}, {Address: "127.0.0.1:3307", MaxConnections: 5}}
	if got, want := BackendCaps(&cfg), uint64(25); got != want {
		t.Errorf("BackendCaps = %d, want %d", got, want)
	}
	if got, want := Need(&cfg), uint64(1000+25+Reserve); got != want {
		t.Errorf("Need = %d, want %d", got, want)
	}
}

// TestRaise lowers the soft limit in this test process, then checks Raise puts it back at the
// hard limit. The test binary is its own process, so nothing else is affected.
func TestRaise(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	if orig.Max < 256 {
		t.Skipf("hard limit %d too low to lower the soft limit safely", orig.Max)
	}
	low := syscall.Rlimit{Cur: 256, Max: orig.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
	lim, err := Raise()
	if err != nil {
		t.Fatal(err)
	}
	if lim.Soft != orig.Max || lim.Hard != orig.Max {
		t.Errorf("Raise = %+v, want soft and hard %d", lim, orig.Max)
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if now.Cur != orig.Max {
		t.Errorf("soft limit after Raise = %d, want %d", now.Cur, orig.Max)
	}
}
