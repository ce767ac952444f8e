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

// Issue 5, must-show 1 and 2: binary-protocol prepared statements (go-sql-driver with
// interpolateParams off) keep multiplexing, every result is right, and a statement's metadata and
// backend statements are shared. Cap 3. Must-show 3 is in stmt_ids_test.go.

// stmtVal is the string client i inserts in round r: quotes, backslash, multibyte, so the binary
// protocol's string parameters are checked byte for byte.
func stmtVal(i, r int) string { return fmt.Sprintf("c%d r%d 'q' \"d\" \\ ü€", i, r) }

// stmtManyClient is one client of TestStmtManyClientsNoPins: each round a SELECT with arguments
// (checked exactly), an INSERT (its row verified later) and a count of its own rows. Even
// clients prepare their three statements once (conn.PrepareContext); odd ones let go-sql-driver
// prepare, execute and close each statement every time.
func stmtManyClient(ctx context.Context, c *sql.Conn, i, rounds int) error {
	const (
		qSel   = "SELECT ? + ?, CONCAT(?, '/', ?), ?"
		qIns   = "INSERT INTO stmt_many (client, seq, val) VALUES (?, ?, ?)"
		qCount = "SELECT COUNT(*), COALESCE(SUM(seq), 0) FROM stmt_many WHERE client = ?"
	)
	var sel, ins, count *sql.Stmt
	if i%2 == 0 {
		var err error
		if sel, err = c.PrepareContext(ctx, qSel); err != nil {
			return fmt.Errorf("prepare %s: %s", qSel, describeErr(err))
		}
		defer sel.Close()
		if ins, err = c.PrepareContext(ctx, qIns); err != nil {
			return fmt.Errorf("prepare %s: %s", qIns, describeErr(err))
		}
		defer ins.Close()
		if count, err = c.PrepareContext(ctx, qCount); err != nil {
			return fmt.Errorf("prepare %s: %s", qCount, describeErr(err))
		}
		defer count.Close()
	}
	queryRow := func(st *sql.Stmt, q string, args ...any) *sql.Row {
		if st != nil {
			return st.QueryRowContext(ctx, args...)
		}
		return c.QueryRowContext(ctx, q, args...)
	}
	for r := range rounds {
		var sum int64
		var cat, echo string
		tag := fmt.Sprintf("client-%d", i)
		if err := queryRow(sel, qSel, i*1000, r, tag, r, stmtVal(i, r)).Scan(&sum, &cat, &echo); err != nil {
			return fmt.Errorf("round %d: %s: %s", r, qSel, describeErr(err))
		}
		if want := fmt.Sprintf("%s/%d", tag, r); sum != int64(i*1000+r) || cat != want || echo != stmtVal(i, r) {
			return fmt.Errorf("round %d: %s = (%d, %q, %q), want (%d, %q, %q)", r, qSel, sum, cat, echo, i*1000+r, want, stmtVal(i, r))
		}

		var res sql.Result
		var err error
		if ins != nil {
			res, err = ins.ExecContext(ctx, i, r, stmtVal(i, r))
		} else {
			res, err = c.ExecContext(ctx, qIns, i, r, stmtVal(i, r))
		}
		if err != nil {
			return fmt.Errorf("round %d: %s: %s", r, qIns, describeErr(err))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("round %d: %s: %d rows affected (%v), want 1", r, qIns, n, err)
		}

		var n, seqs int64
		if err := queryRow(count, qCount, i).Scan(&n, &seqs); err != nil {
			return fmt.Errorf("round %d: %s: %s", r, qCount, describeErr(err))
		}
		if want := int64(r * (r + 1) / 2); n != int64(r+1) || seqs != want {
			return fmt.Errorf("round %d: %s = (%d, %d), want (%d, %d)", r, qCount, n, seqs, r+1, want)
		}
	}
	return nil
}

// TestStmtManyClientsNoPins (must-show 1): 100 clients run prepared SELECTs with arguments and
// prepared INSERTs through cap 3. Every result is exact, the inserted rows are all there (read
// directly), and no session is ever seen pinned: the session list is sampled all along.
func TestStmtManyClientsNoPins(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS stmt_many")
	mustExec(t, direct, `CREATE TABLE stmt_many (client INT NOT NULL, seq INT NOT NULL,
		val VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL, PRIMARY KEY (client, seq))`)
	t.Cleanup(func() { _ = db.Exec("DROP TABLE IF EXISTS test.stmt_many") })
	root := rootDB(t)

	cfg := proxytest.Config(db, 3)
	cfg.Pool.AcquireTimeout.Duration = 30 * time.Second // 100 clients queue on 3 connections
	in := proxytest.Start(t, cfg)
	p := psClient(t, in, "test", nil)
	const clients, rounds = 100, 6
	conns := make([]*sql.Conn, clients)
	for i := range conns {
		conns[i] = holdConn(t, p)
	}
	wantNoPins(t, in, "after connecting")
	before := mustStatus(t, root, "Com_stmt_prepare", "Com_stmt_execute")
	borrows0 := in.Router().Stats().Borrows.Load()

	pins := watchPins(t, in)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	startAt := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := stmtManyClient(ctx, c, i, rounds); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("client %d: %v", i, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(startAt)
	pins.check(t, "while 100 clients ran prepared statements")
	for i, e := range errs {
		if i == 10 {
			t.Errorf("... and %d more client errors", len(errs)-10)
			break
		}
		t.Error(e)
	}
	wantNoPins(t, in, "after the run")

	after := mustStatus(t, root, "Com_stmt_prepare", "Com_stmt_execute")
	borrows := in.Router().Stats().Borrows.Load() - borrows0
	t.Logf("%d clients × %d rounds in %v: backend Com_stmt_prepare +%d, Com_stmt_execute +%d, %d borrows, pin samples %d",
		clients, rounds, elapsed.Round(time.Millisecond), after["Com_stmt_prepare"]-before["Com_stmt_prepare"],
		after["Com_stmt_execute"]-before["Com_stmt_execute"], borrows, pins.samples.Load())
	if got, want := after["Com_stmt_execute"]-before["Com_stmt_execute"], int64(clients*rounds*3); got != want {
		t.Errorf("backend Com_stmt_execute grew by %d, want %d (one per statement run)", got, want)
	}
	if st := in.Router().Pools()[0].Stats(); st.Open > 3 {
		t.Errorf("pool has %d connections open, cap 3", st.Open)
	}

	// Every inserted row, read directly.
	rows, err := direct.QueryContext(context.Background(), "SELECT client, seq, val FROM stmt_many ORDER BY client, seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var ci, seq int
		var val string
		if err := rows.Scan(&ci, &seq, &val); err != nil {
			t.Fatal(err)
		}
		if wc, ws := n/rounds, n%rounds; ci != wc || seq != ws || val != stmtVal(wc, ws) {
			t.Fatalf("row %d = (%d, %d, %q), want (%d, %d, %q)", n, ci, seq, val, wc, ws, stmtVal(wc, ws))
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != clients*rounds {
		t.Errorf("stmt_many has %d rows, want %d", n, clients*rounds)
	}
}

// TestStmtReusedAcrossClients (must-show 2): one statement, prepared once on each of 20 client
// connections and executed 50 times on each (1000 executions), gives the right rows every time,
// and the backend prepares it only about once per backend connection: the metadata is shared and
// each connection keeps its statement.
func TestStmtReusedAcrossClients(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS stmt_reuse")
	mustExec(t, direct, "CREATE TABLE stmt_reuse (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)")
	t.Cleanup(func() { _ = db.Exec("DROP TABLE IF EXISTS test.stmt_reuse") })
	for i := 0; i < 100; i += 10 {
		mustExec(t, direct, "INSERT INTO stmt_reuse VALUES "+valuesList(i, 10, func(id int) string {
			return fmt.Sprintf("(%d, 'name-%d')", id, id)
		}))
	}
	root := rootDB(t)

	const capConns, clients, execs = 3, 20, 50
	in := proxytest.Start(t, proxytest.Config(db, capConns))
	p := psClient(t, in, "test", nil)
	conns := make([]*sql.Conn, clients)
	for i := range conns {
		conns[i] = holdConn(t, p)
	}
	names := []string{"Com_stmt_prepare", "Com_stmt_execute", "Com_stmt_close", "Prepared_stmt_count"}
	before := mustStatus(t, root, names...)

	const q = "SELECT id, name, ? AS tag FROM stmt_reuse WHERE id = ?"
	pins := watchPins(t, in)
	// Phase 1: every client prepares the statement, all at once (as an application starting up).
	stmts := make([]*sql.Stmt, clients)
	var wg, ready sync.WaitGroup
	errs := make(chan error, clients)
	start := make(chan struct{})
	for i, c := range conns {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ready.Done()
			<-start
			st, err := c.PrepareContext(ctx, q)
			if err != nil {
				errs <- fmt.Errorf("client %d: prepare: %s", i, describeErr(err))
				return
			}
			stmts[i] = st
			t.Cleanup(func() { st.Close() })
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	prepared := mustStatus(t, root, names...)

	// Phase 2: 50 executions on each client connection, concurrently.
	errs = make(chan error, clients)
	for i, st := range stmts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for k := range execs {
				id := (i*execs + k) % 100
				tag := fmt.Sprintf("c%d-%d", i, k)
				var gotID int
				var name, gotTag string
				if err := st.QueryRowContext(ctx, tag, id).Scan(&gotID, &name, &gotTag); err != nil {
					errs <- fmt.Errorf("client %d, execution %d: %s", i, k, describeErr(err))
					return
				}
				if gotID != id || name != fmt.Sprintf("name-%d", id) || gotTag != tag {
					errs <- fmt.Errorf("client %d, execution %d: got (%d, %q, %q), want (%d, %q, %q)",
						i, k, gotID, name, gotTag, id, fmt.Sprintf("name-%d", id), tag)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	pins.check(t, "while 20 clients reused a statement")
	after := mustStatus(t, root, names...)
	d := func(from, to map[string]int64, n string) int64 { return to[n] - from[n] }
	t.Logf("cap %d, %d client connections: prepare phase: backend Com_stmt_prepare +%d, Com_stmt_close +%d; "+
		"%d executions: Com_stmt_prepare +%d, Com_stmt_execute +%d, Com_stmt_close +%d; Prepared_stmt_count %d -> %d -> %d",
		capConns, clients, d(before, prepared, "Com_stmt_prepare"), d(before, prepared, "Com_stmt_close"),
		clients*execs, d(prepared, after, "Com_stmt_prepare"), d(prepared, after, "Com_stmt_execute"), d(prepared, after, "Com_stmt_close"),
		before["Prepared_stmt_count"], prepared["Prepared_stmt_count"], after["Prepared_stmt_count"])
	if got := d(prepared, after, "Com_stmt_execute"); got != clients*execs {
		t.Errorf("backend Com_stmt_execute grew by %d, want %d", got, clients*execs)
	}
	// One text: at most one backend prepare per connection for the 20 PREPAREs (the metadata is
	// shared), and at most one more per connection for the 1000 EXECUTEs (lazy prepare, then kept).
	if got := d(before, prepared, "Com_stmt_prepare"); got < 1 || got > capConns {
		t.Errorf("20 concurrent PREPAREs of one text made %d backend prepares, want 1..%d (cap): the metadata is not shared", got, capConns)
	}
	if got := d(prepared, after, "Com_stmt_prepare"); got > capConns {
		t.Errorf("1000 EXECUTEs made %d backend prepares, want at most %d (one per backend connection): statements not kept per connection", got, capConns)
	}
	if got := d(before, after, "Com_stmt_prepare"); got > 2*capConns {
		t.Errorf("backend Com_stmt_prepare grew by %d in all, want at most %d (cap × 2)", got, 2*capConns)
	}
}

// valuesList builds "v(from), v(from+1), ..." for n ids.
func valuesList(from, n int, v func(id int) string) string {
	s := ""
	for id := from; id < from+n; id++ {
		if s != "" {
			s += ", "
		}
		s += v(id)
	}
	return s
}
