package parity

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestScratchSmoke(t *testing.T) {
	c, _ := strconv.Atoi(os.Getenv("CAP"))
	rep := Run(t, Options{Proxied: proxied, Direct: direct, Cap: c, Statements: 20000, Shrink: -1, MaxFailures: 200, Duration: 90 * time.Second})
	for _, f := range rep.Failures {
		os.WriteFile("/tmp/disc/"+strconv.FormatUint(rep.Seed, 10)+"-"+strconv.FormatInt(f.seq, 10)+".case", []byte(f.Case.String()), 0o644)
		t.Logf("KEY seq=%d %s", f.seq, f.Key)
	}
}
