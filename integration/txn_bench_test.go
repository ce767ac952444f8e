package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// BenchmarkReadWriteTxn runs the bench harness's read-write transaction (BEGIN, 10 point
// selects, 2 UPDATEs, DELETE and INSERT of the same explicit id, COMMIT: text statements) through
// an in-process proxy, so that -cpuprofile shows the proxy's own code per transaction:
//
//	go test -run '^$' -bench ReadWriteTxn -cpuprofile cpu.out ./integration/
//	go tool pprof -top -focus mysqlmux/proxy integration.test cpu.out
func BenchmarkReadWriteTxn(b *testing.B) {
	mariadbtest.Need(b, db)
	in := proxytest.Start(b, proxytest.Config(db, 4))
	p := proxyClient(b, in, "test")
	c := holdConn(b, p)
	mustExec(b, c, "CREATE TABLE IF NOT EXISTS bench_rw (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL)")
	b.Cleanup(func() { mustExec(b, c, "DROP TABLE IF EXISTS bench_rw") })
	for i := 1; i <= 100; i++ {
		mustExec(b, c, fmt.Sprintf("INSERT INTO bench_rw (id, k, c) VALUES (%d, %d, 'x')", i, i))
	}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		id := n%100 + 1
		mustExec(b, c, "BEGIN")
		for j := range 10 {
			var s string
			if err := c.QueryRowContext(ctx, fmt.Sprintf("SELECT c FROM bench_rw WHERE id=%d", (id+j)%100+1)).Scan(&s); err != nil {
				b.Fatal(err)
			}
		}
		mustExec(b, c, fmt.Sprintf("UPDATE bench_rw SET k=k+1 WHERE id=%d", id))
		mustExec(b, c, fmt.Sprintf("UPDATE bench_rw SET c='y%d' WHERE id=%d", n, id))
		mustExec(b, c, fmt.Sprintf("DELETE FROM bench_rw WHERE id=%d", id))
		mustExec(b, c, fmt.Sprintf("INSERT INTO bench_rw (id, k, c) VALUES (%d, %d, 'z')", id, id))
		mustExec(b, c, "COMMIT")
	}
}
