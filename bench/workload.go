package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// mode says how a workload's clients use connections.
type mode int

const (
	persistent mode = iota // one connection per client for the whole round, reopened only after it breaks
	churn                  // a new connection for every operation, closed after it
	idle                   // one connection per client, held without traffic
	mixed                  // one connection per client: some at full speed, some paced, the rest idle (Step)
)

// workload is one kind of load: how its clients use connections and what one operation is.
type workload struct {
	name        string
	about       string // one line for the usage text
	mode        mode
	interpolate bool // text protocol with client-side parameter interpolation, as sysbench's non-prepared mode
	txn         bool // an operation is a transaction: TPS is reported
	large       bool // reads bench_large rather than the sbtest tables
	// open runs on every new connection before its first operation (nil: nothing); its statements
	// are not counted.
	open func(ctx context.Context, s *session) error
	// do runs one operation and counts what it completed into t; nil for idle.
	do func(ctx context.Context, s *session, t *tally) error
}

// tally is what one operation completed.
type tally struct {
	queries int64
	rows    int64 // large-result: rows read
	bytes   int64 // large-result: bytes of column data read
}

// pointsPerTxn is the number of point selects in a read-only or read-write transaction, as sysbench's.
const pointsPerTxn = 10

func workloads() []workload {
	return []workload{
		{name: "point-select", about: "SELECT c FROM sbtestN WHERE id=? (text protocol)", interpolate: true, do: doPointSelect},
		{name: "read-only", about: "BEGIN, 10 point selects, COMMIT", interpolate: true, txn: true, do: doReadOnly},
		{name: "read-write", about: "BEGIN, 10 point selects, 2 UPDATEs, DELETE+INSERT, COMMIT (as sysbench oltp_read_write)", interpolate: true, txn: true, do: doReadWrite},
		{name: "connect-churn", about: "connect, one point select, disconnect", mode: churn, interpolate: true, do: doPointSelect},
		{name: "idle", about: "open the connections and hold them idle (RSS per connection with -target-pid)", mode: idle},
		{name: "large-result", about: "SELECT every row of bench_large (-result-rows rows): MB/s", large: true, do: doLargeResult},
		{name: "prepared", about: "server-side prepared point selects (COM_STMT_EXECUTE)", open: openPrepared, do: doPrepared},
		{name: "read-heavy", about: "10 point selects and 1 UPDATE, each in autocommit (what a read/write split serves)", interpolate: true, do: doReadHeavy},
		{name: "orm-mix", about: "SET NAMES, sql_mode, time_zone on each connection, then point selects", interpolate: true, open: openORM, do: doPointSelect},
		{name: "many-clients", about: "point selects: -fast clients at full speed, -active ones at -rate per second each, the rest connected and idle", mode: mixed, interpolate: true, do: doPointSelect},
	}
}

// WorkloadInfo names and describes a workload, for usage texts.
type WorkloadInfo struct{ Name, About string }

// Workloads lists the workloads Config.Workload may name.
func Workloads() []WorkloadInfo {
	var out []WorkloadInfo
	for _, w := range workloads() {
		out = append(out, WorkloadInfo{w.name, w.about})
	}
	return out
}

func lookupWorkload(name string) (workload, error) {
	var names []string
	for _, w := range workloads() {
		if w.name == name {
			return w, nil
		}
		names = append(names, w.name)
	}
	return workload{}, fmt.Errorf("-workload: unknown workload %q (want one of %s)", name, strings.Join(names, ", "))
}

func doPointSelect(ctx context.Context, s *session, t *tally) error {
	var c []byte
	if err := s.conn.QueryRowContext(ctx, s.plan.point[s.table()], s.id()).Scan(&c); err != nil {
		return err
	}
	t.queries++
	return nil
}

// inTxn runs body between BEGIN and COMMIT, sent as text statements on the connection as sysbench
// sends them (a database/sql Tx would add a goroutine per statement to the harness's cost), and
// rolls back when body fails.
func (s *session) inTxn(ctx context.Context, t *tally, body func() error) error {
	if _, err := s.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	t.queries++
	if err := body(); err != nil {
		if serverAnswered(err) {
			_, _ = s.conn.ExecContext(ctx, "ROLLBACK")
		}
		return err
	}
	if _, err := s.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	t.queries++
	return nil
}

// pointSelects runs the point selects of a transaction.
func (s *session) pointSelects(ctx context.Context, t *tally) error {
	for range pointsPerTxn {
		if err := doPointSelect(ctx, s, t); err != nil {
			return err
		}
	}
	return nil
}

func doReadOnly(ctx context.Context, s *session, t *tally) error {
	return s.inTxn(ctx, t, func() error { return s.pointSelects(ctx, t) })
}

func doReadWrite(ctx context.Context, s *session, t *tally) error {
	return s.inTxn(ctx, t, func() error {
		if err := s.pointSelects(ctx, t); err != nil {
			return err
		}
		p, tbl, id := s.plan, s.table(), s.id()
		writes := []struct {
			query string
			args  []any
		}{
			{p.updateK[tbl], []any{id}},
			{p.updateC[tbl], []any{sbText(s.rng, cGroups), s.id()}},
			{p.del[tbl], []any{id}},
			{p.insert[tbl], []any{id, s.id(), sbText(s.rng, cGroups), sbText(s.rng, padGroups)}},
		}
		for _, w := range writes {
			if _, err := s.conn.ExecContext(ctx, w.query, w.args...); err != nil {
				return err
			}
			t.queries++
		}
		return nil
	})
}

// doReadHeavy is ten autocommit point selects and one autocommit UPDATE: a web page's reads and
// its one write, with no transaction around them.
func doReadHeavy(ctx context.Context, s *session, t *tally) error {
	if err := s.pointSelects(ctx, t); err != nil {
		return err
	}
	if _, err := s.conn.ExecContext(ctx, s.plan.updateK[s.table()], s.id()); err != nil {
		return err
	}
	t.queries++
	return nil
}

func doLargeResult(ctx context.Context, s *session, t *tally) error {
	rows, err := s.conn.QueryContext(ctx, s.plan.large)
	if err != nil {
		return err
	}
	defer rows.Close()
	var id, k, c, pad sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id, &k, &c, &pad); err != nil {
			return err
		}
		t.rows++
		t.bytes += int64(len(id) + len(k) + len(c) + len(pad))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	t.queries++
	return nil
}

// openPrepared prepares the point select of every table on the new connection.
func openPrepared(ctx context.Context, s *session) error {
	for _, q := range s.plan.point {
		st, err := s.conn.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		s.stmts = append(s.stmts, st)
	}
	return nil
}

func doPrepared(ctx context.Context, s *session, t *tally) error {
	var c []byte
	if err := s.stmts[s.table()].QueryRowContext(ctx, s.id()).Scan(&c); err != nil {
		return err
	}
	t.queries++
	return nil
}

// openORM sends the session opening typical of ORMs and frameworks, which a multiplexing proxy has
// to carry over to whichever backend connection serves the client.
func openORM(ctx context.Context, s *session) error {
	for _, q := range []string{
		"SET NAMES utf8mb4",
		"SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE'",
		"SET time_zone='+00:00'",
	} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
