//go:build parity

package parity

import (
	"os"
	"testing"
)

// TestSoak is `make parity` (build tag parity, outside the -race run): 1,000,000 client
// statements, half at a pool cap of 1 and half at 2, with clients dropping their socket and being
// KILLed at random; at the end of each half, no goroutine, file descriptor, backend connection or
// memory may have grown. On two shared cores it takes about half an hour.
func TestSoak(t *testing.T) {
	const total = 1_000_000
	var statements int64
	for _, capN := range []int{1, 2} {
		// A third of the long idle gaps of CI: each one of a pinned client stalls a cap of 1.
		rep := Run(t, Options{Proxied: proxied, Direct: direct, Cap: capN, Clients: 16, Statements: total / 2,
			LongIdles: defaultLongIdles / 3, Drops: true, CheckLeaks: true})
		statements += rep.Statements
		if len(rep.Failures) > 0 {
			return
		}
	}
	t.Logf("parity soak: %d client statements", statements)
	if os.Getenv(EnvDuration) == "" && os.Getenv(EnvStatements) == "" && statements < total {
		t.Errorf("the soak ran %d client statements, fewer than %d", statements, total)
	}
}
