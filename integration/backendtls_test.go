package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// sslCipher is the cipher of the backend connection the statement runs on ("" when plain).
func sslCipher(t *testing.T, c execer) string {
	t.Helper()
	v := mustStrings(t, c, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
	return v[1]
}

// TLS towards the backend, in each mode: statements, state replay, server-side prepared
// statements and a 3 MB row go over it; a certificate from another authority is refused, with
// the reason in the 9001 message.
func TestBackendTLS(t *testing.T) {
	mariadbtest.Need(t, db)
	other, err := mariadbtest.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct{ tls, ca string }{
		{config.TLSRequired, ""},
		{config.TLSVerifyCA, db.CAFile()},
		{config.TLSVerifyIdentity, db.CAFile()},
	} {
		t.Run(mode.tls, func(t *testing.T) {
			cfg := proxytest.Config(db, 2)
			cfg.Backends[0].TLS, cfg.Backends[0].TLSCA = mode.tls, mode.ca
			in := proxytest.Start(t, cfg)
			p := proxyClient(t, in, "test")
			if c := sslCipher(t, p); c == "" {
				t.Fatal("the backend connection is not encrypted")
			}
			a, b := holdConn(t, p), holdConn(t, p)
			mustExec(t, a, "SET time_zone = '+03:00'")
			mustExec(t, b, "SET time_zone = '-02:00'")
			for range 5 {
				if tz := mustString(t, a, "SELECT @@time_zone"); tz != "+03:00" {
					t.Fatalf("A reads time_zone %s", tz)
				}
				if tz := mustString(t, b, "SELECT @@time_zone"); tz != "-02:00" {
					t.Fatalf("B reads time_zone %s", tz)
				}
			}
			stmt, err := a.PrepareContext(context.Background(), "SELECT ? + 1")
			if err != nil {
				t.Fatal(err)
			}
			defer stmt.Close()
			var n int
			if err := stmt.QueryRowContext(context.Background(), 41).Scan(&n); err != nil || n != 42 {
				t.Fatalf("prepared statement: %d, %v", n, err)
			}
			if l := mustInt(t, b, "SELECT LENGTH(REPEAT('x', 3000000))"); l != 3000000 {
				t.Fatalf("length %d", l)
			}
			if s := mustString(t, b, "SELECT REPEAT('y', 3000000)"); len(s) != 3000000 || strings.Trim(s, "y") != "" {
				t.Fatalf("a 3 MB row came back as %d bytes", len(s))
			}
		})
	}

	for _, mode := range []string{config.TLSVerifyCA, config.TLSVerifyIdentity} {
		t.Run(mode+" another authority", func(t *testing.T) {
			cfg := proxytest.Config(db, 1)
			cfg.Backends[0].TLS, cfg.Backends[0].TLSCA = mode, other.CA
			in := proxytest.Start(t, cfg)
			start := time.Now()
			_, err := proxyClient(t, in, "test").ExecContext(context.Background(), "SELECT 1")
			// At once, not after acquire_timeout: trying again would not help.
			me := wantServerError(t, "a server certificate from another authority", err, 2026, "HY000")
			if me != nil && !strings.Contains(me.Message, "certificate") {
				t.Errorf("the message does not give the reason: %s", me.Message)
			}
			if d := time.Since(start); d > cfg.Pool.AcquireTimeout.Duration/2 {
				t.Errorf("the refusal took %v", d)
			}
		})
	}
}

// A reload that turns TLS on applies to the connections opened after it.
func TestBackendTLSReload(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 1)
	in := proxytest.Start(t, cfg)
	p := proxyClient(t, in, "test")
	if c := sslCipher(t, p); c != "" {
		t.Fatalf("plain by default, got cipher %q", c)
	}
	tid := mustInt(t, p, "SELECT CONNECTION_ID()")
	next := *cfg
	next.Backends = []config.BackendConfig{{Address: db.Addr, TLS: config.TLSVerifyIdentity, TLSCA: db.CAFile()}}
	if err := in.Reload(&next); err != nil {
		t.Fatal(err)
	}
	direct := directClient(t, "test")
	mustExec(t, direct, "KILL CONNECTION ?", tid) // the pool's one connection: the next one is new
	if !waitUntil(func() bool {
		c, err := readStrings(context.Background(), p, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
		return err == nil && c[1] != ""
	}) {
		t.Fatal("connections opened after the reload are not encrypted")
	}

	// A TLS connection the server closed while it sat idle is noticed before it is lent.
	mustExec(t, direct, "KILL CONNECTION ?", mustInt(t, p, "SELECT CONNECTION_ID()"))
	time.Sleep(1100 * time.Millisecond) // idle long enough to be checked when borrowed
	if c := sslCipher(t, p); c == "" {
		t.Fatal("the replacement connection is not encrypted")
	}
}
