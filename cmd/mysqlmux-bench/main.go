// Command mysqlmux-bench is a MySQL load generator: N concurrent clients run a workload against a
// server or a proxy, or against several in alternating rounds (-compare), and it prints throughput,
// latency percentiles, errors by MySQL code and, with -target-pid, the target's CPU per query and
// memory per connection. See usageText.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/mysqlmux/mysqlmux/bench"
)

const usageText = `Usage:
  mysqlmux-bench -addr HOST:PORT -user U -password P -db D -clients N -duration D -workload NAME [-json]
  mysqlmux-bench -prepare -addr HOST:PORT ... -workload NAME      create and fill the tables, then exit
  mysqlmux-bench -compare ADDR,ADDR,... [-target-pid PID,PID,...] [-rounds R] [-relay] ...
  mysqlmux-bench -workload many-clients -clients 16,10000 -fast 16 -active 0,1000 -rate 10 -server DB ...

Runs N clients, one connection each, for -duration (after -warmup) or for -queries operations, and
prints queries per second, latency percentiles, connection times and errors by MySQL error code.
-compare runs the same load against each address in turn, R rounds each, alternating, and prints
the figures side by side with ratios to the first address: on a shared machine only ratios
measured in one run mean much. -target-pid samples a process (the proxy, or mariadbd) around each
measured round: CPU microseconds per query, RSS, and RSS per connection, read and write syscalls
and context switches per query. -relay adds a target after the first: a minimal TCP relay to the
first address (a connection to the server per client, bytes copied both ways), run as a child
process and sampled: the floor a proxy's CPU per query and added latency are held to.
-clients (and -active, -fast) may list several numbers: each is a step, run against every target
in the same alternating rounds, with ratios to the first. -server samples the Threads_connected of
the database server behind the targets (the backend connections a proxy holds).

Workloads (point selects read sysbench-like tables sbtest1..N, made by -prepare):
`

// progressOnTerminal is the progress interval when stderr is a terminal and -progress is not given.
const progressOnTerminal = 2 * time.Second

// spareFiles are the descriptors beyond one per client that the process needs.
const spareFiles = 64

func main() {
	if to := os.Getenv(relayEnv); to != "" {
		os.Exit(serveRelay(to, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the flags that do not map one to one onto bench.Config.
type options struct {
	addr, compare, pids   string
	clients, active, fast string
	rounds                int
	progress              time.Duration
	prepare, json, relay  bool
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := bench.DefaultConfig()
	fs, opt := newFlags(&cfg, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mysqlmux-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := finishConfig(&cfg, opt, set, stderr); err != nil {
		fmt.Fprintf(stderr, "mysqlmux-bench: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second ^C kills at once
	}()

	if opt.prepare {
		if err := bench.Prepare(ctx, cfg); err != nil {
			fmt.Fprintf(stderr, "mysqlmux-bench: %v\n", err)
			return 1
		}
		return 0
	}
	if opt.relay {
		t, stop, err := startRelay(cfg.Targets[0].Addr, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "mysqlmux-bench: %v\n", err)
			return 1
		}
		defer stop()
		cfg.Targets = slices.Insert(cfg.Targets, 1, t)
	}
	results, err := bench.Run(ctx, cfg)
	if len(results) > 0 && len(results[0].Rounds) > 0 {
		if werr := write(stdout, bench.Summarize(results), opt); werr != nil {
			fmt.Fprintf(stderr, "mysqlmux-bench: %v\n", werr)
			return 1
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "mysqlmux-bench: interrupted; the figures cover the time measured before")
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "mysqlmux-bench: %v\n", err)
		return 1
	}
	return 0
}

func newFlags(cfg *bench.Config, stderr io.Writer) (*flag.FlagSet, *options) {
	opt := &options{}
	fs := flag.NewFlagSet("mysqlmux-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opt.addr, "addr", cfg.Targets[0].Addr, "target `HOST:PORT`, or a unix socket path; HOST:PORT,HOST:PORT,...: one target, the clients dealt over them in turn (a fleet of proxies)")
	fs.StringVar(&cfg.User, "user", cfg.User, "user `name`")
	fs.StringVar(&cfg.Password, "password", "", "`password` (default $MYSQL_PWD)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "`database` holding the tables")
	fs.StringVar(&opt.clients, "clients", strconv.Itoa(cfg.Clients), "`N` concurrent clients, one connection each; N,N,... runs each in turn (steps)")
	fs.StringVar(&opt.active, "active", "0", "many-clients: `N` of the clients issue -rate statements per second each (one per step, or one for all)")
	fs.StringVar(&opt.fast, "fast", "0", "many-clients: `N` of the clients run at full speed (one per step, or one for all)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "many-clients: statements per `second` of each -active client")
	fs.StringVar(&cfg.Server, "server", "", "sample the Threads_connected of the database server at `HOST:PORT` (behind the targets) during each round")
	fs.BoolVar(&opt.relay, "relay", false, "add a target after the first: a minimal TCP relay to it (the floor), run and sampled by mysqlmux-bench")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured `time` per round; 0 = until -queries")
	fs.Int64Var(&cfg.Queries, "queries", 0, "stop after `N` operations (a query, or a transaction for read-only and read-write); 0 = no limit")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "`time` of load before each measured round, not counted")
	fs.StringVar(&cfg.Workload, "workload", cfg.Workload, "workload `NAME`, from the list above")
	fs.IntVar(&cfg.Tables, "tables", cfg.Tables, "`N` sbtest tables: sbtest1..sbtestN")
	fs.IntVar(&cfg.TableSize, "table-size", cfg.TableSize, "`N` rows per sbtest table")
	fs.IntVar(&cfg.ResultRows, "result-rows", cfg.ResultRows, "`N` rows in bench_large, read whole by large-result")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "`time` limit on each connection's dial and handshake")
	fs.StringVar(&opt.compare, "compare", "", "load the targets `ADDR,ADDR,...` in alternating rounds and print them side by side (instead of -addr)")
	fs.StringVar(&opt.pids, "target-pid", "", "sample the CPU and RSS of process `PID[,PID...]`: one for all targets, or one per -compare target (0 = none)")
	fs.IntVar(&opt.rounds, "rounds", 0, "`R` measured rounds per target (default 1, or 3 with -compare)")
	fs.DurationVar(&opt.progress, "progress", 0, "print a progress line to stderr every `interval` (default 2s when stderr is a terminal, else off)")
	fs.BoolVar(&opt.prepare, "prepare", false, "create and fill the workload's tables (idempotent), then exit")
	fs.BoolVar(&opt.json, "json", false, "print the figures as JSON: an object, or an array with -compare, -relay or steps")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		for _, w := range bench.Workloads() {
			fmt.Fprintf(stderr, "  %-14s %s\n", w.Name, w.About)
		}
		fmt.Fprint(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs, opt
}

// finishConfig applies the options that need more than a flag: targets and pids, rounds, the
// password from the environment, the progress default, and the open-files limit.
func finishConfig(cfg *bench.Config, opt *options, set map[string]bool, stderr io.Writer) error {
	addrs := []string{opt.addr}
	if opt.compare != "" {
		if set["addr"] {
			return errors.New("-addr and -compare: give one of them")
		}
		addrs = strings.Split(opt.compare, ",")
	}
	pids, err := parsePIDs(opt.pids, len(addrs))
	if err != nil {
		return err
	}
	cfg.Targets = nil
	for i, a := range addrs {
		cfg.Targets = append(cfg.Targets, bench.Target{Addr: strings.TrimSpace(a), PID: pids[i]})
	}
	if err := setSteps(cfg, opt); err != nil {
		return err
	}
	cfg.Rounds = opt.rounds
	if !set["rounds"] {
		cfg.Rounds = 1
		if opt.compare != "" {
			cfg.Rounds = 3
		}
	}
	if !set["password"] {
		cfg.Password = os.Getenv("MYSQL_PWD")
	}
	cfg.Log = stderr
	cfg.ProgressInterval = opt.progress
	if !set["progress"] && isTerminal(os.Stderr) {
		cfg.ProgressInterval = progressOnTerminal
	}
	if opt.prepare {
		return nil // Prepare checks what it needs
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	limit, err := bench.RaiseOpenFileLimit()
	if err != nil {
		return fmt.Errorf("raising the open-files limit: %w", err)
	}
	most := cfg.Clients
	for _, st := range cfg.Steps {
		most = max(most, st.Clients)
	}
	if need := uint64(most + spareFiles); limit < need {
		return fmt.Errorf("-clients: %d clients need %d open files, and the hard limit is %d (raise it: ulimit -Hn)", most, need, limit)
	}
	return nil
}

// setSteps parses -clients, -active and -fast: one number, or one per step.
func setSteps(cfg *bench.Config, opt *options) error {
	lists := make([][]int, 3)
	steps := 0
	for i, f := range []struct{ name, value string }{{"clients", opt.clients}, {"active", opt.active}, {"fast", opt.fast}} {
		for _, p := range strings.Split(f.value, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return fmt.Errorf("-%s: bad number %q", f.name, p)
			}
			lists[i] = append(lists[i], n)
		}
		steps = max(steps, len(lists[i]))
	}
	for i, name := range []string{"clients", "active", "fast"} {
		if n := len(lists[i]); n != 1 && n != steps {
			return fmt.Errorf("-%s: %d numbers for %d steps (give one, or one per step)", name, n, steps)
		}
	}
	at := func(l []int, i int) int { return l[min(i, len(l)-1)] }
	cfg.Clients, cfg.Active, cfg.Fast = lists[0][0], lists[1][0], lists[2][0]
	cfg.Steps = nil
	if steps > 1 {
		for i := range steps {
			cfg.Steps = append(cfg.Steps, bench.Step{Clients: at(lists[0], i), Active: at(lists[1], i), Fast: at(lists[2], i)})
		}
	}
	return nil
}

// parsePIDs parses -target-pid: empty, one pid for every target, or one per target.
func parsePIDs(s string, targets int) ([]int, error) {
	pids := make([]int, targets)
	if s == "" {
		return pids, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 1 && len(parts) != targets {
		return nil, fmt.Errorf("-target-pid: %d pids for %d targets (give one, or one per target)", len(parts), targets)
	}
	for i := range pids {
		p := parts[0]
		if len(parts) > 1 {
			p = parts[i]
		}
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-target-pid: bad pid %q", p)
		}
		pids[i] = n
	}
	return pids, nil
}

func write(w io.Writer, sums []bench.Summary, opt *options) error {
	if !opt.json {
		return bench.WriteText(w, sums)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if opt.compare == "" && len(sums) == 1 {
		return enc.Encode(sums[0])
	}
	return enc.Encode(sums)
}

// isTerminal reports whether f is a terminal (the TCGETS ioctl succeeds on it).
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
