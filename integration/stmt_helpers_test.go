package integration

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// Helpers of the prepared-statement tests (issue 5): clients that use the binary protocol, the
// server's prepared-statement counters, pin sampling and heap figures.

// psDSN is clientDSN with interpolateParams off: go-sql-driver then runs every statement with
// arguments as COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE.
func psDSN(addr, dbName string, tweak func(*mysql.Config)) string {
	return clientDSN(addr, dbName, func(c *mysql.Config) {
		c.InterpolateParams = false
		if tweak != nil {
			tweak(c)
		}
	})
}

// psClient opens a pool of prepared-statement clients of the proxy in.
func psClient(t testing.TB, in *proxy.Instance, dbName string, tweak func(*mysql.Config)) *sql.DB {
	return openPool(t, psDSN(in.Addr(), dbName, tweak))
}

// rootDB opens a root pool on MariaDB (closed at cleanup) for SHOW GLOBAL STATUS.
func rootDB(t testing.TB) *sql.DB {
	t.Helper()
	r, err := db.Root()
	if err != nil {
		t.Fatalf("root connection: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// globalStatus reads SHOW GLOBAL STATUS counters by name.
func globalStatus(root *sql.DB, names ...string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + n + "'"
	}
	rows, err := root.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ("+strings.Join(quoted, ",")+")")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int64, len(names))
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("status %s = %q: %w", name, value, err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("no status variable %s", n)
		}
	}
	return out, nil
}

// mustStatus is globalStatus failing the test on error.
func mustStatus(t testing.TB, root *sql.DB, names ...string) map[string]int64 {
	t.Helper()
	st, err := globalStatus(root, names...)
	if err != nil {
		t.Fatalf("SHOW GLOBAL STATUS: %v", err)
	}
	return st
}

// statusSampler reads one global status value in a loop and keeps the largest.
type statusSampler struct {
	name    string
	max     atomic.Int64
	samples atomic.Int64
	errs    atomic.Int64
	stopped chan struct{}
	done    sync.WaitGroup
	once    sync.Once
}

// sampleStatus starts sampling name every period until stop.
func sampleStatus(t testing.TB, root *sql.DB, name string, period time.Duration) *statusSampler {
	s := &statusSampler{name: name, stopped: make(chan struct{})}
	s.max.Store(-1)
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			st, err := globalStatus(root, name)
			if err != nil {
				s.errs.Add(1)
			} else {
				s.samples.Add(1)
				for v := st[name]; ; {
					m := s.max.Load()
					if v <= m || s.max.CompareAndSwap(m, v) {
						break
					}
				}
			}
			select {
			case <-s.stopped:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(s.halt)
	return s
}

func (s *statusSampler) halt() {
	s.once.Do(func() { close(s.stopped) })
	s.done.Wait()
}

// stop ends the sampling (after one last sample) and returns the largest value and the count
// of samples.
func (s *statusSampler) stop() (max, samples int64) {
	s.halt()
	return s.max.Load(), s.samples.Load()
}

// heapInuse returns the process's HeapInuse after a garbage collection. The proxy runs in the
// test process, so this is the proxy's heap plus the test clients'.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// heapPeak samples HeapInuse (without forcing collections) until stop, keeping the largest.
type heapPeak struct {
	max     atomic.Uint64
	stopped chan struct{}
	done    sync.WaitGroup
	once    sync.Once
}

func sampleHeap(t testing.TB, period time.Duration) *heapPeak {
	h := &heapPeak{stopped: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.max.Load() {
				h.max.Store(ms.HeapInuse)
			}
			select {
			case <-h.stopped:
				return
			case <-time.After(period):
			}
		}
	}()
	t.Cleanup(h.halt)
	return h
}

func (h *heapPeak) halt() {
	h.once.Do(func() { close(h.stopped) })
	h.done.Wait()
}

func (h *heapPeak) stop() uint64 {
	h.halt()
	return h.max.Load()
}

// mib formats a byte count (possibly negative) in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// pinWatch samples the proxy's session list in a loop and records every pin reason it sees.
type pinWatch struct {
	in      *proxy.Instance
	samples atomic.Int64
	seen    atomic.Int64 // session snapshots with a pin reason
	mu      sync.Mutex
	first   []string // the first few pinned sessions seen
	stopped chan struct{}
	done    sync.WaitGroup
	once    sync.Once
}

func watchPins(t testing.TB, in *proxy.Instance) *pinWatch {
	w := &pinWatch{in: in, stopped: make(chan struct{})}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		for {
			w.samples.Add(1)
			for _, ci := range in.Router().Sessions() {
				if ci.PinnedReason == "" {
					continue
				}
				w.seen.Add(1)
				w.mu.Lock()
				if len(w.first) < 5 {
					w.first = append(w.first, fmt.Sprintf("client %d (state %s): %q", ci.ID, ci.State, ci.PinnedReason))
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stopped:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *pinWatch) halt() {
	w.once.Do(func() { close(w.stopped) })
	w.done.Wait()
}

// check stops the watch and fails the test if any session was ever seen pinned.
func (w *pinWatch) check(t testing.TB, step string) {
	t.Helper()
	w.halt()
	if w.samples.Load() == 0 {
		t.Errorf("%s: the pin watch took no sample", step)
	}
	if n := w.seen.Load(); n > 0 {
		w.mu.Lock()
		defer w.mu.Unlock()
		t.Errorf("%s: sessions seen pinned %d times in %d samples of the session list, e.g. %s",
			step, n, w.samples.Load(), strings.Join(w.first, "; "))
	}
}

// rawPSConnect logs in to addr with go-mysql's client, whose Stmt shows the statement id the
// server (here: the proxy) handed out.
func rawPSConnect(t testing.TB, addr string) *client.Conn {
	return rawConnect(t, addr, mariadbtest.AppUser, mariadbtest.AppPassword, "test")
}

// rawStmtRow executes st with args and returns its one row as strings (NULL as "<NULL>") and
// its column names.
func rawStmtRow(st *client.Stmt, args ...any) (row, cols []string, err error) {
	r, err := st.Execute(args...)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	if r.Resultset == nil || r.RowNumber() != 1 {
		n := 0
		if r.Resultset != nil {
			n = r.RowNumber()
		}
		return nil, nil, fmt.Errorf("%d rows, want 1", n)
	}
	for _, f := range r.Fields {
		cols = append(cols, string(f.Name))
	}
	row = make([]string, r.ColumnNumber())
	for i := range row {
		if null, _ := r.IsNull(0, i); null {
			row[i] = "<NULL>"
			continue
		}
		if row[i], err = r.GetString(0, i); err != nil {
			return nil, nil, fmt.Errorf("column %d: %w", i, err)
		}
	}
	return row, cols, nil
}
