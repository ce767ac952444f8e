package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
)

// largeTable is the table large-result reads whole.
const largeTable = "bench_large"

// fillBatch is the number of rows per INSERT statement when filling a table (about 200 KB).
const fillBatch = 1000

// table is a table a workload reads; -prepare fills it with ids 1..rows.
type table struct {
	name string
	rows int
}

// tables lists the tables the workload reads.
func (w *workload) tables(cfg *Config) []table {
	switch {
	case w.mode == idle:
		return nil
	case w.large:
		return []table{{largeTable, cfg.ResultRows}}
	}
	var ts []table
	for i := 1; i <= cfg.Tables; i++ {
		ts = append(ts, table{sbTable(i), cfg.TableSize})
	}
	return ts
}

// Prepare creates cfg.DB and the tables cfg.Workload reads on every target, with sysbench's schema
// (id INT AUTO_INCREMENT primary key, k INT indexed, c CHAR(120), pad CHAR(60)). A table that
// already holds exactly ids 1..N for the wanted N is kept, any other is dropped and refilled, so
// Prepare is idempotent and cheap once done.
func Prepare(ctx context.Context, cfg Config) error {
	w, err := cfg.validateSetup()
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, t := range cfg.Targets {
		if done[t.Addr] {
			continue
		}
		done[t.Addr] = true
		if err := prepareTarget(ctx, &cfg, &w, t.Addr); err != nil {
			return fmt.Errorf("prepare %s: %w", t.Addr, err)
		}
	}
	return nil
}

func prepareTarget(ctx context.Context, cfg *Config, w *workload, addr string) error {
	db, err := openDB(cfg, addr, "", true)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(cfg.DB)); err != nil {
		return err
	}
	for i, t := range w.tables(cfg) {
		if err := prepareTable(ctx, cfg, db, t, uint64(i)); err != nil {
			return fmt.Errorf("%s.%s: %w", cfg.DB, t.name, err)
		}
	}
	return nil
}

func prepareTable(ctx context.Context, cfg *Config, db *sql.DB, t table, seed uint64) error {
	name := quoteIdent(cfg.DB) + "." + quoteIdent(t.name)
	var n, maxID int64
	err := db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM "+name).Scan(&n, &maxID)
	switch {
	case err == nil && n == int64(t.rows) && maxID == int64(t.rows):
		cfg.logf("%s.%s: kept (%d rows)\n", cfg.DB, t.name, n)
		return nil
	case err != nil && ErrorKind(err) != "1146":
		return err
	}
	cfg.logf("%s.%s: filling %d rows\n", cfg.DB, t.name, t.rows)
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + name,
		"CREATE TABLE " + name + ` (
			id INT NOT NULL AUTO_INCREMENT,
			k INT NOT NULL DEFAULT 0,
			c CHAR(120) NOT NULL DEFAULT '',
			pad CHAR(60) NOT NULL DEFAULT '',
			PRIMARY KEY (id),
			KEY k_1 (k)
		) ENGINE=InnoDB`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var b strings.Builder
	for first := 1; first <= t.rows; first += fillBatch {
		b.Reset()
		b.WriteString("INSERT INTO " + name + " (id, k, c, pad) VALUES ")
		for id := first; id < first+fillBatch && id <= t.rows; id++ {
			if id > first {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%d,%d,'%s','%s')", id, 1+rng.IntN(t.rows), sbText(rng, cGroups), sbText(rng, padGroups))
		}
		if _, err := db.ExecContext(ctx, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// checkTables verifies that the workload's tables exist and hold the ids it picks, so that a
// missing -prepare is a clear setup error rather than a run full of errors.
func checkTables(ctx context.Context, cfg *Config, w *workload, db *sql.DB) error {
	for _, t := range w.tables(cfg) {
		var maxID int64
		err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM "+quoteIdent(t.name)).Scan(&maxID)
		switch {
		case err != nil && ErrorKind(err) == "1146":
			return fmt.Errorf("table %s.%s does not exist: run with -prepare", cfg.DB, t.name)
		case err != nil:
			return fmt.Errorf("checking %s.%s: %w", cfg.DB, t.name, err)
		case maxID < int64(t.rows):
			return fmt.Errorf("table %s.%s holds ids up to %d, fewer than the %d wanted: run with -prepare",
				cfg.DB, t.name, maxID, t.rows)
		}
	}
	return nil
}

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// logf writes a notice to c.Log, if set.
func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format, args...)
	}
}
