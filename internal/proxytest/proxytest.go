// Package proxytest starts an in-process mysqlmux in front of a throwaway MariaDB for tests.
package proxytest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// Config returns a configuration for a proxy on a free loopback port in front of srv, with the
// test accounts of mariadbtest (app/secret, other/secret2) and pool cap maxConns.
func Config(srv *mariadbtest.Server, maxConns int) *config.Config {
	cfg := config.Defaults()
	cfg.Proxy.Listen = "127.0.0.1:0"
	cfg.Pool.MaxConnections = maxConns
	cfg.Backends = []config.BackendConfig{{Address: srv.Addr}}
	cfg.Users = []config.UserConfig{{Name: "app", Password: "secret"}, {Name: "other", Password: "secret2"}}
	return &cfg
}

// Start runs a proxy with cfg (validated first) and shuts it down in tb.Cleanup. Logs go to the
// test log when MYSQLMUX_TEST_LOG=1.
func Start(tb testing.TB, cfg *config.Config) *proxy.Instance {
	tb.Helper()
	var out io.Writer = io.Discard
	if os.Getenv("MYSQLMUX_TEST_LOG") == "1" {
		out = os.Stderr
	}
	return StartWithLog(tb, cfg, slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// StartWithLog is Start with the proxy logging to log (for tests that check what it logs).
func StartWithLog(tb testing.TB, cfg *config.Config, log *slog.Logger) *proxy.Instance {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("proxytest: invalid config: %v", err)
	}
	in, err := proxy.Start(cfg, log)
	if err != nil {
		tb.Fatalf("proxytest: start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.Shutdown(ctx); err != nil {
			tb.Errorf("proxytest: shutdown: %v", err)
		}
	})
	return in
}

// DSN returns a go-sql-driver DSN for addr.
func DSN(addr, user, password, db string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = user, password, "tcp", addr, db
	return c.FormatDSN()
}
