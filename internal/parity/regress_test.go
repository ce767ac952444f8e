package parity

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRegressionCases replays every case in testdata/cases (the minimal schedules of failures the
// fuzzer found): each must show no difference and no foreign state.
func TestRegressionCases(t *testing.T) {
	ReplayCases(t, Options{Proxied: proxied, Direct: direct}, filepath.Join("testdata", "cases"))
}

// TestShrinkCase minimises the case file named by MYSQLMUX_PARITY_CASE (a failure the soak printed
// unminimised), for up to MYSQLMUX_PARITY_DURATION (default 10 minutes); it prints the smallest
// case it got to. Without the variable it has nothing to do.
func TestShrinkCase(t *testing.T) {
	file := os.Getenv(EnvCase)
	if file == "" {
		t.Skip(EnvCase + " names no case to minimise")
	}
	shrink, err := envDuration()
	if err != nil {
		t.Fatal(err)
	}
	if shrink == 0 {
		shrink = 10 * time.Minute
	}
	ShrinkCase(t, Options{Proxied: proxied, Direct: direct, Shrink: shrink}, file)
}
