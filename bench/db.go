package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// discardLogger drops the driver's log lines: errors are counted, not printed.
type discardLogger struct{}

func (discardLogger) Print(...any) {}

// openDB returns a pool of connections to addr (a unix socket when it starts with '/') as cfg's
// user, in database db. With interpolate, statements with parameters go as text (COM_QUERY);
// without, as server-side prepared statements. Several addresses separated by commas make one
// target: connections are dealt over them round robin (a fleet of proxies).
func openDB(cfg *Config, addr, db string, interpolate bool) (*sql.DB, error) {
	var s spread
	for _, a := range strings.Split(addr, ",") {
		c, err := connector(cfg, strings.TrimSpace(a), db, interpolate)
		if err != nil {
			return nil, err
		}
		s.cs = append(s.cs, c)
	}
	if len(s.cs) == 1 {
		return sql.OpenDB(s.cs[0]), nil
	}
	return sql.OpenDB(&s), nil
}

// spread deals new connections over several servers in turn.
type spread struct {
	cs   []driver.Connector
	next atomic.Uint64
}

func (s *spread) Connect(ctx context.Context) (driver.Conn, error) {
	return s.cs[(s.next.Add(1)-1)%uint64(len(s.cs))].Connect(ctx)
}

func (s *spread) Driver() driver.Driver { return s.cs[0].Driver() }

func connector(cfg *Config, addr, db string, interpolate bool) (driver.Connector, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.DBName = cfg.User, cfg.Password, db
	mc.Net, mc.Addr = "tcp", addr
	if strings.HasPrefix(addr, "/") {
		mc.Net = "unix"
	}
	mc.Timeout = cfg.ConnectTimeout
	mc.InterpolateParams = interpolate
	mc.Logger = discardLogger{}
	return mysql.NewConnector(mc)
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
