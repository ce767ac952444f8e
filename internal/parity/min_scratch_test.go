package parity

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestScratchMinimize(t *testing.T) {
	files, _ := filepath.Glob("/tmp/min/*.case")
	e, err := newEnv(Options{Proxied: proxied, Direct: direct})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	for _, fn := range files {
		text, _ := os.ReadFile(fn)
		c, err := ParseCase(string(text))
		if err != nil {
			t.Fatal(err)
		}
		f := &Failure{Key: c.Comments[0], Case: c}
		start := time.Now()
		e.minimize(f, time.Now().Add(6*time.Minute), t.Logf)
		t.Logf("%s: reproduced %v minimal %v in %v: %d events", fn, f.Reproduced, f.Minimal, time.Since(start), len(f.Case.Events))
		os.MkdirAll("/tmp/min/out", 0o755)
		os.WriteFile("/tmp/min/out/"+filepath.Base(fn), []byte(f.Case.String()), 0o644)
	}
}
