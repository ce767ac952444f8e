package integration

import (
	"context"
	"database/sql"
	"testing"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// BenchmarkStateReplay compares a statement that needs no replay with one that does (issue 4,
// must-show 7): on cap 1, one client alone ("plain"), then two clients with different sql_mode
// and time_zone taking turns, so every statement first replays the difference ("replay"), and
// the server's COM_RESET_CONNECTION that cleans a connection of unknown state ("reset").
//
//	go test -run '^$' -bench StateReplay ./integration/
func BenchmarkStateReplay(b *testing.B) {
	mariadbtest.Need(b, db)
	in := proxytest.Start(b, proxytest.Config(db, 1))
	p := proxyClient(b, in, "test")
	ctx := context.Background()
	one := func(c *sql.Conn) {
		var v int
		if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plain", func(b *testing.B) {
		c := holdConn(b, p)
		mustExec(b, c, "SET SESSION sql_mode = 'ANSI', time_zone = '+01:00'")
		b.ReportAllocs()
		for b.Loop() {
			one(c)
		}
	})
	b.Run("replay", func(b *testing.B) {
		a, c := holdConn(b, p), holdConn(b, p)
		mustExec(b, a, "SET SESSION sql_mode = 'ANSI', time_zone = '+01:00'")
		mustExec(b, c, "SET SESSION sql_mode = 'TRADITIONAL', time_zone = '+02:00'")
		syncs := in.Router().Stats().Syncs.Load()
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if n%2 == 0 {
				one(a)
			} else {
				one(c)
			}
			n++
		}
		if got := in.Router().Stats().Syncs.Load() - syncs; got < uint64(n)-1 {
			b.Fatalf("%d replays for %d alternating statements: the benchmark did not replay", got, n)
		}
	})
	b.Run("reset", func(b *testing.B) {
		d := &backend.Dialer{Addr: db.Addr, Password: func(string) (string, bool) { return "secret", true }}
		c, err := d.Dial(ctx, backend.Key{User: "app"}, "test")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit()
		for b.Loop() {
			if err := c.Reset(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
