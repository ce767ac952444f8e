package parity

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The fixture: two databases; per client two tables in each and a procedure that inserts; shared
// read-only routines; the observers' tables and their temporary-table probe. The same statements
// run on the proxied server and on the direct one, so both start alike.

// sharedFixture creates the databases and what every client shares. The routines exist in both
// databases under the same names (those of the second call the first's).
func sharedFixture() []string {
	q := []string{
		"DROP DATABASE IF EXISTS " + dbMain,
		"DROP DATABASE IF EXISTS " + dbOther,
		"CREATE DATABASE " + dbMain,
		"CREATE DATABASE " + dbOther,
		"CREATE TABLE " + dbMain + ".probe (k INT PRIMARY KEY, v INT)",
		"INSERT INTO " + dbMain + ".probe VALUES (1, 1)",
		"CREATE TABLE " + dbMain + ".probe_w (k INT PRIMARY KEY, n INT)",
		"CREATE PROCEDURE " + dbMain + ".p_out(OUT o INT, INOUT io INT) BEGIN SET o = 7; SET io = io * 2 + 1; END",
		"CREATE FUNCTION " + dbMain + ".f_set(x INT) RETURNS INT DETERMINISTIC NO SQL BEGIN SET @fv = x; RETURN x + 1; END",
		"CREATE FUNCTION " + dbMain + ".f_plain(x INT) RETURNS INT DETERMINISTIC NO SQL RETURN x * 3",
		"CREATE PROCEDURE " + dbMain + ".p_lock(name VARCHAR(64)) SELECT GET_LOCK(name, 0)",
		"CREATE PROCEDURE " + dbMain + ".p_uv() SET @pu = 1",
		"CREATE PROCEDURE " + dbMain + ".p_tz() SET time_zone = '+03:00'",
		"CREATE PROCEDURE " + dbMain + ".p_tmp() CREATE TEMPORARY TABLE IF NOT EXISTS tt3 (a INT)",
		"CREATE PROCEDURE " + dbMain + ".p_exec(q TEXT) BEGIN SET @pq = q; PREPARE p_exec_stmt FROM @pq; " +
			"EXECUTE p_exec_stmt; DEALLOCATE PREPARE p_exec_stmt; END",
		probeTempFunction(),
		"CREATE PROCEDURE " + dbOther + ".p_tmp() CREATE TEMPORARY TABLE IF NOT EXISTS tt3 (a INT)",
		"CREATE FUNCTION " + dbOther + ".f_set(x INT) RETURNS INT DETERMINISTIC NO SQL RETURN " + dbMain + ".f_set(x)",
		"CREATE FUNCTION " + dbOther + ".f_plain(x INT) RETURNS INT DETERMINISTIC NO SQL RETURN x * 3",
	}
	for _, r := range []string{"p_out(OUT o INT, INOUT io INT)", "p_lock(name VARCHAR(64))", "p_uv()", "p_tz()", "p_exec(q TEXT)"} {
		name, params, _ := strings.Cut(r, "(")
		q = append(q, fmt.Sprintf("CREATE PROCEDURE %s.%s(%s CALL %s.%s(%s)", dbOther, name, params, dbMain, name, argNames("("+params)))
	}
	return q
}

// argNames turns "(OUT o INT, INOUT io INT)" into "o, io".
func argNames(params string) string {
	params = strings.Trim(params, "()")
	if params == "" {
		return ""
	}
	var names []string
	for _, p := range strings.Split(params, ",") {
		f := strings.Fields(p)
		if len(f) == 3 {
			names = append(names, f[1])
		} else {
			names = append(names, f[0])
		}
	}
	return strings.Join(names, ", ")
}

// tempNames are the temporary tables clients create, in either database; the observers look for them.
var tempNames = []string{"tt1", "tt2", "tt3"}

// probeTempFunction returns CREATE FUNCTION probe_tmp(): the temporary tables tt1..tt3 of either
// database visible to the calling session, as "db.name,…" (empty when none). A missing table is
// caught inside, so the probe leaves no warning behind.
func probeTempFunction() string {
	var b strings.Builder
	b.WriteString("CREATE FUNCTION " + dbMain + ".probe_tmp() RETURNS VARCHAR(200) READS SQL DATA BEGIN DECLARE r VARCHAR(200) DEFAULT ''; ")
	for _, db := range []string{dbMain, dbOther} {
		for _, t := range tempNames {
			fmt.Fprintf(&b, "BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN END; DO (SELECT COUNT(*) FROM %s.%s); SET r = CONCAT(r, '%s.%s,'); END; ", db, t, db, t)
		}
	}
	b.WriteString("RETURN r; END")
	return b.String()
}

// clientReset recreates the objects of client id (after a difference, the two sides of a client
// did different things to them).
func clientReset(id int) []string {
	n := namesFor(id)
	// Statistics fixed at creation: recomputed in the background, they could differ between the
	// two servers and with them a join's plan, and a plan with a temporary table drops the key
	// flags of the columns it returns (seed 553).
	const stats = " ENGINE=InnoDB STATS_PERSISTENT=1 STATS_AUTO_RECALC=0"
	var q []string
	for _, db := range []string{dbMain, dbOther} {
		q = append(q, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s, %s.%s", db, n.T, db, n.U), fmt.Sprintf("DROP PROCEDURE IF EXISTS %s.%s", db, n.P))
	}
	return append(q, clientFixture(id)...)
}

// clientFixture creates the objects of client id.
func clientFixture(id int) []string {
	n := namesFor(id)
	// Statistics fixed at creation: recomputed in the background, they could differ between the
	// two servers and with them a join's plan, and a plan with a temporary table drops the key
	// flags of the columns it returns (seed 553).
	const stats = " ENGINE=InnoDB STATS_PERSISTENT=1 STATS_AUTO_RECALC=0"
	var q []string
	for _, db := range []string{dbMain, dbOther} {
		q = append(q,
			fmt.Sprintf("CREATE TABLE %s.%s (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(16))"+stats, db, n.T),
			fmt.Sprintf("INSERT INTO %s.%s (v, s) VALUES (1, 'one'), (2, 'two'), (3, 'three')", db, n.T),
			fmt.Sprintf("CREATE TABLE %s.%s (k INT PRIMARY KEY, v INT)"+stats, db, n.U),
			fmt.Sprintf("INSERT INTO %s.%s VALUES (1, 10), (2, 20)", db, n.U),
			fmt.Sprintf("CREATE PROCEDURE %s.%s() INSERT INTO %s.%s (v, s) VALUES (99, 'proc')", db, n.P, dbMain, n.T))
	}
	return q
}

// admin is a root connection to one server, for fixtures and checks.
type admin struct {
	c *Conn
}

func dialAdmin(ctx context.Context, s server) (*admin, error) {
	c, err := Dial(ctx, Login{Addr: s.AdminAddr, User: "root", Collation: 45, TLS: s.TLS, Caps: 0})
	if err != nil {
		return nil, fmt.Errorf("parity: root connection to %s: %w", s.AdminAddr, err)
	}
	a := &admin{c: c}
	// A fixture statement waiting on a lock this long means a client's lock outlived it.
	return a, a.exec("SET SESSION lock_wait_timeout = 15")
}

// exec runs statements and fails on the first error.
func (a *admin) exec(stmts ...string) error {
	for _, q := range stmts {
		o := a.c.Query(q)
		if o.Err != nil || o.Lost != "" {
			return fmt.Errorf("parity: fixture %q: %s", q, o.Short())
		}
	}
	return nil
}

// int runs a query returning one number.
func (a *admin) int(q string) (int64, error) {
	o := a.c.Query(q)
	if o.Err != nil || o.Lost != "" || len(o.Results) == 0 || len(o.Results[0].Rows) != 1 {
		return 0, fmt.Errorf("parity: %q: %s", q, o.Short())
	}
	var v int64
	if _, err := fmt.Sscanf(strings.Trim(o.Results[0].Rows[0], `()"`), "%d", &v); err != nil {
		return 0, fmt.Errorf("parity: %q: %s", q, o.Short())
	}
	return v, nil
}

// rollbackXA ends the XA transactions clients left prepared (they outlive their connection and
// would hold locks on the tables the fixture drops).
func (a *admin) rollbackXA() error {
	for range 1000 {
		o := a.c.Query("XA RECOVER")
		if o.Err != nil || o.Lost != "" || len(o.Results) != 1 {
			return fmt.Errorf("parity: XA RECOVER: %s", o.Short())
		}
		if o.Results[0].NRows == 0 {
			return nil
		}
		for _, row := range o.Results[0].Rows {
			// formatID, gtrid_length, bqual_length, data
			if f := splitRow(row); len(f) == 4 {
				if err := a.exec("XA ROLLBACK " + quote(f[3])); err != nil {
					return err
				}
			}
		}
	}
	return errors.New("parity: XA transactions keep coming back")
}

func (a *admin) close() { a.c.Quit() }
