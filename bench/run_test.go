package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// srv is the package's MariaDB: the harness is tested against it directly, no proxy needed.
var srv *mariadbtest.Server

func TestMain(m *testing.M) {
	os.Exit(mariadbtest.Main(m, mariadbtest.Options{}, &srv))
}

// testConfig returns a small configuration for srv, with its tables prepared.
func testConfig(t *testing.T, workload string) Config {
	t.Helper()
	mariadbtest.Need(t, srv)
	c := DefaultConfig()
	c.Targets = []Target{{Addr: srv.Addr}}
	c.User, c.Password = mariadbtest.AppUser, mariadbtest.AppPassword
	c.Workload, c.Clients, c.Duration, c.Warmup = workload, 4, 0, 0
	c.Tables, c.TableSize, c.ResultRows = 2, 1000, 3000
	if err := Prepare(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func runOne(t *testing.T, c Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// globalStatus reads a counter of SHOW GLOBAL STATUS.
func globalStatus(t *testing.T, name string) int64 {
	t.Helper()
	root, err := srv.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var n string
	var v int64
	if err := root.QueryRow("SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestQueryCountExact(t *testing.T) {
	for _, wl := range []string{"point-select", "prepared", "orm-mix"} {
		t.Run(wl, func(t *testing.T) {
			c := testConfig(t, wl)
			c.Queries = 1000
			executes := globalStatus(t, "Com_stmt_execute")
			r := runOne(t, c)
			rd := r.Rounds[0]
			if rd.Ops != 1000 || rd.Queries != 1000 || r.Latency.Count() != 1000 || r.Errors.Total() != 0 {
				t.Errorf("ops %d, queries %d, latencies %d, errors %v; want 1000, 1000, 1000, none",
					rd.Ops, rd.Queries, r.Latency.Count(), r.Errors)
			}
			if rd.Connected != 4 || r.Connect.Count() != 4 {
				t.Errorf("connected %d, connects %d; want 4, 4", rd.Connected, r.Connect.Count())
			}
			// The server saw exactly as many executions as the harness counted.
			if wl == "prepared" {
				if got := globalStatus(t, "Com_stmt_execute") - executes; got != 1000 {
					t.Errorf("server counted %d COM_STMT_EXECUTE, want 1000", got)
				}
			}
		})
	}
}

func TestTransactions(t *testing.T) {
	for _, c := range []struct {
		workload string
		perTxn   int64
	}{{"read-only", 12}, {"read-write", 16}} {
		t.Run(c.workload, func(t *testing.T) {
			cfg := testConfig(t, c.workload)
			cfg.Queries = 100
			r := runOne(t, cfg)
			rd := r.Rounds[0]
			// read-write may meet a deadlock (1213) among 4 clients: those count as errors.
			if rd.Ops+r.Errors.Total() != 100 || rd.Queries != rd.Ops*c.perTxn || rd.Ops < 90 {
				t.Errorf("transactions %d, errors %v, queries %d; want 100 in all, %d queries each",
					rd.Ops, r.Errors, rd.Queries, c.perTxn)
			}
			if s := r.summary(); s.TPS <= 0 || math.Abs(s.QPS-s.TPS*float64(c.perTxn)) > 1e-6*s.QPS {
				t.Errorf("qps %.1f, tps %.1f", s.QPS, s.TPS)
			}
		})
	}
}

// TestErrorsByCode runs a workload whose every query hits a missing table: each is counted under
// 1146, and the connection, still usable, is kept.
func TestErrorsByCode(t *testing.T) {
	c := testConfig(t, "point-select")
	c.Queries = 200
	w := workload{name: "missing-table", interpolate: true, do: func(ctx context.Context, s *session, _ *tally) error {
		var id int
		return s.conn.QueryRowContext(ctx, "SELECT id FROM no_such_table WHERE id=?", s.id()).Scan(&id)
	}}
	res := &Result{Errors: Errors{}}
	if err := runRound(context.Background(), &c, &w, newPlan(&c), c.Targets[0], res, ""); err != nil {
		t.Fatal(err)
	}
	e := res.Errors["1146"]
	if e == nil || e.Count != 200 || len(res.Errors) != 1 || res.Rounds[0].Ops != 0 {
		t.Fatalf("errors %v, ops %d; want 200 under 1146 only", res.Errors, res.Rounds[0].Ops)
	}
	if !strings.Contains(e.Message, "no_such_table") {
		t.Errorf("message %q does not name the table", e.Message)
	}
	if res.Connect.Count() != 4 {
		t.Errorf("%d connects, want 4: a server error must not drop the connection", res.Connect.Count())
	}
}

// TestTooManyConnections lowers max_connections: the clients that cannot connect are counted
// under 1040 and sit the round out.
func TestTooManyConnections(t *testing.T) {
	c := testConfig(t, "point-select")
	c.Clients, c.Duration = 20, 200*time.Millisecond
	if err := srv.Exec("SET GLOBAL max_connections = 8"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Exec("SET GLOBAL max_connections = 151") })
	r := runOne(t, c)
	rd := r.Rounds[0]
	if rd.Connected == 0 || rd.Connected >= 20 || r.Errors["1040"] == nil || r.Errors["1040"].Count != int64(20-rd.Connected) {
		t.Errorf("connected %d of 20, errors %v: want the rest under 1040", rd.Connected, r.Errors)
	}
	if rd.Ops == 0 {
		t.Error("the connected clients ran no queries")
	}
}

func TestSetupErrors(t *testing.T) {
	c := testConfig(t, "point-select")
	c.Duration = time.Second
	bad := c
	bad.Password = "wrong"
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "1045") {
		t.Errorf("wrong password: %v, want a setup error with 1045", err)
	}
	bad = c
	bad.Tables = 5
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "-prepare") {
		t.Errorf("missing table: %v, want a setup error asking for -prepare", err)
	}
	bad = c
	bad.TableSize = 5000
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "-prepare") {
		t.Errorf("table too small: %v, want a setup error asking for -prepare", err)
	}
}

func TestPrepareIdempotent(t *testing.T) {
	c := testConfig(t, "point-select")
	var log bytes.Buffer
	c.Log = &log
	if err := Prepare(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(log.String(), "kept"); got != 2 {
		t.Errorf("second Prepare: %q, want both tables kept", log.String())
	}
}

func TestOtherWorkloads(t *testing.T) {
	t.Run("connect-churn", func(t *testing.T) {
		c := testConfig(t, "connect-churn")
		c.Queries = 100
		connects := globalStatus(t, "Connections")
		r := runOne(t, c)
		s := r.summary()
		if s.Ops != 100 || s.ConnectsPerSec <= 0 || r.Connect.Count() != 100 || s.ErrorCount != 0 {
			t.Errorf("ops %d, connects %d, per second %.0f, errors %v", s.Ops, r.Connect.Count(), s.ConnectsPerSec, s.Errors)
		}
		if got := globalStatus(t, "Connections") - connects; got < 100 {
			t.Errorf("server saw %d new connections, want at least 100", got)
		}
	})
	t.Run("large-result", func(t *testing.T) {
		c := testConfig(t, "large-result")
		c.Queries = 3
		s := runOne(t, c).summary()
		if s.Rows != 3*3000 || s.MBPerSec <= 0 || s.ErrorCount != 0 {
			t.Errorf("rows %d, MB/s %.1f, errors %v; want 9000 rows", s.Rows, s.MBPerSec, s.Errors)
		}
	})
	t.Run("idle", func(t *testing.T) {
		c := testConfig(t, "idle")
		c.Clients, c.Duration = 10, 300*time.Millisecond
		c.Targets[0].PID = srv.PID()
		r := runOne(t, c)
		rd := r.Rounds[0]
		if rd.Connected != 10 || !rd.Sampled || rd.RSSAfter <= 0 || rd.Elapsed < c.Duration || rd.Queries != 0 {
			t.Errorf("round %+v: want 10 connected, sampled, 300ms, no queries", rd)
		}
		if p := r.summary().Process; p == nil || p.PID != srv.PID() {
			t.Errorf("target figures %+v, want pid %d", p, srv.PID())
		}
	})
}

// TestCompare runs two targets in alternating rounds, with progress lines and both outputs.
func TestCompare(t *testing.T) {
	c := testConfig(t, "point-select")
	c.Targets = []Target{{Addr: srv.Addr, PID: srv.PID()}, {Addr: srv.Addr, PID: srv.PID()}}
	c.Rounds, c.Duration, c.Warmup, c.Clients = 2, 300*time.Millisecond, 250*time.Millisecond, 2
	var log bytes.Buffer
	c.Log, c.ProgressInterval = &log, 100*time.Millisecond
	results, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || len(results[0].Rounds) != 2 || len(results[1].Rounds) != 2 {
		t.Fatalf("want 2 targets x 2 rounds, got %d results", len(results))
	}
	if !strings.Contains(log.String(), "round 2/2: qps") || !strings.Contains(log.String(), "(warm-up)") {
		t.Errorf("progress lines missing:\n%s", log.String())
	}
	sums := Summarize(results)
	if sums[0].VsFirst != nil || sums[1].VsFirst == nil || sums[1].VsFirst.QPS <= 0 || sums[1].Process == nil {
		t.Errorf("ratios: first %+v, second %+v", sums[0].VsFirst, sums[1].VsFirst)
	}
	var text bytes.Buffer
	if err := WriteText(&text, sums); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "ratio") || !strings.Contains(text.String(), "target CPU/query") {
		t.Errorf("table lacks ratios or CPU:\n%s", text.String())
	}
	var back []map[string]any
	js, _ := json.Marshal(sums)
	if err := json.Unmarshal(js, &back); err != nil || back[1]["vs_first"] == nil || back[0]["qps"].(float64) <= 0 {
		t.Errorf("JSON %s: %v", js, err)
	}
	t.Logf("\n%s", text.String())
}

func TestInterrupt(t *testing.T) {
	c := testConfig(t, "point-select")
	c.Duration = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, c)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v: want the context's error, promptly", err, time.Since(start))
	}
	if len(res) != 1 || len(res[0].Rounds) != 1 || res[0].Rounds[0].Ops == 0 {
		t.Errorf("want the partial round's figures, got %+v", res)
	}
}
