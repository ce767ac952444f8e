// Package parity is a differential fuzzer of the proxy's fidelity. It generates random client
// sessions from a grammar covering every kind of per-connection state MariaDB has (gen.go,
// atoms.go, binary.go), runs many such clients through an in-process proxy at a pool cap of 1 or 2
// and the same script of each client on its own direct connection to a second server started
// with the same options, and compares every outcome: result sets, error codes and SQL states,
// affected rows, last insert ids, warning counts and status flags (outcome.go). Between client
// steps, observers (fresh sessions) probe the backend connections they borrow for state another
// client left (probe.go). A failure is replayed one step at a time and shrunk to a minimal case
// (replay.go, shrink.go) printed in the form of the regression cases in testdata/cases.
package parity

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// Options configure a run.
type Options struct {
	// Proxied is the server behind the proxy; Direct a second server started with the same
	// options, which the direct twins use (the ground truth). They must differ: clients of both
	// sides use the same names.
	Proxied, Direct *mariadbtest.Server
	// DirectTLS, when set, is used by direct connections (for require_secure_transport=ON).
	DirectTLS *tls.Config
	// Configure adjusts the proxy's configuration (backend TLS, …) before it starts.
	Configure func(*config.Config)

	Cap        int           // the pool cap: 1 (default) or 2
	Clients    int           // concurrent clients (default 8)
	Observers  int           // concurrent observers (default Cap + 1)
	Seed       uint64        // 0: MYSQLMUX_PARITY_SEED, else random (printed)
	Statements int64         // stop after this many client statements (0: no limit)
	Duration   time.Duration // stop after this long (0: no limit; one of the two must be set)
	Drops      bool          // clients drop their socket or are KILLed at random (the soak)
	// LongIdles is how many idle gaps over 250 ms (after which the proxy gives back a connection
	// held for warnings or found rows) come in a thousand steps planned (default 15). At a cap of
	// 1, every such gap of a pinned client stalls the others: fewer make a faster soak.
	LongIdles  int
	CheckLeaks bool     // at the end, check nothing grew (see checkLeaks)
	Include    Features // documented exceptions to put in the grammar anyway
	// MaxFailures stops the run after this many distinct failures (default 1).
	MaxFailures int
	// Shrink bounds the time spent minimising each failure (default 3 minutes; negative: none).
	Shrink time.Duration
	// Logf reports progress (default: the test's log).
	Logf func(format string, args ...any)

	// relay puts a plain TCP relay in place of the proxy: the fuzzer's self-check.
	relay bool
}

const defaultLongIdles = 15

// Environment variables that override Options (documented in the README).
const (
	EnvSeed       = "MYSQLMUX_PARITY_SEED"       // the seed of a run
	EnvStatements = "MYSQLMUX_PARITY_STATEMENTS" // the statement budget
	EnvDuration   = "MYSQLMUX_PARITY_DURATION"   // the duration (a Go duration)
	EnvInclude    = "MYSQLMUX_PARITY_INCLUDE"    // features to include, comma-separated
	EnvCase       = "MYSQLMUX_PARITY_CASE"       // a case file for TestShrinkCase to minimise
)

// Report is what a run did and found.
type Report struct {
	Seed                                       uint64
	Cap                                        int
	Statements, Probes, Sessions, Drops, Kills int64
	Elapsed                                    time.Duration
	Failures                                   []*Failure
	Leaks                                      []string
}

func (r Report) String() string {
	return fmt.Sprintf("seed %d, cap %d: %d statements, %d probes, %d sessions, %d drops, %d kills in %v (%.0f statements/s); %d failures, %d leaks",
		r.Seed, r.Cap, r.Statements, r.Probes, r.Sessions, r.Drops, r.Kills, r.Elapsed.Round(time.Millisecond),
		float64(r.Statements)/r.Elapsed.Seconds(), len(r.Failures), len(r.Leaks))
}

func (o *Options) defaults(tb testing.TB) error {
	if v := os.Getenv(EnvSeed); v != "" && o.Seed == 0 {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvSeed, err)
		}
		o.Seed = seed
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64() >> 1
	}
	if v := os.Getenv(EnvStatements); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvStatements, err)
		}
		o.Statements = n
	}
	if d, err := envDuration(); err != nil {
		return err
	} else if d > 0 {
		o.Duration = d
	}
	if v := os.Getenv(EnvInclude); v != "" {
		f, err := ParseFeatures(v)
		if err != nil {
			return err
		}
		o.Include |= f
	}
	if o.Statements <= 0 && o.Duration <= 0 {
		return fmt.Errorf("parity: set Statements or Duration")
	}
	if o.Cap <= 0 {
		o.Cap = 1
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	if o.LongIdles <= 0 {
		o.LongIdles = defaultLongIdles
	}
	if o.Observers <= 0 {
		o.Observers = o.Cap + 1
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 1
	}
	if o.Shrink == 0 {
		o.Shrink = 3 * time.Minute
	}
	if o.Logf == nil {
		o.Logf = tb.Logf
	}
	return nil
}

// Run runs the fuzzer: it reports each failure (with its minimal case) and each leak as a test
// error, and returns the report.
func Run(tb testing.TB, o Options) Report {
	tb.Helper()
	mariadbtest.Need(tb, o.Proxied)
	mariadbtest.Need(tb, o.Direct)
	if o.Proxied == o.Direct {
		tb.Fatal("parity: Proxied and Direct must be two servers")
	}
	if err := o.defaults(tb); err != nil {
		tb.Fatal(err)
	}
	rep := Report{Seed: o.Seed, Cap: o.Cap}
	o.Logf("parity: seed %d (%s=%d replays this run), cap %d, %d clients, %d observers, include %q",
		o.Seed, EnvSeed, o.Seed, o.Cap, o.Clients, o.Observers, o.Include.String())
	e, err := newEnv(o)
	if err != nil {
		tb.Fatal(err)
	}
	defer e.close()
	r := newRunner(e, o)
	if err := e.fixture(r.ids); err != nil {
		tb.Fatal(err)
	}
	if err := e.startProxy(o.Cap, runAcquire); err != nil {
		tb.Fatal(err)
	}
	before, err := e.usage()
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	quarter := r.sampleQuarter()
	r.run()
	atQuarter := <-quarter
	rep.Elapsed = time.Since(start)
	rep.Statements, rep.Probes, rep.Sessions = r.statements.Load(), r.probes.Load(), r.sessions.Load()
	rep.Drops, rep.Kills, rep.Failures = r.drops.Load(), r.kills.Load(), r.failed()
	if r.infra != nil {
		tb.Fatalf("parity: the run broke down: %v (%s)", r.infra, rep)
	}
	if o.CheckLeaks && e.inst != nil {
		rep.Leaks = e.checkLeaks(before, atQuarter)
	}
	e.stopProxy()
	for _, f := range rep.Failures {
		if o.Shrink > 0 {
			e.minimize(f, time.Now().Add(o.Shrink), o.Logf)
		}
		f.Case.Comments = append(f.Case.Comments, caseComment(f, rep)...)
		tb.Errorf("%s, save as testdata/cases/NAME.case:\n%s", f.report(), f.Case)
	}
	for _, l := range rep.Leaks {
		tb.Errorf("parity: leak after the run: %s", l)
	}
	o.Logf("parity: %s", rep)
	return rep
}

func caseComment(f *Failure, rep Report) []string {
	return []string{f.Key, fmt.Sprintf("found by seed %d at cap %d after %d statements", rep.Seed, rep.Cap, rep.Statements)}
}

// sampleQuarter measures usage once a quarter of the budget (statements or time) has run.
func (r *runner) sampleQuarter() <-chan usage {
	ch := make(chan usage, 1)
	go func() {
		start := time.Now()
		for {
			time.Sleep(100 * time.Millisecond)
			byCount := r.o.Statements > 0 && r.statements.Load() >= r.o.Statements/4
			byTime := r.o.Duration > 0 && time.Since(start) >= r.o.Duration/4
			if byCount || byTime || r.ctx.Err() != nil {
				u, _ := r.e.usage()
				ch <- u
				return
			}
		}
	}()
	return ch
}

// ShrinkCase replays the case in file and minimises its first failure, for up to o.Shrink: for a
// case the run's own shrinking left unminimised when its time ran out. It fails with the smallest
// case it got to, or when the case shows no failure at all.
func ShrinkCase(t *testing.T, o Options, file string) {
	t.Helper()
	mariadbtest.Need(t, o.Proxied)
	mariadbtest.Need(t, o.Direct)
	c := readCase(t, file)
	e, err := newEnv(o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	failures, err := e.replay(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(failures) == 0 {
		t.Fatalf("%s: the replay shows no failure", file)
	}
	f := failures[0]
	f.Case = c
	e.minimize(f, time.Now().Add(o.Shrink), t.Logf)
	f.Case.Comments = c.Comments
	t.Errorf("%s:\n%s", f.report(), f.Case)
}

// report introduces a failure's case: what differed, and how far the case was shrunk.
func (f *Failure) report() string {
	return fmt.Sprintf("parity: %s\n%s\n%s case (reproduced: %v, minimal: %v)",
		f.Key, f.Detail, map[bool]string{true: "minimal", false: "unminimised"}[f.Minimal], f.Reproduced, f.Minimal)
}

// envDuration is MYSQLMUX_PARITY_DURATION, 0 when unset.
func envDuration() (time.Duration, error) {
	v := os.Getenv(EnvDuration)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", EnvDuration, err)
	}
	return d, nil
}

// readCase reads and parses a case file.
func readCase(t *testing.T, file string) *Case {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCase(string(text))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

// ReplayCases replays every case file (NAME.case) in dir, each as a subtest that fails on every
// difference or foreign-state sighting the replay shows.
func ReplayCases(t *testing.T, o Options, dir string) {
	t.Helper()
	mariadbtest.Need(t, o.Proxied)
	mariadbtest.Need(t, o.Direct)
	files, err := filepath.Glob(filepath.Join(dir, "*.case"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("parity: no cases in %s", dir)
	}
	e, err := newEnv(o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".case"), func(t *testing.T) {
			failures, err := e.replay(readCase(t, f))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, fl := range failures {
				if !seen[fl.Key] {
					seen[fl.Key] = true
					t.Errorf("%s\n%s", fl.Key, fl.Detail)
				}
			}
		})
	}
}
