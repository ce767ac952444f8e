package integration

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// Issue 5, must-show 4: 10,000 distinct statements prepared, executed and closed, in one session
// and then over ten sessions at once (while the first session goes on to 16,400). The backend's
// Prepared_stmt_count (sampled all along) stays within cap × the per-connection limit (128), and
// the test process's heap (the proxy runs in it) does not grow with the number of statements.

// stmtPerConnLimit is backend.StmtCache's default bound (statements kept per backend connection).
const stmtPerConnLimit = 128

// distinctStatements prepares "SELECT ? + n" for n in [from, from+count) on c, executes each once
// (checking the sum) and closes it.
func distinctStatements(ctx context.Context, c *sql.Conn, from, count int) error {
	for n := from; n < from+count; n++ {
		q := fmt.Sprintf("SELECT ? + %d", n)
		st, err := c.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %s: %s", q, describeErr(err))
		}
		var got int64
		err = st.QueryRowContext(ctx, 7).Scan(&got)
		if cerr := st.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s with 7: %s", q, describeErr(err))
		}
		if got != int64(n+7) {
			return fmt.Errorf("%s with 7 = %d, want %d", q, got, n+7)
		}
	}
	return nil
}

func TestStmtDistinctStatementsBounded(t *testing.T) {
	mariadbtest.Need(t, db)
	const capConns, total = 3, 10000
	root := rootDB(t)
	cfg := proxytest.Config(db, capConns)
	cfg.Pool.AcquireTimeout.Duration = 30 * time.Second
	in := proxytest.Start(t, cfg)
	p := psClient(t, in, "test", nil)
	single := holdConn(t, p)
	many := make([]*sql.Conn, 10)
	for i := range many {
		many[i] = holdConn(t, p)
	}
	bound := int64(capConns*stmtPerConnLimit + 8) // + slack: an evicted statement's close goes with the next command

	counters := []string{"Com_stmt_prepare", "Com_stmt_close", "Prepared_stmt_count"}
	start := mustStatus(t, root, counters...)
	heap0 := heapInuse()
	t.Logf("before: Prepared_stmt_count %d, heap in use %s", start["Prepared_stmt_count"], mib(int64(heap0)))

	phase := func(name string, run func() error) {
		t.Helper()
		s := sampleStatus(t, root, "Prepared_stmt_count", 10*time.Millisecond)
		from := mustStatus(t, root, counters...)
		began := time.Now()
		err := run()
		elapsed := time.Since(began)
		maxCount, samples := s.stop()
		to := mustStatus(t, root, counters...)
		heap := heapInuse()
		t.Logf("%s: %v; Prepared_stmt_count max %d over %d samples (bound %d), now %d; backend Com_stmt_prepare +%d, Com_stmt_close +%d; heap in use %s (%+s since start)",
			name, elapsed.Round(time.Millisecond), maxCount, samples, bound, to["Prepared_stmt_count"],
			to["Com_stmt_prepare"]-from["Com_stmt_prepare"], to["Com_stmt_close"]-from["Com_stmt_close"],
			mib(int64(heap)), mib(int64(heap)-int64(heap0)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if samples < 3 {
			t.Errorf("%s: only %d samples of Prepared_stmt_count", name, samples)
		}
		if maxCount-start["Prepared_stmt_count"] > bound {
			t.Errorf("%s: backend Prepared_stmt_count reached %d (%d before the test), want at most %d (cap %d × %d + slack)",
				name, maxCount, start["Prepared_stmt_count"], bound, capConns, stmtPerConnLimit)
		}
		if grew := int64(heap) - int64(heap0); grew > 64<<20 {
			t.Errorf("%s: heap in use grew by %s, want under 64 MiB", name, mib(grew))
		}
	}

	phase("10000 statements in one session", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		return distinctStatements(ctx, single, 0, total)
	})
	// Meanwhile the first session goes on past 16382 statements in all (the proxy's per-session
	// bound, as max_prepared_stmt_count): it fails with 1461 if closed statements are not
	// forgotten.
	const more = 6400
	phase("10 sessions × 1000 statements (and 6400 more in the first session)", func() error {
		var wg sync.WaitGroup
		errs := make([]error, len(many)+1)
		for i, c := range many {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
				defer cancel()
				errs[i] = distinctStatements(ctx, c, total+i*total/len(many), total/len(many))
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			errs[len(many)] = distinctStatements(ctx, single, 2*total, more)
		}()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("session %d: %w", i, err)
			}
		}
		return nil
	})
	// The sessions still work, with statements prepared long ago evicted everywhere.
	for i, c := range append([]*sql.Conn{single}, many...) {
		var got int64
		if err := c.QueryRowContext(context.Background(), "SELECT ? + 5", 1).Scan(&got); err != nil || got != 6 {
			t.Errorf("session %d afterwards: SELECT ? + 5 with 1 = %d, %s", i, got, describeErrOrNil(err))
		}
	}
	wantNoPins(t, in, "after the statements")
}
