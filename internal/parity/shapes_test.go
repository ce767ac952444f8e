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

// shapeSeeds are the seeds CI runs on each shape (see ciBudget).
var shapeSeeds = map[string]uint64{
	"binlog-row-gtid-strict":   4845496836522355223,
	"binlog-mixed":             4845496836522355223,
	"latin1-server":            6932003531202868406,
	"perfschema-threadpool":    4474920703120300983,
	"wait-timeout-3":           5907547866905429688,
	"lower-case-table-names":   4222983942402112419,
	"time-zone-isolation":      509778345606898878,
	"tls-only":                 4436652518968360306,
	"small-max-allowed-packet": 166938856756730035,
}

func TestParityShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("the parity budget does not run with -short")
	}
	for _, sh := range mariadbtest.Shapes() {
		t.Run(sh.Name, func(t *testing.T) {
			proxied := mariadbtest.StartTB(t, sh.Options)
			direct := mariadbtest.StartTB(t, sh.Options)
			seed, ok := shapeSeeds[sh.Name]
			if !ok {
				t.Fatalf("no CI seed for shape %s", sh.Name)
			}
			o := Options{Proxied: proxied, Direct: direct, Cap: 2, Seed: ciSeed(seed), Statements: shapeStatements,
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
			rep := runCI(t, o)
			if len(rep.Failures) == 0 && rep.Statements < shapeStatements {
				t.Logf("parity on %s: only %d of %d statements within %v (a loaded machine?)", sh.Name, rep.Statements, shapeStatements, shapeDuration)
			}
		})
	}
}
