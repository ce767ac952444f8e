package admin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// scrape fetches and parses /metrics.
func (f *fixture) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := f.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// buckets returns the cumulative bucket counts (by upper bound, seconds) of histogram name with
// label key=val.
func buckets(t *testing.T, fams map[string]*dto.MetricFamily, name, key, val string) map[float64]uint64 {
	t.Helper()
	fam := fams[name]
	if fam.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s: type %v, want a histogram", name, fam.GetType())
	}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == key && l.GetValue() == val {
				out := map[float64]uint64{}
				for _, b := range m.GetHistogram().GetBucket() {
					out[b.GetUpperBound()] = b.GetCumulativeCount()
				}
				return out
			}
		}
	}
	t.Fatalf("%s has no series %s=%q", name, key, val)
	return nil
}

// upperBound is the smallest bucket bound at or above d.
func upperBound(d time.Duration) float64 {
	for _, b := range latencyBounds() {
		if d <= b {
			return b.Seconds()
		}
	}
	return 30
}

// A statement that waits 500 ms for the pool's one connection lands, in both histograms, in
// the bucket of its wait: above 0.5 s, at most the time its client saw.
func TestHistogramsPlaceAWait(t *testing.T) {
	f := setupWith(t, nil, func(c *config.Config) { c.Pool.MaxConnections = 1 })
	adm := f.admin(t)
	holder := f.client(t)
	waiter := f.client(t)
	mustExec(t, holder, "BEGIN")
	mustExec(t, holder, "SELECT 1")
	before := f.scrape(t)

	took := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := waiter.ExecContext(ctx, "SELECT 2"); err != nil {
			t.Errorf("waiter: %v", err)
		}
		took <- time.Since(start)
	}()
	eventually(t, "the waiter queued", func() (bool, string) {
		p := rowsOf(t, adm, "SHOW POOLS")[0]
		return p["waiting"] == "1", fmt.Sprint(p)
	})
	time.Sleep(550 * time.Millisecond) // the wait under test, not a synchronisation
	mustExec(t, holder, "COMMIT")
	client := <-took
	// A statement is observed once its answer's last byte is flushed, which can come after its
	// client has read that answer: wait for the waiter's observation before judging.
	var after map[string]*dto.MetricFamily
	eventually(t, "the waiter's statement observed", func() (bool, string) {
		after = f.scrape(t)
		b0 := buckets(t, before, "mysqlmux_statement_duration_seconds", "command", "query")
		b1 := buckets(t, after, "mysqlmux_statement_duration_seconds", "command", "query")
		return b1[30]-b1[0.5] > b0[30]-b0[0.5], fmt.Sprint(b1)
	})

	for _, h := range []struct{ name, key, val string }{
		{"mysqlmux_backend_wait_seconds", "backend", db.Addr},
		{"mysqlmux_statement_duration_seconds", "command", "query"},
	} {
		b0, b1 := buckets(t, before, h.name, h.key, h.val), buckets(t, after, h.name, h.key, h.val)
		if len(b1) != nBuckets+1 || b1[0.00005] > b1[30] { // +Inf is parsed as a bucket too
			t.Fatalf("%s: buckets %v, want %d from 50 µs to 30 s", h.name, b1, nBuckets)
		}
		// The holder's COMMIT is a fast statement too; only the waiter acquired a connection.
		if d := b1[0.5] - b0[0.5]; d != 0 && h.name == "mysqlmux_backend_wait_seconds" {
			t.Errorf("%s{%s}: %d new observations at or under 0.5 s, want none (the only acquisition waited 550 ms)", h.name, h.val, d)
		}
		top := upperBound(client)
		if d := (b1[top] - b1[0.5]) - (b0[top] - b0[0.5]); d != 1 {
			t.Errorf("%s{%s}: %d new observations in (0.5 s, %v s], want 1 (the client waited %v)", h.name, h.val, d, top, client)
		}
	}
}

// With max_client_connections reached, clients get ERROR 1040 and the console still answers.
func TestConsoleAnswersAtClientLimit(t *testing.T) {
	f := setupWith(t, nil, func(c *config.Config) { c.Proxy.MaxClientConnections = 2 })
	f.client(t)
	f.client(t)
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = mariadbtest.AppUser, mariadbtest.AppPassword, "tcp", f.in.Addr()
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.Connect(ctx)
	if err == nil {
		conn.Close()
		t.Fatal("a third client got in with max_client_connections = 2")
	}
	if code, _ := mysqlErr(err); code != 1040 {
		t.Fatalf("third client: %v, want ERROR 1040", err)
	}
	adm := f.admin(t)
	if st := stats(t, adm); st["clients"] != "2" || st["clients_refused"] == "0" {
		t.Errorf("SHOW STATS at the limit: %v", st)
	}
	if rows := rowsOf(t, adm, "SHOW CLIENTS"); len(rows) != 2 {
		t.Errorf("SHOW CLIENTS at the limit: %v", rows)
	}
}

func TestReadyz(t *testing.T) {
	f := setup(t, nil)
	if code, body := f.get(t, "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("GET /readyz with the backend up: %d %q", code, body)
	}
	// A second backend that never answers: not ready, and the answer names it.
	down := closedPort(t)
	g := setupWith(t, nil, func(c *config.Config) {
		c.Backends = append(c.Backends, config.BackendConfig{Address: down})
	})
	code, body := g.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, down) || strings.Contains(body, "backend "+db.Addr+" ") {
		t.Errorf("GET /readyz with %s down: %d %q", down, code, body)
	}
}

func TestPprofIsOptIn(t *testing.T) {
	f := setup(t, nil)
	if code, _ := f.get(t, "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ without [admin].pprof: %d, want 404", code)
	}
	g := setupWith(t, nil, func(c *config.Config) { c.Admin.Pprof = true })
	if code, body := g.get(t, "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ with [admin].pprof: %d", code)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
