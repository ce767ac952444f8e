package parity

import (
	"fmt"
	"testing"
	"time"
)

// The CI budget (issue 8): 50,000 client statements through the proxy, half at a pool cap of 1 and
// half at 2, each compared with its direct twin, observers probing between them. The run stops at
// the first failure, shrinks it and prints the minimal case. MYSQLMUX_PARITY_SEED replays a run;
// MYSQLMUX_PARITY_STATEMENTS and MYSQLMUX_PARITY_DURATION change the budget.
const (
	ciStatements = 25000            // per cap
	ciDuration   = 55 * time.Second // per cap, should the machine be slow: the run then ends early
	ciShrink     = time.Minute      // per failure: CI prints the smallest case it got to by then
)

func TestParity(t *testing.T) {
	if testing.Short() {
		t.Skip("the parity budget does not run with -short")
	}
	for _, capN := range []int{1, 2} {
		t.Run(fmt.Sprintf("cap%d", capN), func(t *testing.T) {
			rep := Run(t, Options{Proxied: proxied, Direct: direct, Cap: capN, Statements: ciStatements, Duration: ciDuration,
				Shrink: ciShrink})
			if len(rep.Failures) == 0 && rep.Statements < ciStatements {
				t.Logf("parity: only %d of %d statements within %v (a loaded machine?)", rep.Statements, ciStatements, ciDuration)
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
