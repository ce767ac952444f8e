package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// Issue 5, must-show 8: prepared point selects (go-sql-driver, one statement prepared on the
// pool, executed by 4–8 parallel clients) straight to MariaDB and through the proxy (cap 3), in
// the same run. The proxy sub-benchmark reports its time per query relative to the direct one
// as "proxy/direct" when both ran.
//
//	go test -run '^$' -bench PreparedPointSelect -benchtime 2s ./integration/

const benchRows = 1000

// BenchmarkPreparedPointSelect measures SELECT k, c FROM stmt_bench WHERE id = ? executions.
func BenchmarkPreparedPointSelect(b *testing.B) {
	mariadbtest.Need(b, db)
	direct := directClient(b, "test")
	mustExec(b, direct, "DROP TABLE IF EXISTS stmt_bench")
	mustExec(b, direct, "CREATE TABLE stmt_bench (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(60) NOT NULL)")
	b.Cleanup(func() { _ = db.Exec("DROP TABLE IF EXISTS test.stmt_bench") })
	for from := 0; from < benchRows; from += 100 {
		mustExec(b, direct, "INSERT INTO stmt_bench VALUES "+valuesList(from, 100, func(id int) string {
			return fmt.Sprintf("(%d, %d, '%060d')", id, id*7, id)
		}))
	}
	cfg := proxytest.Config(db, 3)
	cfg.Pool.AcquireTimeout.Duration = 30 * time.Second
	in := proxytest.Start(b, cfg)

	// 6 clients: RunParallel starts parallelism × GOMAXPROCS goroutines.
	const clients = 6
	parallelism := max(1, (clients+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
	var directNsPerOp float64
	run := func(b *testing.B, dsn string) float64 {
		p := openPool(b, dsn)
		p.SetMaxOpenConns(parallelism * runtime.GOMAXPROCS(0))
		p.SetMaxIdleConns(parallelism * runtime.GOMAXPROCS(0))
		st, err := p.PrepareContext(context.Background(), "SELECT k, c FROM stmt_bench WHERE id = ?")
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
			var k int
			var c string
			for pb.Next() {
				id := rng.IntN(benchRows)
				if err := st.QueryRow(id).Scan(&k, &c); err != nil {
					b.Error(describeErr(err))
					return
				}
				if k != id*7 {
					b.Errorf("id %d: k = %d, want %d", id, k, id*7)
					return
				}
			}
		})
		b.StopTimer()
		return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	}
	b.Run("direct", func(b *testing.B) {
		directNsPerOp = run(b, psDSN(db.Addr, "test", nil))
	})
	b.Run("proxy", func(b *testing.B) {
		ns := run(b, psDSN(in.Addr(), "test", nil))
		if directNsPerOp > 0 {
			b.ReportMetric(ns/directNsPerOp, "proxy/direct")
		}
	})
}
