//go:build parity

package parity

import (
	"os"
	"testing"
	"time"
)

// TestSoak is `make parity` (build tag parity, outside the -race run): a 10-minute soak, half at a
// pool cap of 1 and half at 2, with clients dropping their socket and being KILLed at random; at
// the end of each half, no goroutine, file descriptor, backend connection or memory may have
// grown. With the default budget it must run at least 1,000,000 client statements.
func TestSoak(t *testing.T) {
	const total = 10 * time.Minute
	half := total / 2
	if os.Getenv(EnvDuration) != "" {
		half = 0 // Run reads the duration from the environment
	}
	var statements int64
	for _, capN := range []int{1, 2} {
		// A third of the long idle gaps of CI: each one of a pinned client stalls a cap of 1.
		rep := Run(t, Options{Proxied: proxied, Direct: direct, Cap: capN, Clients: 16, Duration: half,
			LongIdles: defaultLongIdles / 3, Drops: true, CheckLeaks: true})
		statements += rep.Statements
		if len(rep.Failures) > 0 {
			return
		}
	}
	t.Logf("parity soak: %d client statements", statements)
	if os.Getenv(EnvDuration) == "" && os.Getenv(EnvStatements) == "" && statements < 1_000_000 {
		t.Errorf("the soak ran %d client statements, fewer than 1,000,000", statements)
	}
}
