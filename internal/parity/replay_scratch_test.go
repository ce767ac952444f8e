package parity

import "testing"

func TestScratchReplay(t *testing.T) {
	ReplayCases(t, Options{Proxied: proxied, Direct: direct}, "/tmp/cases")
}
