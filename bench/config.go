// Package bench is the load generator behind mysqlmux-bench: N concurrent MySQL clients running a
// named workload (sysbench-like point selects, transactions, connection churn, idle connections,
// large results, prepared statements, an ORM-style session opening) against one or more targets, with
// latency histograms, errors by MySQL code, and the CPU and memory of a target process.
//
// Each simulated client owns one connection (a *sql.Conn), its own random source and its own
// figures, so the hot path takes no lock; the figures are merged once the clients are done.
// Several targets are loaded in alternating rounds within one run (Run), so that ratios between them
// are measured under the same machine noise.
//
// The clients use database/sql and go-sql-driver/mysql, as Go applications do. That costs the
// harness itself about twice sysbench's CPU per query (Go's netpoller adds a read that finds no data
// and a wake-up per response), which the report shows as "bench CPU": on a machine whose cores the
// harness shares with the targets it lowers every target's QPS and so brings QPS ratios closer to 1;
// the target's own CPU per query (-target-pid) is the figure that does not depend on the harness.
package bench

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Target is one server to load.
type Target struct {
	Addr string // "host:port", or the path of a unix socket
	PID  int    // process whose CPU time and RSS are sampled around each round; 0 = none
	Name string // shown instead of Addr when set (mysqlmux-bench's relay: "relay")
	// Floor marks the baseline the other targets are held to (mysqlmux-bench's relay): each
	// summary then has its CPU per query over the floor's of the same step.
	Floor bool
}

// Step is one number of clients to run the workload with. Several steps run in one Run, each
// against every target, round by round, so that their figures compare as those of targets do.
type Step struct {
	Clients int // connected clients
	// many-clients only: Fast clients run at full speed, the next Active ones issue Config.Rate
	// statements per second each, the rest stay connected and idle.
	Active, Fast int
}

// Config describes one run. Field comments name the mysqlmux-bench flag that sets each field.
type Config struct {
	Targets  []Target // -addr, or -compare (with -target-pid)
	User     string   // -user
	Password string   // -password
	DB       string   // -db

	Workload string // -workload: a name from Workloads
	Clients  int    // -clients: simulated clients, one connection each
	// Steps, when set, replace Clients (and Active, Fast): -clients, -active and -fast given as
	// lists.
	Steps        []Step
	Active, Fast int     // -active, -fast: see Step
	Rate         float64 // -rate: statements per second of each active client (many-clients)
	// Server is the database server behind the targets (-server): its Threads_connected is
	// sampled during the measured phase, the backend connections a proxy holds. "" = none.
	Server   string
	Duration time.Duration // -duration: measured time per round; 0 = until Queries operations
	Queries  int64         // -queries: stop after this many operations (a query, or a transaction for the transactional workloads); 0 = no limit
	Warmup   time.Duration // -warmup: load before each measured round, not counted
	Rounds   int           // -rounds: measured rounds per target, alternating between targets

	Tables     int // -tables: sbtest1..sbtestN
	TableSize  int // -table-size: rows per sbtest table
	ResultRows int // -result-rows: rows of bench_large, read whole by large-result

	ConnectTimeout time.Duration // -connect-timeout: dial and handshake limit per connection

	// Log receives setup notices and, every ProgressInterval (0 = never), a progress line.
	Log              io.Writer
	ProgressInterval time.Duration // -progress
}

// DefaultConfig returns the defaults of mysqlmux-bench's flags.
func DefaultConfig() Config {
	return Config{
		Targets:        []Target{{Addr: "127.0.0.1:6033"}},
		User:           "app",
		DB:             "test",
		Workload:       "point-select",
		Clients:        16,
		Duration:       10 * time.Second,
		Warmup:         time.Second,
		Rounds:         1,
		Tables:         4,
		TableSize:      10000,
		ResultRows:     100000,
		Rate:           10,
		ConnectTimeout: 10 * time.Second,
	}
}

// Validate checks the configuration and names the offending flag.
func (c *Config) Validate() error {
	w, err := c.validateSetup()
	if err != nil {
		return err
	}
	for _, st := range c.steps() {
		if err := st.validate(w, c); err != nil {
			return err
		}
	}
	switch {
	case c.Duration < 0 || c.Warmup < 0 || c.ProgressInterval < 0:
		return errors.New("-duration, -warmup, -progress: negative duration")
	case c.Queries < 0:
		return fmt.Errorf("-queries: %d, want 0 or more", c.Queries)
	case c.Duration == 0 && c.Queries == 0:
		return errors.New("-duration: give a duration or -queries N")
	case (w.mode == idle || w.mode == mixed) && c.Duration == 0:
		return fmt.Errorf("-duration: the %s workload needs a duration", w.name)
	case c.Rounds < 1:
		return fmt.Errorf("-rounds: %d, want at least 1", c.Rounds)
	}
	return nil
}

// maxRate bounds -rate: a paced client's period must stay well above a timer's resolution and a
// query's latency, or it is a client at full speed.
const maxRate = 1000

// steps returns the steps to run: Steps, or one made of Clients, Active and Fast.
func (c *Config) steps() []Step {
	if len(c.Steps) > 0 {
		return c.Steps
	}
	return []Step{{Clients: c.Clients, Active: c.Active, Fast: c.Fast}}
}

func (st Step) validate(w workload, c *Config) error {
	switch {
	case st.Clients < 1:
		return fmt.Errorf("-clients: %d, want at least 1", st.Clients)
	case st.Active < 0 || st.Fast < 0:
		return errors.New("-active, -fast: negative")
	case w.mode != mixed && (st.Active > 0 || st.Fast > 0):
		return errors.New("-active, -fast: only for the many-clients workload")
	case w.mode == mixed && st.Active+st.Fast > st.Clients:
		return fmt.Errorf("-active %d + -fast %d: more than -clients %d", st.Active, st.Fast, st.Clients)
	case w.mode == mixed && st.Active > 0 && !(c.Rate > 0 && c.Rate <= maxRate):
		return fmt.Errorf("-rate: %g, want more than 0 and at most %d statements per second", c.Rate, maxRate)
	}
	return nil
}

// validateSetup checks what Prepare needs as well as Run: the workload, the targets, the account
// and the tables.
func (c *Config) validateSetup() (workload, error) {
	w, err := lookupWorkload(c.Workload)
	if err != nil {
		return w, err
	}
	if len(c.Targets) == 0 {
		return w, errors.New("-addr: no target")
	}
	for _, t := range c.Targets {
		if t.Addr == "" {
			return w, errors.New("-addr: empty address")
		}
		if t.PID < 0 {
			return w, fmt.Errorf("-target-pid: bad pid %d", t.PID)
		}
	}
	switch {
	case c.User == "":
		return w, errors.New("-user: empty")
	case c.ConnectTimeout < 0:
		return w, errors.New("-connect-timeout: negative duration")
	case c.Tables < 1:
		return w, fmt.Errorf("-tables: %d, want at least 1", c.Tables)
	case c.TableSize < 1:
		return w, fmt.Errorf("-table-size: %d, want at least 1", c.TableSize)
	case c.ResultRows < 1:
		return w, fmt.Errorf("-result-rows: %d, want at least 1", c.ResultRows)
	}
	return w, nil
}
