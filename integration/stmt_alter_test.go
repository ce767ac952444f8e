package integration

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// Issue 5, must-show 6: ALTER TABLE ... ADD COLUMN between PREPARE and EXECUTE. The statement's
// executions afterwards return the new column, whichever backend connection they run on (one
// that prepared the statement before the ALTER, or one that prepares it after), and a new
// PREPARE of the same text announces the new column count, as MariaDB itself does. The ALTER is
// run once through the proxy (which sees it) and once directly on MariaDB (which it does not: a
// PREPARE is checked only after executions have shown the proxy the new columns).

// rowsOf runs a prepared query and returns its column names and its rows as strings.
func rowsOf(rows *sql.Rows, err error) (cols []string, out [][]string, _ error) {
	if err != nil {
		return nil, nil, fmt.Errorf("%s", describeErr(err))
	}
	defer rows.Close()
	if cols, err = rows.Columns(); err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "<NULL>"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	return cols, out, rows.Err()
}

func TestStmtAlterBetweenPrepareAndExecute(t *testing.T) {
	mariadbtest.Need(t, db)
	for _, via := range []string{"through_proxy", "directly"} {
		t.Run(via, func(t *testing.T) {
			const q = "SELECT * FROM stmt_alter WHERE id = ?"
			direct := directClient(t, "test")
			mustExec(t, direct, "DROP TABLE IF EXISTS stmt_alter")
			mustExec(t, direct, "CREATE TABLE stmt_alter (id INT PRIMARY KEY, c1 VARCHAR(10))")
			mustExec(t, direct, "INSERT INTO stmt_alter VALUES (1, 'one'), (2, 'two'), (3, 'three')")
			t.Cleanup(func() { _ = db.Exec("DROP TABLE IF EXISTS test.stmt_alter") })

			cfg := proxytest.Config(db, 3)
			cfg.Pool.AcquireTimeout.Duration = 20 * time.Second
			in := proxytest.Start(t, cfg)
			p := psClient(t, in, "test", nil)
			a := holdConn(t, p)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			st, err := a.PrepareContext(ctx, q)
			if err != nil {
				t.Fatalf("prepare: %s", describeErr(err))
			}
			defer st.Close()
			want := func(step string, cols []string, rows [][]string, wantCols []string, wantRow ...string) {
				t.Helper()
				if !slices.Equal(cols, wantCols) || len(rows) != 1 || !slices.Equal(rows[0], wantRow) {
					t.Errorf("%s: columns %q, rows %q; want columns %q, row %q", step, cols, rows, wantCols, wantRow)
				}
			}
			// Before: executed on every backend connection, so each has it prepared with the old
			// columns (background clients keep the connections turning over).
			bg := startBackground(t, p, 4, func(ctx context.Context, c *sql.Conn, i int) error {
				var n int
				return c.QueryRowContext(ctx, "SELECT ? + 0 FROM (SELECT SLEEP(0.002)) s", i).Scan(&n)
			})
			for r := range 20 {
				cols, rows, err := rowsOf(st.QueryContext(ctx, 1+r%3))
				if err != nil {
					t.Fatalf("execute before the ALTER: %v", err)
				}
				if !slices.Equal(cols, []string{"id", "c1"}) || len(rows) != 1 {
					t.Fatalf("before the ALTER: columns %q, rows %q", cols, rows)
				}
			}
			// Another client prepares the same text: its metadata is now shared.
			if cols, rows, err := rowsOf(holdConn(t, p).QueryContext(ctx, q, 2)); err != nil {
				t.Fatal(err)
			} else {
				want("another client before the ALTER", cols, rows, []string{"id", "c1"}, "2", "two")
			}
			bg.stop()

			alter := "ALTER TABLE stmt_alter ADD COLUMN c2 INT DEFAULT 7"
			if via == "through_proxy" {
				mustExec(t, holdConn(t, proxyClient(t, in, "test")), alter)
			} else {
				mustExec(t, direct, alter)
			}
			newCols := []string{"id", "c1", "c2"}

			// A PREPARE right after the ALTER, before any EXECUTE: through the proxy, the ALTER
			// cleared the metadata cache, so the new column must be announced. Done directly, the
			// proxy cannot know yet (README's caveat: the cached metadata goes once an EXECUTE
			// shows other columns), so that case is only logged.
			early := rawPSConnect(t, in.Addr())
			est, err := early.Prepare(q)
			if err != nil {
				t.Fatalf("PREPARE right after the ALTER: %v", err)
			}
			if via == "through_proxy" && est.ColumnNum() != 3 {
				t.Errorf("PREPARE right after an ALTER through the proxy announces %d columns, want 3", est.ColumnNum())
			} else {
				t.Logf("PREPARE right after the ALTER (%s) announces %d columns (MariaDB: 3)", via, est.ColumnNum())
			}
			_ = est.Close()

			bg = startBackground(t, p, 4, func(ctx context.Context, c *sql.Conn, i int) error {
				var n int
				return c.QueryRowContext(ctx, "SELECT ? + 0 FROM (SELECT SLEEP(0.002)) s", i).Scan(&n)
			})
			names := []string{"one", "two", "three"}
			for r := range 30 {
				id := 1 + r%3
				// The statement prepared before the ALTER.
				cols, rows, err := rowsOf(st.QueryContext(ctx, id))
				if err != nil {
					t.Fatalf("round %d: execute after the ALTER: %v", r, err)
				}
				want(fmt.Sprintf("round %d: the statement prepared before the ALTER", r), cols, rows, newCols, fmt.Sprint(id), names[id-1], "7")
				// A new PREPARE of the same text (go-sql-driver prepares, executes, closes).
				cols, rows, err = rowsOf(a.QueryContext(ctx, q, id))
				if err != nil {
					t.Fatalf("round %d: prepare and execute after the ALTER: %v", r, err)
				}
				want(fmt.Sprintf("round %d: a new prepare after the ALTER", r), cols, rows, newCols, fmt.Sprint(id), names[id-1], "7")
			}
			bg.stop()

			// What a PREPARE announces: MariaDB says 3 columns now; so must the proxy (clients that
			// bind result columns at prepare time rely on it).
			rc := rawPSConnect(t, db.Addr)
			dst, err := rc.Prepare(q)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			rp := rawPSConnect(t, in.Addr())
			pst, err := rp.Prepare(q)
			if err != nil {
				t.Fatal(err)
			}
			defer pst.Close()
			if pst.ColumnNum() != dst.ColumnNum() || pst.ParamNum() != dst.ParamNum() {
				t.Errorf("PREPARE after the ALTER through the proxy: %d columns, %d params; MariaDB says %d columns, %d params",
					pst.ColumnNum(), pst.ParamNum(), dst.ColumnNum(), dst.ParamNum())
			}
			row, cols, err := rawStmtRow(pst, int64(3))
			if err != nil {
				t.Fatalf("raw EXECUTE after the ALTER: %v", err)
			}
			want("raw client's EXECUTE after the ALTER", cols, [][]string{row}, newCols, "3", "three", "7")
			wantNoPins(t, in, "after the ALTER")
		})
	}
}
