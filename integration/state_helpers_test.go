package integration

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/proxy"
)

// Helpers of the session-state tests (issue 4): pin checks on the proxy's session list and
// background clients that keep the few backend connections busy.

// pinnedSessions returns the pin reasons of the sessions of in that have one.
func pinnedSessions(in *proxy.Instance) []string {
	var pins []string
	for _, ci := range in.Router().Sessions() {
		if ci.PinnedReason != "" {
			pins = append(pins, ci.PinnedReason)
		}
	}
	return pins
}

// countWithPin counts the sessions whose pin reasons include reason.
func countWithPin(in *proxy.Instance, reason string) int {
	n := 0
	for _, ci := range in.Router().Sessions() {
		for _, r := range strings.Split(ci.PinnedReason, ",") {
			if r == reason {
				n++
				break
			}
		}
	}
	return n
}

// pinWait is how long the pin checks poll: the session list is updated right after the response
// is written, and next-statement pins (warnings, found_rows) end after a 1 s idle grace.
const pinWait = 3 * time.Second

// waitUntil polls cond until it holds or pinWait passes.
func waitUntil(cond func() bool) bool {
	deadline := time.Now().Add(pinWait)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantNoPins fails the test unless, within pinWait, no session of in is pinned.
func wantNoPins(t testing.TB, in *proxy.Instance, step string) {
	t.Helper()
	if !waitUntil(func() bool { return len(pinnedSessions(in)) == 0 }) {
		t.Errorf("%s: sessions still pinned after %v: %s", step, pinWait, pinsOf(in))
	}
}

// wantPinned fails the test unless, within pinWait, exactly n sessions have reason among their
// pin reasons.
func wantPinned(t testing.TB, in *proxy.Instance, step, reason string, n int) {
	t.Helper()
	if !waitUntil(func() bool { return countWithPin(in, reason) == n }) {
		t.Errorf("%s: %d sessions pinned for %q, want %d: %s", step, countWithPin(in, reason), reason, n, pinsOf(in))
	}
}

// background runs clients that work in a loop until stopped, so that the statements of the
// client under test land on connections other sessions just used. Rounds are never cut short:
// stop waits for the current round of each client, so every session ends on a whole round.
type background struct {
	t       testing.TB
	stopped atomic.Bool
	wg      sync.WaitGroup
	rounds  atomic.Int64
	mu      sync.Mutex
	errs    []string
}

// startBackground takes n client connections out of p and runs work on each in a loop (i is the
// client's number) until stop. A work error is recorded and ends that client.
func startBackground(t testing.TB, p *sql.DB, n int, work func(ctx context.Context, c *sql.Conn, i int) error) *background {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		conns[i] = holdConn(t, p)
	}
	b := &background{t: t}
	for i, c := range conns {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for !b.stopped.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := work(ctx, c, i)
				cancel()
				if err != nil {
					b.mu.Lock()
					b.errs = append(b.errs, fmt.Sprintf("background client %d: %v", i, err))
					b.mu.Unlock()
					return
				}
				b.rounds.Add(1)
			}
		}()
	}
	t.Cleanup(b.halt)
	return b
}

func (b *background) halt() {
	b.stopped.Store(true)
	b.wg.Wait()
}

// stop ends the background clients and fails the test on their errors, or if they did not run.
func (b *background) stop() {
	b.t.Helper()
	b.halt()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, e := range b.errs {
		if i == 5 {
			b.t.Errorf("... and %d more background errors", len(b.errs)-5)
			break
		}
		b.t.Error(e)
	}
	if b.rounds.Load() == 0 {
		b.t.Error("the background clients completed no round: nothing interleaved")
	}
}

// readStrings runs a one-row query and returns its columns as strings (NULL as "<NULL>").
func readStrings(ctx context.Context, c execer, q string, args ...any) ([]string, error) {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", q, describeErr(err))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%s: %s", q, describeErr(err))
		}
		return nil, fmt.Errorf("%s: no row", q)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("%s: %v", q, err)
	}
	out := make([]string, len(cols))
	for i, v := range vals {
		out[i] = "<NULL>"
		if v.Valid {
			out[i] = v.String
		}
	}
	return out, rows.Close()
}

// mustStrings is readStrings that fails the test on error.
func mustStrings(t testing.TB, c execer, q string, args ...any) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := readStrings(ctx, c, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// freshValues reads q on a new direct connection to MariaDB with default database dbName: what a
// client that set nothing must see.
func freshValues(t testing.TB, q, dbName string) []string {
	t.Helper()
	p := directClient(t, dbName)
	p.SetMaxIdleConns(0)
	c := holdConn(t, p)
	defer c.Close()
	return mustStrings(t, c, q)
}

// execAll runs statements in order on c and fails the test on the first error.
func execAll(t testing.TB, c execer, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		mustExec(t, c, q)
	}
}
