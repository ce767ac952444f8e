package parity

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// The CI budget (issue 8): 50,000 client statements through the proxy, 20,000 at a pool cap of 1
// and 30,000 at 2 (a cap of 1 runs at about half the pace), each compared with its direct twin,
// observers probing between them, from fixed seeds (MYSQLMUX_PARITY_SEED runs another;
// MYSQLMUX_PARITY_STATEMENTS and MYSQLMUX_PARITY_DURATION change the budget). Any difference from
// the direct twin fails CI, as does another client's state seen by an observer, a connection
// lost or never lent (ERROR 9001) only through the proxy, a login refused, and every saved
// regression case. Under the race detector (make test's go test -race ./...) it runs a tenth of
// the budget, a check for data races under the fuzzer's load; make test-parity runs it whole,
// without the detector.
var ciBudget = map[int]struct {
	seed       uint64
	statements int64
}{
	1: {seed: 104, statements: 20000},
	2: {seed: 102, statements: 30000},
}

const (
	ciDuration = 55 * time.Second // per cap, should the machine be slow: the run then ends early
	ciShrink   = time.Minute      // per failure: CI prints the smallest case it got to by then
)

// ciSeed is seed unless MYSQLMUX_PARITY_SEED asks for another.
func ciSeed(seed uint64) uint64 {
	if os.Getenv(EnvSeed) != "" {
		return 0 // Options.defaults reads it
	}
	return seed
}

// runCI runs a CI budget: every difference and every foreign state fails it.
func runCI(t *testing.T, o Options) Report {
	t.Helper()
	rep := Run(t, o)
	t.Logf("parity: %d statements, %d failures", rep.Statements, len(rep.Failures))
	return rep
}

func TestParity(t *testing.T) {
	if testing.Short() {
		t.Skip("the parity budget does not run with -short")
	}
	for _, capN := range []int{1, 2} {
		t.Run(fmt.Sprintf("cap%d", capN), func(t *testing.T) {
			b := ciBudget[capN]
			if raceBuild {
				b.statements /= 10
			}
			// As the soak: 16 clients, a third of the long idle gaps (each one of a pinned
			// client stalls a cap of 1), for the budget within the bound.
			rep := runCI(t, Options{Proxied: proxied, Direct: direct, Cap: capN, Seed: ciSeed(b.seed), Statements: b.statements,
				Duration: ciDuration, Shrink: ciShrink, Clients: 16, LongIdles: defaultLongIdles / 3})
			if len(rep.Failures) == 0 && rep.Statements < b.statements {
				t.Logf("parity: only %d of %d statements within %v (a loaded machine?)", rep.Statements, b.statements, ciDuration)
			}
		})
	}
}

// TestFuzzerFindsNothingBehindARelay checks the fuzzer itself: behind a plain TCP relay (every
// client its own server connection: perfect fidelity) the same grammar, drops and KILLs included,
// must show no difference and no foreign state. A failure here is a bug of the fuzzer (a
// nondeterministic statement, a wrong comparison), not of the proxy.
func TestFuzzerFindsNothingBehindARelay(t *testing.T) {
	if testing.Short() {
		t.Skip("does not run with -short")
	}
	rep := Run(t, Options{Proxied: proxied, Direct: direct, Clients: 12, Statements: 10000, Duration: 40 * time.Second,
		Drops: true, Shrink: time.Minute, relay: true})
	if rep.Drops+rep.Kills == 0 {
		t.Errorf("no client dropped or was killed in %d statements", rep.Statements)
	}
}
