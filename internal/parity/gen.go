package parity

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// The generator writes one client's script from general rules: atoms (single statements that read,
// write, or change one kind of session state) are put into forms (plain, EXECUTE IMMEDIATE, text
// PREPARE, SET STATEMENT … FOR, a multi-statement with other atoms, the binary protocol, an
// executable comment) with comments between tokens, and mixed with protocol commands (change
// user, reset, set option, init db, ping) and idle gaps. A small model of the session (what the
// script meant to create: transaction, locks, temporary tables, handlers, prepared names …) makes
// follow-ups likely (a lock is released, a transaction ends, a variable is read back); it guides,
// it does not predict: the direct twin is the truth.

// Spec is how a client logs in and what names it owns. Names derive from ID, so clients never
// share an object (but for the read-only routines of the fixture).
type Spec struct {
	ID        int
	Collation uint8
	Caps      wire.Capability
	DB        string
}

// collations a client may log in with: utf8mb4_general_ci, latin1_swedish_ci,
// utf8mb3_general_ci, utf8mb4_unicode_ci.
var collations = []uint8{45, 8, 33, 224}

// specFor draws the login of generation gen of client id from the run's seed.
func specFor(seed uint64, id, gen int) Spec {
	r := rand.New(rand.NewPCG(seed, uint64(id)<<32|uint64(gen)))
	s := Spec{ID: id, Collation: collations[r.IntN(len(collations))], DB: dbMain}
	if r.IntN(10) != 0 {
		s.Caps |= wire.ClientMultiStatements
	}
	if r.IntN(10) < 3 {
		s.Caps |= wire.ClientFoundRows
	}
	if r.IntN(10) == 0 {
		s.Caps |= wire.ClientIgnoreSpace
	}
	switch r.IntN(20) {
	case 0, 1:
		s.DB = ""
	case 2:
		s.DB = dbOther
	}
	return s
}

// Databases of the fixture.
const (
	dbMain  = "parity"
	dbOther = "parity2"
)

// Step classes the generator tracks to keep out what the proxy documents as unsupported.
const (
	clsClearsDA = 1 << iota // the statement resets the diagnostics area (uses a table, or warns or fails)
	clsReader               // reads the diagnostics area: keeps what it read readable (SHOW WARNINGS)
)

type genStep struct {
	Step
	cls uint8
}

// gen writes the script of one client.
type gen struct {
	r    *rand.Rand
	spec Spec
	n    names
	grammar

	queue []genStep
	count int

	// the model: what the script meant to leave in the session
	db                     string
	inTxn, autocommitOff   bool
	lockTables, globalLock bool
	xa                     int // 0 none, 1 active, 2 idle (ended), 3 prepared
	noBackslash            bool
	temps, locks, handlers map[string]bool
	prepared, vars         map[string]bool
	stmts                  map[int]binAtom // open binary statement handles
	nextHandle             int
	lastClears             bool
	multiOn                bool
}

// names are the objects client c owns.
type names struct {
	T, U   string // tables (in both databases)
	K1, K2 string // named locks
	X      string // XA transaction id
	P      string // procedure inserting into T
}

func namesFor(id int) names {
	return names{T: fmt.Sprintf("t%d", id), U: fmt.Sprintf("u%d", id),
		K1: fmt.Sprintf("k%da", id), K2: fmt.Sprintf("k%db", id), X: fmt.Sprintf("x%d", id), P: fmt.Sprintf("pi%d", id)}
}

// grammar are the knobs of the generator a run sets.
type grammar struct {
	incl     Features
	drops    bool // scripts may end with a drop or a kill
	longIdle int  // idle gaps over 250 ms per thousand steps planned
}

func newGen(seed uint64, spec Spec, generation int, gr grammar) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed^0x5bd1e995, uint64(spec.ID)<<32|uint64(generation))), spec: spec, n: namesFor(spec.ID),
		grammar: gr}
	g.startOver(spec.DB)
	g.multiOn = spec.Caps&wire.ClientMultiStatements != 0
	return g
}

// startOver is the model after login, COM_RESET_CONNECTION or COM_CHANGE_USER.
func (g *gen) startOver(db string) {
	if db != "" || g.db == "" {
		g.db = db
	}
	g.inTxn, g.autocommitOff, g.lockTables, g.globalLock, g.xa, g.noBackslash = false, false, false, false, 0, false
	g.temps, g.locks, g.handlers = map[string]bool{}, map[string]bool{}, map[string]bool{}
	g.prepared, g.vars, g.stmts = map[string]bool{}, map[string]bool{}, map[int]binAtom{}
}

// script returns the client's steps: up to n, and a final COM_QUIT unless a step ended it.
func (g *gen) script(n int) []Step {
	var steps []Step
	for range n {
		s := g.next()
		steps = append(steps, s)
		if s.ends() {
			return steps
		}
	}
	return append(steps, Step{Op: OpQuit})
}

// login is how the client of spec logs in.
func (s Spec) login() Login {
	return Login{User: mariadbUser, Password: mariadbPass, DB: s.DB, Collation: s.Collation, Caps: s.Caps}
}

// next returns the client's next step.
func (g *gen) next() Step {
	for len(g.queue) == 0 {
		g.plan()
	}
	s := g.queue[0]
	g.queue = g.queue[1:]
	switch {
	case s.Op == OpIdle && s.Idle < 100*time.Millisecond:
		// too short for the proxy to give a held connection back: the next statement still
		// reads what the last one left
	case s.cls&clsReader != 0:
	default:
		g.lastClears = s.cls&clsClearsDA != 0
	}
	g.count++
	return s.Step
}

func (g *gen) push(s Step, cls uint8) { g.queue = append(g.queue, genStep{s, cls}) }

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) chance(percent int) bool { return g.r.IntN(100) < percent }

func oneOf[T any](g *gen, xs ...T) T { return xs[g.r.IntN(len(xs))] }

// plan queues the next step or steps.
func (g *gen) plan() {
	if g.drops && g.xa == 0 && g.count > 5 && g.chance(1) && g.pick(4) == 0 {
		g.push(oneOf(g, Step{Op: OpDrop}, Step{Op: OpKill}, Step{Op: OpKill, On: true}), 0)
		return
	}
	if g.followUp() {
		return
	}
	if g.pick(1000) < g.longIdle {
		g.push(Step{Op: OpIdle, Idle: time.Duration(260+g.pick(200)) * time.Millisecond}, 0)
		return
	}
	switch w := g.pick(1000); {
	case w < 15:
		// short enough that the proxy still holds what it held (a soft pin lasts 250 ms)
		g.push(Step{Op: OpIdle, Idle: time.Duration(1+g.pick(40)) * time.Millisecond}, 0)
	case w < 25:
		g.push(Step{Op: OpIdle, Idle: time.Duration(1+g.pick(40)) * time.Millisecond}, 0)
	case w < 32 && g.xa == 0:
		g.push(Step{Op: OpReset}, 0)
		g.startOver("")
	case w < 39 && g.xa == 0:
		g.changeUser()
	case w < 44:
		db := oneOf(g, dbMain, dbOther, dbMain, "nosuchdb")
		if db == "nosuchdb" {
			g.push(Step{Op: OpInitDB, DB: db}, clsClearsDA) // its error
		} else {
			g.push(Step{Op: OpInitDB, DB: db}, 0) // keeps the diagnostics area as it was
			g.db = db
		}
	case w < 48:
		g.multiOn = g.chance(75)
		g.push(Step{Op: OpSetOption, On: g.multiOn}, 0)
	case w < 52:
		g.push(Step{Op: OpPing}, 0)
	case w < 110:
		g.binary()
	case w < 130 && g.diagAllowed():
		g.push(Step{Op: OpQuery, SQL: g.comments(oneOf(g, diagShows...))}, clsReader)
	case w < 150 && g.diagAllowed():
		g.push(Step{Op: OpQuery, SQL: g.comments(oneOf(g, diagCounts...))}, 0)
	case w < 170:
		g.push(Step{Op: OpQuery, SQL: g.comments(oneOf(g, "SELECT FOUND_ROWS()", "SELECT FOUND_ROWS() AS n, 1"))}, 0)
	default:
		g.statement()
	}
}

// diagAllowed says whether a diagnostics reader may come now: always when late_diagnostics is
// included, else only right after a statement that reset the diagnostics area.
func (g *gen) diagAllowed() bool { return g.incl.Has(FeatLateDiagnostics) || g.lastClears }

// diagShows read the diagnostics area of the previous statement and leave it as it was, so another
// reader may follow (SHOW WARNINGS twice).
var diagShows = []string{"SHOW WARNINGS", "SHOW ERRORS", "SHOW WARNINGS LIMIT 1", "SHOW ERRORS LIMIT 1"}

// diagCounts read the diagnostics area too, but are statements that use no table: what a reader
// after them sees is the documented exception late_diagnostics.
var diagCounts = []string{
	"SHOW COUNT(*) WARNINGS", "SHOW COUNT(*) ERRORS", "SELECT @@warning_count", "SELECT @@error_count, @@warning_count",
}

// followUp ends state the model says is there, with a good chance: transactions commit, locks are
// released, LOCK TABLES (under which most statements fail) ends soon.
func (g *gen) followUp() bool {
	switch {
	case g.xa == 3:
		// A prepared XA transaction survives a reset or a logout, detached, with its row locks:
		// the client's next writes would wait for innodb_lock_wait_timeout. End it at once.
		g.plain(g.xaAtom())
	case (g.lockTables || g.globalLock) && g.chance(35):
		g.plain(atom{sql: "UNLOCK TABLES", eff: func(g *gen) { g.lockTables, g.globalLock = false, false }})
	case g.xa != 0 && g.chance(30):
		g.plain(g.xaAtom())
	case g.inTxn && g.chance(12):
		g.plain(oneOf(g, atom{sql: "COMMIT", eff: endTxn}, atom{sql: "ROLLBACK", eff: endTxn}))
	case len(g.locks) > 0 && g.chance(10):
		g.plain(g.lockAtom())
	case g.db == "" && g.chance(50):
		g.plain(atom{sql: "USE " + oneOf(g, dbMain, dbOther), eff: func(g *gen) { g.db = dbMain }})
	case len(g.temps) > 0 && g.chance(12):
		t := anyKey(g, g.temps)
		g.plain(atom{sql: "DROP TEMPORARY TABLE " + t, cls: clsClearsDA, eff: func(g *gen) { delete(g.temps, t) }})
	case len(g.prepared) > 0 && g.chance(12):
		p := anyKey(g, g.prepared)
		g.plain(atom{sql: "DEALLOCATE PREPARE " + p, eff: func(g *gen) { delete(g.prepared, p) }})
	case len(g.handlers) > 0 && g.chance(12):
		h := anyKey(g, g.handlers)
		g.plain(atom{sql: "HANDLER " + h + " CLOSE", cls: clsClearsDA, eff: func(g *gen) { delete(g.handlers, h) }})
	case g.xa == 0 && len(g.vars)+len(g.temps)+len(g.prepared)+len(g.handlers)+len(g.locks) > 0 && g.chance(4):
		// Some state (a user variable set from an expression) holds a client's connection until
		// a reset: at a cap of 1 everyone else waits, so it must not last a whole script.
		g.push(Step{Op: OpReset}, 0)
		g.startOver("")
	default:
		return false
	}
	return true
}

// anyKey picks a key of m, the same one for the same seed (map order is random).
func anyKey(g *gen, m map[string]bool) string {
	keys := slices.Sorted(maps.Keys(m))
	return keys[g.pick(len(keys))]
}

func endTxn(g *gen) { g.inTxn = false }
