package integration

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/config"
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

// tapConn records what a client reads, so a test can see the login exchange.
type tapConn struct {
	net.Conn
	mu   *sync.Mutex
	seen *bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.seen.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// TestCachingSHA2Login: an account with auth_plugin = "caching_sha2_password" logs in with it
// (go-sql-driver starts with the handshake's mysql_native_password and is switched): the first
// login sends the password encrypted with the proxy's public key, the next one passes the fast
// path of the cache; a wrong password gets 1045 either way; after a reload changes the password,
// the old one no longer passes the fast path. Accounts left at the default keep
// mysql_native_password.
func TestCachingSHA2Login(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 2)
	cfg.Users[0].AuthPlugin = config.AuthCachingSHA2 // app
	in := proxytest.Start(t, cfg)

	var mu sync.Mutex
	var seen bytes.Buffer
	network := fmt.Sprintf("mysqlmux-tap-%p", t)
	mysql.RegisterDialContext(network, func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &tapConn{Conn: c, mu: &mu, seen: &seen}, nil
	})
	login := func(user, password string) ([]byte, error) {
		mu.Lock()
		seen.Reset()
		mu.Unlock()
		p := openPool(t, clientDSN(in.Addr(), "test", func(c *mysql.Config) {
			c.Net, c.User, c.Passwd = network, user, password
		}))
		err := p.Ping()
		p.Close()
		mu.Lock()
		defer mu.Unlock()
		return bytes.Clone(seen.Bytes()), err
	}
	switchToSHA2 := []byte("\xfecaching_sha2_password\x00")
	publicKey := []byte("-----BEGIN PUBLIC KEY-----")

	got, err := login(mariadbtest.AppUser, mariadbtest.AppPassword)
	if err != nil {
		t.Fatalf("first caching_sha2 login: %v", describeErr(err))
	}
	if !bytes.Contains(got, switchToSHA2) || !bytes.Contains(got, publicKey) {
		t.Fatalf("first login: want a switch to caching_sha2_password and the public key, got %q", got)
	}
	got, err = login(mariadbtest.AppUser, mariadbtest.AppPassword)
	if err != nil {
		t.Fatalf("second caching_sha2 login: %v", describeErr(err))
	}
	if !bytes.Contains(got, switchToSHA2) || bytes.Contains(got, publicKey) {
		t.Fatalf("second login: want the fast path (no key exchange), got %q", got)
	}
	_, err = login(mariadbtest.AppUser, "not-the-password")
	wantServerError(t, "wrong caching_sha2 password", err, 1045, "28000")
	mustWork(t, "statements of a caching_sha2 client", proxyClient(t, in, "test"))

	got, err = login(mariadbtest.OtherUser, mariadbtest.OtherPassword)
	if err != nil {
		t.Fatalf("native login: %v", describeErr(err))
	}
	if bytes.Contains(got, switchToSHA2) {
		t.Fatal("an account left at the default was switched to caching_sha2_password")
	}

	next := *cfg
	next.Users = slices.Clone(cfg.Users)
	next.Users[0].Password = "changed-" + mariadbtest.AppPassword
	if err := in.Reload(&next); err != nil {
		t.Fatal(err)
	}
	_, err = login(mariadbtest.AppUser, mariadbtest.AppPassword)
	wantServerError(t, "the old password after a reload", err, 1045, "28000")
	if _, err := login(mariadbtest.AppUser, next.Users[0].Password); err != nil {
		t.Fatalf("the new password after a reload: %v", describeErr(err))
	}
}
