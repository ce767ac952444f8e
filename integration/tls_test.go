package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// selfSigned writes a throwaway certificate and key for 127.0.0.1 and returns their paths.
func selfSigned(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mysqlmux test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// Clients may switch to TLS on the client leg; plain-text clients still work beside them.
func TestClientTLS(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 2)
	cfg.Proxy.TLSCert, cfg.Proxy.TLSKey = selfSigned(t)
	in := proxytest.Start(t, cfg)

	secure := openPool(t, clientDSN(in.Addr(), "test", func(c *mysql.Config) { c.TLSConfig = "skip-verify" }))
	s := holdConn(t, secure)
	// go-sql-driver with tls=skip-verify refuses a server that does not offer TLS: every
	// statement below went over TLS on the client leg.
	for i := 0; i < 20; i++ {
		mustWork(t, "a TLS client", s)
	}
	big := mustString(t, s, "SELECT REPEAT('x', 200000)")
	if len(big) != 200000 {
		t.Fatalf("a 200 kB value over TLS came back as %d bytes", len(big))
	}
	plain := holdConn(t, proxyClient(t, in, "test"))
	mustWork(t, "a plain-text client beside it", plain)
	time.Sleep(1200 * time.Millisecond) // past the park delay: the TLS client waits, unparked
	mustWork(t, "the TLS client after idling", s)
}
