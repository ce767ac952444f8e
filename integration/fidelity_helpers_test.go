package integration

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// Helpers of the fidelity tests (issue 8): a client A of a proxy with ONE backend connection, a
// client D of its own direct connection that runs the same statements (the reference), and a
// client B of the proxy that borrows whatever connection A lets go and probes it for A's state.
// A works in database test, D in test2, so that their tables do not meet; named locks and global
// locks do meet, so statements that take them run on A alone (proxyOnly).

type fidelity struct {
	t       *testing.T
	in      *proxy.Instance
	a, b, d *sql.Conn
	aID     uint32 // A's client id
	// probes lists the foreign-state probes B runs: query → the answer of a fresh connection.
	probes [][2]string
}

// newFidelity starts the proxy (cap 1, a short acquire timeout: B's wait on a pinned A ends
// quickly) and the three clients, with multi-statements on.
func newFidelity(t *testing.T) *fidelity {
	t.Helper()
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 1)
	cfg.Pool.AcquireTimeout.Duration = 700 * time.Millisecond
	in := proxytest.Start(t, cfg)
	multi := func(c *mysql.Config) { c.MultiStatements = true }
	p := openPool(t, clientDSN(in.Addr(), "test", multi))
	f := &fidelity{t: t, in: in, a: holdConn(t, p)}
	for _, ci := range in.Router().Sessions() {
		f.aID = ci.ID
	}
	f.b = holdConn(t, p)
	f.d = holdConn(t, openPool(t, clientDSN(db.Addr, "test2", multi)))
	f.probes = [][2]string{
		{"SELECT COUNT(*) FROM information_schema.USER_VARIABLES", "0;/"},
		{"SELECT @@in_transaction", "0;/"},
	}
	return f
}

// lock adds a named lock to the probes: B must never find it held by its connection.
func (f *fidelity) lock(name string) {
	f.probes = append(f.probes, [2]string{
		fmt.Sprintf("SELECT IFNULL(IS_USED_LOCK('%s') = CONNECTION_ID(), 0)", name), "0;/"})
}

// temp adds a temporary table name to the probes: B must never see a table by that name (no base
// table has it).
func (f *fidelity) temp(name string) {
	f.probes = append(f.probes, [2]string{"SELECT COUNT(*) FROM " + name, "ERROR 1146"})
}

// handler adds a HANDLER name to the probes: B must never find it open.
func (f *fidelity) handler(name string) {
	f.probes = append(f.probes, [2]string{"HANDLER " + name + " READ FIRST", "ERROR 1109"})
}

// outcome renders a statement's answer: every result set, or the error code.
func outcome(c execer, q string) string {
	sets, err := readAllResultSets(c, q)
	var b strings.Builder
	for _, set := range sets {
		for _, row := range set {
			b.WriteString(strings.Join(row, "|") + ";")
		}
		b.WriteString("/")
	}
	if err != nil {
		if me := mysqlError(err); me != nil {
			fmt.Fprintf(&b, "ERROR %d", me.Number)
		} else {
			b.WriteString("ERROR " + err.Error())
		}
	}
	return b.String()
}

// both runs q on A and on D and fails the test if the answers differ; then B probes.
func (f *fidelity) both(q string) {
	f.t.Helper()
	// D's messages name its database.
	if got, want := outcome(f.a, q), strings.ReplaceAll(outcome(f.d, q), "'test2.", "'test."); got != want {
		f.t.Errorf("%s:\n through the proxy %q\n directly          %q", q, got, want)
	}
	f.probe(q)
}

// idle waits past the proxy's grace for next-statement pins (250 ms).
func (f *fidelity) idle() { time.Sleep(400 * time.Millisecond) }

// probe makes B borrow the one connection (unless A holds it) and look for A's state on it.
func (f *fidelity) probe(after string) {
	f.t.Helper()
	if f.pinnedA() {
		return
	}
	for _, p := range f.probes {
		got := outcome(f.b, p[0])
		switch {
		case strings.Contains(got, "ERROR 9001"):
			return // A kept the connection after all: B cannot borrow it, nothing leaks
		case got != p[1]:
			f.t.Errorf("after %q, another client on the connection: %s = %q, want %q", after, p[0], got, p[1])
		}
	}
}

// pinnedA reports whether A's session holds the connection for longer than the next statement.
func (f *fidelity) pinnedA() bool {
	for _, ci := range f.in.Router().Sessions() {
		if ci.ID != f.aID {
			continue
		}
		for _, r := range strings.Split(ci.PinnedReason, ",") {
			if r != "" && r != "warnings" && r != "found_rows" && r != "status_unknown" {
				return true
			}
		}
	}
	return false
}

// wantPins fails the test unless A's pin reasons are want ("" for none).
func (f *fidelity) wantPins(step, want string) {
	f.t.Helper()
	if got := f.pinsOfA(); got != want {
		f.t.Errorf("after %s: A pinned for %q, want %q", step, got, want)
	}
}

// pinsOfA returns A's pin reasons.
func (f *fidelity) pinsOfA() string {
	for _, ci := range f.in.Router().Sessions() {
		if ci.ID == f.aID {
			return ci.PinnedReason
		}
	}
	return ""
}

// setup runs statements directly in both databases (not compared).
func (f *fidelity) setup(stmts ...string) {
	f.t.Helper()
	for _, dbName := range []string{"test", "test2"} {
		direct := holdConn(f.t, directClient(f.t, dbName))
		for _, q := range stmts {
			if _, err := direct.ExecContext(context.Background(), q); err != nil {
				f.t.Fatalf("%s: %v", q, err)
			}
		}
	}
}

// proxyOnly runs q on A alone and checks its answer; then B probes.
func (f *fidelity) proxyOnly(q, want string) {
	f.t.Helper()
	if got := outcome(f.a, q); got != want {
		f.t.Errorf("%s: through the proxy %q, want %q", q, got, want)
	}
	f.probe(q)
}
