package parity

import (
	"path/filepath"
	"testing"
)

// TestRegressionCases replays every case in testdata/cases (the minimal schedules of failures the
// fuzzer found): each must show no difference and no foreign state.
func TestRegressionCases(t *testing.T) {
	ReplayCases(t, Options{Proxied: proxied, Direct: direct}, filepath.Join("testdata", "cases"))
}
