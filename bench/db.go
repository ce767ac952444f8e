package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// discardLogger drops the driver's log lines: errors are counted, not printed.
type discardLogger struct{}

func (discardLogger) Print(...any) {}

// openDB returns a pool of connections to addr (a unix socket when it starts with '/') as cfg's
// user, in database db. With interpolate, statements with parameters go as text (COM_QUERY);
// without, as server-side prepared statements.
func openDB(cfg *Config, addr, db string, interpolate bool) (*sql.DB, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.DBName = cfg.User, cfg.Password, db
	mc.Net, mc.Addr = "tcp", addr
	if strings.HasPrefix(addr, "/") {
		mc.Net = "unix"
	}
	mc.Timeout = cfg.ConnectTimeout
	mc.InterpolateParams = interpolate
	mc.Logger = discardLogger{}
	c, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// preflight connects to the target once, checks the workload's tables and the target process, so
// that an unreachable target, a missing -prepare or a wrong pid stops the run before any load.
func preflight(ctx context.Context, cfg *Config, w *workload, t Target) error {
	if t.PID > 0 {
		if _, err := sampleProc(t.PID); err != nil {
			return err
		}
	}
	db, err := openDB(cfg, t.Addr, cfg.DB, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	return checkTables(ctx, cfg, w, db)
}
