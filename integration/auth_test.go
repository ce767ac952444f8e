package integration

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// TestLoginRefused: a wrong password and an unknown user get ERROR 1045 (28000) from the proxy,
// like from MariaDB; the right password still gets in.
func TestLoginRefused(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 1))
	cases := []struct {
		name, user, password string
	}{
		{"wrong password", mariadbtest.AppUser, "not-the-password"},
		{"empty password", mariadbtest.AppUser, ""},
		{"unknown user", "nobody_mysqlmux", "secret"},
		{"password of another user", mariadbtest.OtherUser, mariadbtest.AppPassword},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tweak := func(cfg *mysql.Config) { cfg.User, cfg.Passwd = c.user, c.password }
			perr := openPool(t, clientDSN(in.Addr(), "test", tweak)).Ping()
			wantServerError(t, "through the proxy", perr, 1045, "28000")
			derr := openPool(t, clientDSN(db.Addr, "test", tweak)).Ping()
			wantServerError(t, "direct (the case itself)", derr, 1045, "28000")
		})
	}
	mustWork(t, "app with the right password", proxyClient(t, in, "test"))
}

// TestMaxClientConnections1040: beyond max_client_connections the proxy answers ERROR 1040
// (08004) itself, while the clients already in keep working; once one leaves, a new one gets in.
func TestMaxClientConnections1040(t *testing.T) {
	mariadbtest.Need(t, db)
	const limit = 5
	cfg := proxytest.Config(db, 2)
	cfg.Proxy.MaxClientConnections = limit
	in := proxytest.Start(t, cfg)

	var first []*sql.Conn
	var pools []*sql.DB
	for range limit {
		p := openPool(t, clientDSN(in.Addr(), "test", nil))
		pools = append(pools, p)
		first = append(first, holdConn(t, p))
	}
	for i, c := range first {
		mustWork(t, fmt.Sprintf("client %d before the refusal", i+1), c)
	}

	extra := openPool(t, clientDSN(in.Addr(), "test", nil))
	for try := range 2 {
		err := extra.Ping()
		wantServerError(t, fmt.Sprintf("client over max_client_connections, attempt %d", try+1), err, 1040, "08004")
	}
	for i, c := range first {
		mustWork(t, fmt.Sprintf("client %d after the refusal", i+1), c)
	}

	// A slot frees when a client leaves (the proxy may take a moment to notice).
	first[0].Close()
	pools[0].Close() // closes the socket: COM_QUIT, then FIN
	first = first[1:]
	var err error
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = extra.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("a client left, yet a new one is still refused: %s", describeErr(err))
	}
	for i, c := range first {
		mustWork(t, fmt.Sprintf("remaining client %d", i+2), c)
	}
}
