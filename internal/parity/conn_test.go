package parity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// TestConnOverTLS: with require_secure_transport=ON (a server shape the matrix test uses), a
// parity connection logs in over TLS (and changes user), and without TLS is refused. The setting
// is made once the server runs: mariadbtest's setup logs in as root over plain TCP.
func TestConnOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own server")
	}
	srv := mariadbtest.StartTB(t, mariadbtest.Options{})
	if err := srv.Exec("SET GLOBAL require_secure_transport = ON"); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := Login{Addr: srv.Addr, User: mariadbUser, Password: mariadbPass, DB: "test", Collation: 45, Caps: wire.ClientMultiStatements}
	if c, err := Dial(ctx, l); err == nil {
		o := c.Query("SELECT 1")
		c.Close()
		if o.Err == nil && o.Lost == "" {
			t.Fatal("a plain connection was served despite require_secure_transport")
		}
	}
	l.TLS = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	c, err := Dial(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	o := c.Query("SHOW SESSION STATUS LIKE 'Ssl_cipher'; SELECT DATABASE()")
	if o.Err != nil || o.Lost != "" || len(o.Results) != 2 || !strings.Contains(o.Results[0].Rows[0], "Ssl_cipher") ||
		strings.Contains(o.Results[0].Rows[0], `""`) || o.Results[1].Rows[0] != `("test")` {
		t.Fatalf("over TLS: %s", o.Short())
	}
	if o := c.ChangeUser(mariadbtest.OtherUser, mariadbtest.OtherPassword, "test2"); o.Err != nil || o.Lost != "" {
		t.Fatalf("change user over TLS: %s", o.Short())
	}
	if o := c.Query("SELECT CURRENT_USER(), DATABASE()"); o.Err != nil || !strings.HasPrefix(o.Results[0].Rows[0], `("other@`) {
		t.Fatalf("after change user: %s", o.Short())
	}
}
