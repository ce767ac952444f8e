//go:build load

package loadtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

const loadClients = 2000

// loadResult counts what the clients of one run saw.
type loadResult struct {
	ok, failed atomic.Int64
	byCode     sync.Map // MySQL error number → *atomic.Int64
	firstErr   atomic.Value
}

func (r *loadResult) fail(err error) {
	r.failed.Add(1)
	r.firstErr.CompareAndSwap(nil, err.Error())
	var me *mysql.MySQLError
	code := uint16(0)
	if errors.As(err, &me) {
		code = me.Number
	}
	v, _ := r.byCode.LoadOrStore(code, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (r *loadResult) code(n uint16) int64 {
	if v, ok := r.byCode.Load(n); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// runClients opens loadClients connections to addr, all held at once, then has each run 10 point
// selects and one transaction (insert, read back, commit).
func runClients(t *testing.T, addr string) *loadResult {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "app", "secret", "tcp", addr, "test"
	cfg.InterpolateParams = true
	cfg.Timeout = 30 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool := sql.OpenDB(connector)
	defer pool.Close()
	pool.SetMaxOpenConns(loadClients)
	pool.SetMaxIdleConns(loadClients)

	res := &loadResult{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var connected, done sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < loadClients; i++ {
		connected.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			conn, err := pool.Conn(ctx)
			if err == nil {
				err = conn.PingContext(ctx) // make sure the login happened
			}
			connected.Done()
			if err != nil {
				res.fail(err)
				return
			}
			defer conn.Close()
			<-start // every client holds its connection before any starts working
			if err := clientWork(ctx, conn, i); err != nil {
				res.fail(err)
				return
			}
			res.ok.Add(1)
		}()
	}
	connected.Wait()
	close(start)
	done.Wait()
	return res
}

func clientWork(ctx context.Context, conn *sql.Conn, id int) error {
	for j := 0; j < 10; j++ {
		var v string
		if err := conn.QueryRowContext(ctx, "SELECT v FROM load_points WHERE id = ?", (id*10+j)%1000+1).Scan(&v); err != nil {
			return fmt.Errorf("point select: %w", err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO load_tx (client, v) VALUES (?, ?)", id, fmt.Sprint("c", id)); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	var v string
	if err := tx.QueryRowContext(ctx, "SELECT v FROM load_tx WHERE client = ?", id).Scan(&v); err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if v != fmt.Sprint("c", id) {
		return fmt.Errorf("read back %q in client %d's transaction", v, id)
	}
	return tx.Commit()
}

func setupLoadTables(t *testing.T) {
	t.Helper()
	for _, q := range []string{
		"DROP TABLE IF EXISTS test.load_points, test.load_tx",
		"CREATE TABLE test.load_points (id INT PRIMARY KEY, v VARCHAR(32))",
		"INSERT INTO test.load_points SELECT seq, CONCAT('v', seq) FROM test.seq_1_to_1000",
		"CREATE TABLE test.load_tx (client INT PRIMARY KEY, v VARCHAR(32))",
	} {
		if err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// sampleThreads records the peak of MariaDB's Threads_connected until stop is closed.
func sampleThreads(t *testing.T, root *sql.DB, stop <-chan struct{}) <-chan int {
	peak := make(chan int, 1)
	go func() {
		max := 0
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var name string
			var n int
			if err := root.QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err == nil && n > max {
				max = n
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	return peak
}

// Must-show 1 of the core issue: MariaDB max_connections=40, proxy cap 30, 2000 concurrent
// clients all succeed and MariaDB never sees more than 32 connections; the same load sent
// straight to MariaDB gets ERROR 1040.
func TestTwoThousandClientsThroughCap30(t *testing.T) {
	setupLoadTables(t)
	root, err := db.Root() // opened before the load: root keeps a slot even when clients fill it
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	root.SetMaxOpenConns(1)

	// Direct first: most connections are refused.
	direct := runClients(t, db.Addr)
	t.Logf("direct: %d clients succeeded, %d failed, %d with ERROR 1040", direct.ok.Load(), direct.failed.Load(), direct.code(1040))
	if direct.code(1040) == 0 {
		t.Fatalf("2000 clients straight at MariaDB (max_connections=40) got no ERROR 1040; first error: %v", direct.firstErr.Load())
	}
	if err := db.Exec("TRUNCATE test.load_tx"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let the refused connections' threads go

	p := startProxy(t, 30, "")
	stop := make(chan struct{})
	peak := sampleThreads(t, root, stop)
	start := time.Now()
	res := runClients(t, p.addr)
	close(stop)
	max := <-peak
	t.Logf("through mysqlmux: %d clients succeeded, %d failed in %v; peak Threads_connected %d",
		res.ok.Load(), res.failed.Load(), time.Since(start).Round(time.Millisecond), max)
	if res.failed.Load() != 0 || res.ok.Load() != loadClients {
		t.Fatalf("%d of %d clients failed through the proxy; first error: %v", res.failed.Load(), loadClients, res.firstErr.Load())
	}
	if max > 32 {
		t.Fatalf("MariaDB saw %d connections, above cap 30 + sampler + admin = 32", max)
	}
	var n int
	if err := root.QueryRow("SELECT COUNT(*) FROM test.load_tx").Scan(&n); err != nil || n != loadClients {
		t.Fatalf("committed rows %d (%v), want %d", n, err, loadClients)
	}
}

// Must-show 5: a ~100 MB result streams through while the proxy's memory grows by less than
// 32 MB (peak RSS of the proxy process, before vs after).
func TestLargeResultStreamsInBoundedMemory(t *testing.T) {
	p := startProxy(t, 4, "")
	pid := p.cmd.Process.Pid
	c, err := sql.Open("mysql", fmt.Sprintf("app:secret@tcp(%s)/test", p.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(); err != nil {
		t.Fatal(err)
	}
	before := statusKB(t, pid, "VmHWM")
	rows, err := c.Query("SELECT seq, REPEAT('x', 1000) FROM seq_1_to_100000")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var n int
	for rows.Next() {
		var id int
		var v sql.RawBytes
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		total += int64(len(v))
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	after := statusKB(t, pid, "VmHWM")
	t.Logf("%d rows, %d MB streamed; proxy peak RSS %d KiB → %d KiB (+%d KiB)", n, total>>20, before, after, after-before)
	if n != 100000 || total != 100000*1000 {
		t.Fatalf("got %d rows, %d bytes", n, total)
	}
	if after-before >= 32<<10 {
		t.Fatalf("proxy peak RSS grew by %d KiB streaming 100 MB; limit 32 MiB", after-before)
	}
}
