package admin

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// digestRow returns SHOW DIGESTS' row whose digest_text is text (nil if none).
func digestRow(t *testing.T, adm queryer, text string) map[string]string {
	t.Helper()
	for _, r := range rowsOf(t, adm, "SHOW DIGESTS") {
		if r["digest_text"] == text {
			return r
		}
	}
	return nil
}

func TestShowDigestsGroupsLiterals(t *testing.T) {
	// One backend connection: which statement ids it holds is known (see the prepared part).
	f := setupWith(t, nil, func(c *config.Config) { c.Pool.MaxConnections = 1 })
	adm := f.admin(t)
	c := f.client(t)
	mustExec(t, c, "CREATE TABLE IF NOT EXISTS digest_t (id INT PRIMARY KEY, v VARCHAR(10))")
	mustExec(t, c, "REPLACE INTO digest_t VALUES (1, 'a'), (2, 'b')")
	mustExec(t, adm, "RESET DIGESTS")

	rowsOf(t, c, "SELECT * FROM digest_t WHERE id = 1")
	rowsOf(t, c, "SELECT * FROM digest_t WHERE id = 2")
	if _, err := tryRows(c, "SELECT * FROM digest_t WHERE nosuch = 3"); err == nil {
		t.Fatal("a query of a missing column succeeded")
	}
	const text = "select * from `digest_t` where `id` = ?"
	// The session reports a statement just after its answer's last byte: poll.
	eventually(t, "SHOW DIGESTS groups the two selects", func() (bool, string) {
		r := digestRow(t, adm, text)
		return r != nil && r["count"] == "2", fmt.Sprint(r)
	})
	r := digestRow(t, adm, text)
	if r["rows_sent"] != "2" || r["errors"] != "0" || len(r["digest"]) != 64 || r["first_seen"] == "" || r["last_seen"] < r["first_seen"] {
		t.Errorf("digest row: %v", r)
	}
	if sum, _ := strconv.ParseFloat(r["sum_time_ms"], 64); sum <= 0 {
		t.Errorf("sum_time_ms %q, want > 0", r["sum_time_ms"])
	}
	eventually(t, "the failed statement counted as an error", func() (bool, string) {
		r := digestRow(t, adm, "select * from `digest_t` where `nosuch` = ?")
		return r != nil && r["count"] == "1" && r["errors"] == "1", fmt.Sprint(r)
	})

	// A prepared statement of the same shape is the same digest. Another client prepares it
	// first and this one another statement before it, so that the id this client knows is not
	// the backend's (the proxy rewrites it in the EXECUTE).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.client(t).ExecContext(ctx, "SELECT * FROM digest_t WHERE id = ?", 2); err != nil {
		t.Fatal(err)
	}
	first, err := c.PrepareContext(ctx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	stmt, err := c.PrepareContext(ctx, "SELECT * FROM digest_t WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	var id int
	var v string
	if err := stmt.QueryRowContext(ctx, 1).Scan(&id, &v); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the prepared EXECUTEs join the row", func() (bool, string) {
		r := digestRow(t, adm, text)
		return r != nil && r["count"] == "4", fmt.Sprint(r)
	})

	mustExec(t, adm, "RESET DIGESTS")
	if rows := rowsOf(t, adm, "SHOW DIGESTS"); len(rows) != 0 {
		t.Errorf("after RESET DIGESTS: %v", rows)
	}
}

// 10,000 statements of distinct shapes through the proxy leave at most digest_rows rows, and
// every statement is counted (in its own row, the overflow row, or as dropped).
func TestDigestTableStaysBounded(t *testing.T) {
	const maxRows, n, workers = 50, 10000, 4
	f := setupWith(t, nil, func(c *config.Config) { c.Admin.DigestRows = maxRows })
	adm := f.admin(t)
	p, err := sql.Open("mysql", proxytest.DSN(f.in.Addr(), mariadbtest.AppUser, mariadbtest.AppPassword, "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetMaxOpenConns(workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if _, err := p.Exec(fmt.Sprintf("SELECT %d AS c%d", i, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var total uint64
	eventually(t, "every statement counted", func() (bool, string) {
		rows := rowsOf(t, adm, "SHOW DIGESTS")
		if len(rows) > maxRows {
			t.Fatalf("SHOW DIGESTS has %d rows, digest_rows is %d", len(rows), maxRows)
		}
		total = 0
		for _, r := range rows {
			c, _ := strconv.ParseUint(r["count"], 10, 64)
			total += c
		}
		dropped, _ := strconv.ParseUint(stats(t, adm)["digest_dropped"], 10, 64)
		return total+dropped >= n, fmt.Sprintf("%d rows, %d counted, %d dropped", len(rows), total, dropped)
	})
	other := digestRow(t, adm, "(other statements: the digest table was full)")
	if other == nil || other["digest"] != "NULL" {
		t.Errorf("overflow row: %v", other)
	}
	t.Logf("%d statements of distinct shapes: %d counted in %d rows", n, total, maxRows)
}
