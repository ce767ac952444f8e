package parity

import (
	"testing"
	"time"
)

func TestScratchSelf(t *testing.T) {
	Run(t, Options{Proxied: proxied, Direct: direct, Cap: 1, Clients: 16, Statements: 20000, Shrink: -1, MaxFailures: 30, Duration: 90 * time.Second, relay: true, Drops: true})
}
