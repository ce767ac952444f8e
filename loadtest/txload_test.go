//go:build load

package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// txLoad is clients looping over BEGIN; SELECT 1; [INSERT;] DO SLEEP(0.05); COMMIT, each on its
// own connection, as the run does. The wait for a backend connection is seen from the
// client as the time BEGIN takes (BEGIN borrows it; the transaction then keeps it).
type txLoad struct {
	commits atomic.Int64
	failed  atomic.Int64
	first   atomic.Value // the first error, as text

	mu     sync.Mutex
	waits  []time.Duration // of every BEGIN
	holds  time.Duration   // the time from BEGIN answered to COMMIT answered, summed
	counts []int           // transactions per client

	done sync.WaitGroup
	pool *sql.DB
}

// runTxLoad runs n clients of the proxy at addr as user until ctx ends; with table set, each
// transaction also inserts a row there (client, sequence number) so commits can be counted. The
// clients connect, then start once begin is closed (nil: at once).
func runTxLoad(ctx context.Context, t *testing.T, addr, user, password string, n int, table string, begin <-chan struct{}) *txLoad {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", addr, "test"
	cfg.Timeout = 30 * time.Second
	cfg.InterpolateParams = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool := sql.OpenDB(connector)
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	l := &txLoad{pool: pool}
	var connected sync.WaitGroup
	for i := 0; i < n; i++ {
		connected.Add(1)
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			conn, err := pool.Conn(ctx)
			if err == nil {
				err = conn.PingContext(ctx)
			}
			connected.Done()
			if err != nil {
				l.fail(err)
				return
			}
			defer conn.Close()
			if begin != nil {
				<-begin
			}
			var waits []time.Duration
			var holds time.Duration
			for seq := 0; ctx.Err() == nil; seq++ {
				wait, hold, err := transaction(conn, i, seq, table)
				if err != nil {
					if ctx.Err() == nil {
						l.fail(err)
					}
					break
				}
				waits, holds = append(waits, wait), holds+hold
				l.commits.Add(1)
			}
			l.mu.Lock()
			l.waits = append(l.waits, waits...)
			l.holds += holds
			l.counts = append(l.counts, len(waits))
			l.mu.Unlock()
		}()
	}
	connected.Wait()
	t.Cleanup(l.wait)
	return l
}

// wait returns once every client has finished (after ctx ended).
func (l *txLoad) wait() {
	l.done.Wait()
	l.pool.Close()
}

// transaction runs one transaction and returns how long its BEGIN waited and how long it held
// the connection after. It uses no context: the load stops between transactions, never in the
// middle of one.
func transaction(conn *sql.Conn, client, seq int, table string) (wait, hold time.Duration, err error) {
	ctx := context.Background()
	start := time.Now()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return 0, 0, fmt.Errorf("BEGIN: %w", err)
	}
	begun := time.Now()
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return 0, 0, fmt.Errorf("SELECT 1: %w", err)
	}
	if table != "" {
		if _, err := conn.ExecContext(ctx, "INSERT INTO "+table+" (client, seq) VALUES (?, ?)", client, seq); err != nil {
			return 0, 0, fmt.Errorf("INSERT: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "DO SLEEP(0.05)"); err != nil {
		return 0, 0, fmt.Errorf("DO SLEEP: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, 0, fmt.Errorf("COMMIT: %w", err)
	}
	return begun.Sub(start), time.Since(begun), nil
}

func (l *txLoad) fail(err error) {
	l.failed.Add(1)
	l.first.CompareAndSwap(nil, err.Error())
}

// quantile returns the q-quantile of the BEGIN waits (call after wait).
func (l *txLoad) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waits) == 0 {
		return 0
	}
	slices.Sort(l.waits)
	return l.waits[min(int(q*float64(len(l.waits))), len(l.waits)-1)]
}

// meanHold is the mean time a transaction held its connection after BEGIN (call after wait).
func (l *txLoad) meanHold() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waits) == 0 {
		return 0
	}
	return l.holds / time.Duration(len(l.waits))
}

// spread is the difference between the most and the fewest transactions a client ran (call
// after wait): served in turn, looping clients all run about as many.
func (l *txLoad) spread() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.counts) == 0 {
		return 0
	}
	return slices.Max(l.counts) - slices.Min(l.counts)
}

// console is the proxy's admin console.
type console struct {
	db       *sql.DB
	httpAddr string
}

func openConsole(t *testing.T, addr, httpAddr string) *console {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("admin:admin@tcp(%s)/", addr))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return &console{db: db, httpAddr: httpAddr}
}

// pool returns the first row of SHOW POOLS, column → value.
func (c *console) pool(t *testing.T) map[string]string {
	t.Helper()
	rows, err := c.db.Query("SHOW POOLS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		t.Fatal("SHOW POOLS: no row")
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string, len(cols))
	for i, name := range cols {
		m[name] = vals[i].String
	}
	return m
}

// medianWait reads the pool's wait histogram from /metrics: the upper bound of the bucket that
// holds the median wait.
func (c *console) medianWait(t *testing.T) time.Duration {
	t.Helper()
	resp, err := http.Get("http://" + c.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := fams["mysqlmux_backend_wait_seconds"].GetMetric()[0].GetHistogram()
	for _, b := range h.GetBucket() {
		if 2*b.GetCumulativeCount() >= h.GetSampleCount() {
			return time.Duration(b.GetUpperBound() * float64(time.Second))
		}
	}
	return 0
}

// proxyTOML is the configuration of a proxy on addr in front of backend with an admin console
// (admin/admin) on adminAddr and metrics on httpAddr, for user/password.
func proxyTOML(addr, adminAddr, httpAddr, backend, user, password string, pool ...string) string {
	return fmt.Sprintf(`[proxy]
listen = %q
[pool]
%s
[[backends]]
address = %q
[[users]]
name = %q
password = %q
[admin]
listen = %q
user = "admin"
password = "admin"
http_listen = %q
`, addr, strings.Join(pool, "\n"), backend, user, password, adminAddr, httpAddr)
}
