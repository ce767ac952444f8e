package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// A backend named by the path of its Unix socket: sessions share its connections, replay their
// state and run prepared statements on them as over TCP, and the server sees them come from
// localhost. Statements are prepared on the server (binary protocol).
func TestUnixSocketBackend(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 2)
	cfg.Backends[0].Address = db.Socket()
	in := proxytest.Start(t, cfg)
	p := proxyClient(t, in, "test")
	p.SetMaxOpenConns(10)

	if host := mustString(t, p, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()"); host != "localhost" {
		t.Fatalf("the backend connection comes from %q, want localhost (the socket)", host)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Conn(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			tz := fmt.Sprintf("+%02d:00", i)
			if _, err := c.ExecContext(context.Background(), "SET time_zone = ?", tz); err != nil {
				errs <- err
				return
			}
			stmt, err := c.PrepareContext(context.Background(), "SELECT @@time_zone, ? + 1")
			if err != nil {
				errs <- err
				return
			}
			defer stmt.Close()
			for range 20 {
				var got string
				var sum int
				if err := stmt.QueryRowContext(context.Background(), i).Scan(&got, &sum); err != nil {
					errs <- err
					return
				}
				if got != tz || sum != i+1 {
					errs <- fmt.Errorf("client %d read time_zone %q and %d, want %q and %d", i, got, sum, tz, i+1)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	direct := directClient(t, "test")
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' AND HOST = 'localhost'"); n > 2 {
		t.Fatalf("%d backend connections for a cap of 2", n)
	}
}
