// Package shapes runs the proxy in front of MariaDB servers in the shapes people run them
// (mariadbtest.Shapes: the binary log on, latin1, a short wait_timeout, TLS only, ...): on each a
// smoke set compared with a direct connection, and the checks that shape calls for.
package shapes

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// env is one server of a shape with a proxy in front of it.
type env struct {
	shape mariadbtest.Shape
	srv   *mariadbtest.Server
	in    *proxy.Instance
}

// checks are what each shape runs besides the smoke set, by shape name.
var checks = map[string][]struct {
	name string
	run  func(t *testing.T, e *env)
}{}

// addCheck registers a check for the named shapes.
func addCheck(name string, run func(*testing.T, *env), shapes ...string) {
	for _, s := range shapes {
		checks[s] = append(checks[s], struct {
			name string
			run  func(*testing.T, *env)
		}{name, run})
	}
}

func TestShapes(t *testing.T) {
	for _, sh := range mariadbtest.Shapes() {
		t.Run(sh.Name, func(t *testing.T) {
			t.Parallel()
			e := start(t, sh, 2)
			t.Run("smoke", func(t *testing.T) { smoke(t, e) })
			for _, c := range checks[sh.Name] {
				t.Run(c.name, func(t *testing.T) { c.run(t, e) })
			}
		})
	}
}

// start starts a server of shape sh and a proxy with cap maxConns in front of it.
func start(t *testing.T, sh mariadbtest.Shape, maxConns int) *env {
	t.Helper()
	srv := mariadbtest.StartTB(t, sh.Options)
	return &env{shape: sh, srv: srv, in: proxyFor(t, srv, maxConns, nil)}
}

// proxyFor starts a proxy with cap maxConns in front of srv (over TLS when srv demands it).
func proxyFor(t *testing.T, srv *mariadbtest.Server, maxConns int, tweak func(*config.Config)) *proxy.Instance {
	t.Helper()
	cfg := proxytest.Config(srv, maxConns)
	cfg.Pool.AcquireTimeout = config.Duration{Duration: 20 * time.Second}
	if srv.TLSOnly() {
		cfg.Backends[0].TLS, cfg.Backends[0].TLSCA = config.TLSVerifyIdentity, srv.CAFile()
	}
	if tweak != nil {
		tweak(cfg)
	}
	return proxytest.Start(t, cfg)
}

// clientDSN is a go-sql-driver DSN for addr (the proxy's, or a server's without TLS).
func clientDSN(addr, dbName string, tweak func(*mysql.Config)) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = mariadbtest.AppUser, mariadbtest.AppPassword, "tcp", addr, dbName
	c.MultiStatements = true
	if tweak != nil {
		tweak(c)
	}
	return c.FormatDSN()
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	p, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// proxyPool and directPool open client pools through the proxy and straight to the server.
func (e *env) proxyPool(t *testing.T, dbName string) *sql.DB {
	return open(t, clientDSN(e.in.Addr(), dbName, nil))
}

func (e *env) directPool(t *testing.T, dbName string) *sql.DB {
	dsn := e.srv.DSN(mariadbtest.AppUser, mariadbtest.AppPassword, dbName)
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c.MultiStatements = true
	return open(t, c.FormatDSN())
}

// conn takes one connection out of p for the test.
func conn(t *testing.T, p *sql.DB) *sql.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rows runs q and returns its result as text, one line per row ("NULL" for NULL), or the error
// as "ERROR code (state)". With arguments, go-sql-driver prepares q on the server.
func rows(c *sql.Conn, q string, args ...any) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return errText(err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return errText(err)
	}
	var b strings.Builder
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return errText(err)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('|')
			}
			if v.Valid {
				b.WriteString(v.String)
			} else {
				b.WriteString("NULL")
			}
		}
		b.WriteByte('\n')
	}
	if err := rs.Err(); err != nil {
		return b.String() + errText(err)
	}
	return b.String()
}

func errText(err error) string {
	if me, ok := err.(*mysql.MySQLError); ok {
		return fmt.Sprintf("ERROR %d (%s)", me.Number, string(me.SQLState[:]))
	}
	return "ERROR " + err.Error()
}
