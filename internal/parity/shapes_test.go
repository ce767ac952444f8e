package parity

import (
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// Issue 14: the parity fuzzer on every server shape CI knows (the binary log, other character
// sets and time zones, the thread pool, a short wait_timeout, TLS-only, a small
// max_allowed_packet), with a smaller budget than the default shape's: each shape's proxy and
// direct twin are started with the shape's options, and no statement may fail only through the
// proxy, no client lose its connection, no observer see another client's state.
const (
	shapeStatements = 1500
	shapeDuration   = 12 * time.Second
)

func TestParityShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("the parity budget does not run with -short")
	}
	for _, sh := range mariadbtest.Shapes() {
		t.Run(sh.Name, func(t *testing.T) {
			proxied := mariadbtest.StartTB(t, sh.Options)
			direct := mariadbtest.StartTB(t, sh.Options)
			o := Options{Proxied: proxied, Direct: direct, Cap: 2, Statements: shapeStatements,
				Duration: shapeDuration, Shrink: 45 * time.Second}
			if proxied.TLSOnly() {
				tc, err := direct.TLSConfig()
				if err != nil {
					t.Fatal(err)
				}
				o.DirectTLS = tc
				o.Configure = func(cfg *config.Config) {
					cfg.Backends[0].TLS, cfg.Backends[0].TLSCA = config.TLSVerifyIdentity, proxied.CAFile()
				}
			}
			rep := Run(t, o)
			if len(rep.Failures) == 0 && rep.Statements < shapeStatements {
				t.Logf("parity on %s: only %d of %d statements within %v (a loaded machine?)", sh.Name, rep.Statements, shapeStatements, shapeDuration)
			}
		})
	}
}
