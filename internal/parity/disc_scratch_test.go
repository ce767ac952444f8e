package parity

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestScratchDiscover(t *testing.T) {
	var known []string
	if b, err := os.ReadFile("/tmp/known.txt"); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				known = append(known, l)
			}
		}
	}
	os.MkdirAll("/tmp/found", 0o755)
	for i := 0; i < 12; i++ {
		capN := 1 + i%2
		rep := Run(t, Options{Proxied: proxied, Direct: direct, Cap: capN, Statements: 20000, Duration: 60 * time.Second,
			Shrink: 4 * time.Minute, MaxFailures: 1, Known: known, Logf: func(string, ...any) {}})
		for _, f := range rep.Failures {
			name := fmt.Sprintf("/tmp/found/%d-%d.case", rep.Seed, f.seq)
			os.WriteFile(name, []byte(f.Case.String()), 0o644)
			t.Logf("FOUND run %d cap %d after %d statements: %s (reproduced %v minimal %v, %d events) -> %s", i, capN, rep.Statements, f.Key, f.Reproduced, f.Minimal, len(f.Case.Events), name)
			known = append(known, f.Key)
			fh, _ := os.OpenFile("/tmp/known.txt", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			fmt.Fprintln(fh, f.Key)
			fh.Close()
		}
		if len(rep.Failures) == 0 {
			t.Logf("NOTHING run %d cap %d: %s", i, capN, rep)
		}
	}
}
