package routing

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/bench"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// TestBenchReplicaReads is issue 10's benchmark (must-show 6), run by scripts/bench-replicas.sh
// (MYSQLMUX_BENCH_REPLICAS=1; it is a measurement, not a check, so go test skips it otherwise):
// read-heavy workloads straight at the primary and through the proxy over the primary and two
// replicas, in alternating rounds of one run; the share of reads each server ran is read from its
// own Com_select.
func TestBenchReplicaReads(t *testing.T) {
	if os.Getenv("MYSQLMUX_BENCH_REPLICAS") != "1" {
		t.Skip("a benchmark: scripts/bench-replicas.sh runs it")
	}
	seconds, _ := strconv.Atoi(os.Getenv("BENCH_TIME"))
	if seconds <= 0 {
		seconds = 10
	}
	rounds, _ := strconv.Atoi(os.Getenv("BENCH_ROUNDS"))
	if rounds <= 0 {
		rounds = 3
	}
	c := startCluster(t, []int{1, 1}, nil)
	cfg := bench.DefaultConfig()
	cfg.User, cfg.Password = appUser, appPassword
	cfg.Targets = []bench.Target{{Addr: c.repl.Primary.Addr, PID: c.repl.Primary.PID()}, {Addr: c.in.Addr()}}
	cfg.Clients, cfg.Duration, cfg.Rounds = 16, time.Duration(seconds)*time.Second, rounds
	if err := bench.Prepare(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := c.repl.WaitCaughtUp(time.Minute); err != nil {
		t.Fatal(err)
	}
	servers := append([]*mariadbtest.Server{c.repl.Primary}, c.repl.Replicas...)
	var out strings.Builder
	for _, w := range []string{"point-select", "read-heavy", "orm-mix"} {
		cfg.Workload = w
		results, err := bench.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := bench.WriteText(&out, bench.Summarize(results)); err != nil {
			t.Fatal(err)
		}
		// Where the proxy's reads ran: one more round through the proxy alone, no warm-up,
		// counted by each server (the monitor's look adds ten SELECTs a second on each).
		only := cfg
		only.Targets, only.Rounds, only.Warmup = cfg.Targets[1:], 1, 0
		before := make([]int64, len(servers))
		for i, s := range servers {
			before[i] = counters(t, s, "Com_select")["Com_select"]
		}
		results, err = bench.Run(context.Background(), only)
		if err != nil {
			t.Fatal(err)
		}
		var ran [3]int64
		var total int64
		for i, s := range servers {
			ran[i] = counters(t, s, "Com_select")["Com_select"] - before[i]
			total += ran[i]
		}
		sum := bench.Summarize(results)[0]
		fmt.Fprintf(&out, "%s through the proxy alone: %.0f qps; SELECTs ran on replica 1 %s, replica 2 %s, the primary %s (each server's Com_select)\n\n",
			w, sum.QPS, pct(ran[1], total), pct(ran[2], total), pct(ran[0], total))
	}
	t.Log("\n" + out.String())
}

func pct(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "%"
}
