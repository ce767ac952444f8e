package admin

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/internal/testlog"
)

// A server another application has nearly filled refuses the proxy's dials with ERROR 1040.
// The operator is told: one warning line (backend, the server's error, connections held, cap,
// waiting), SHOW POOLS and SHOW BACKENDS say server_full since when with the refused dials, the
// metrics count them by reason; the clients see no error. When the other application lets go,
// the pool grows back to its cap, and that is logged and shown too.
func TestServerFullShownToOperator(t *testing.T) {
	srv := mariadbtest.StartTB(t, mariadbtest.Options{MaxConnections: 12})
	for _, u := range []string{"mux", "squat"} {
		if err := srv.CreatePlainUser(u, u+"pw"); err != nil {
			t.Fatal(err)
		}
	}
	const room, maxConns = 2, 6
	crowd, err := srv.Crowd("squat", "squatpw", room)
	if err != nil {
		t.Fatal(err)
	}
	defer crowd.Close()

	cfg := proxytest.Config(srv, maxConns)
	cfg.Users = []config.UserConfig{{Name: "mux", Password: "muxpw"}}
	cfg.Pool.AcquireTimeout.Duration = 30 * time.Second
	cfg.Admin = config.AdminConfig{Listen: "127.0.0.1:0", User: adminUser, Password: adminPassword, HTTPListen: "127.0.0.1:0"}
	var logs testlog.Log
	in := proxytest.StartWithLog(t, cfg, logs.Logger())
	adm, err := Start(cfg.Admin, in, Runtime{Config: func() *config.Config { return cfg }}, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	f := &fixture{cfg: cfg, in: in, adm: adm}
	console := f.admin(t)

	// Eight clients loop over a short transaction until the end of the test.
	clients, err := sql.Open("mysql", proxytest.DSN(in.Addr(), "mux", "muxpw", "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	clients.SetMaxOpenConns(8)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var clientErrs []string
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := shortTransaction(clients); err != nil {
					mu.Lock()
					clientErrs = append(clientErrs, err.Error())
					mu.Unlock()
					return
				}
			}
		}()
	}
	defer func() {
		stop()
		wg.Wait()
		if len(clientErrs) > 0 {
			t.Errorf("%d clients failed, first: %s", len(clientErrs), clientErrs[0])
		}
	}()

	eventually(t, "SHOW POOLS says server_full", func() (bool, string) {
		p := rowsOf(t, console, "SHOW POOLS")[0]
		return p["dial_state"] == "server_full" && atoi(p["refused_dials"]) > 0, fmt.Sprint(p)
	})
	pool := rowsOf(t, console, "SHOW POOLS")[0]
	if since, err := time.Parse(time.RFC3339, pool["dial_state_since"]); err != nil || time.Since(since) > time.Minute {
		t.Errorf("SHOW POOLS dial_state_since %q: %v", pool["dial_state_since"], err)
	}
	if !strings.Contains(pool["last_dial_error"], "1040") || atoi(pool["open"])-atoi(pool["dialing"]) > room {
		t.Errorf("SHOW POOLS while the server is full: %v (room %d)", pool, room)
	}
	be := rowsOf(t, console, "SHOW BACKENDS")[0]
	if be["dial_state"] != "server_full" || atoi(be["refused_dials"]) == 0 || be["dial_state_since"] == "" || be["status"] != "up" {
		t.Errorf("SHOW BACKENDS while the server is full: %v", be)
	}
	fams := f.metrics(t)
	byBackend := map[string]string{"backend": srv.Addr}
	if n := value(t, fams, "mysqlmux_pool_dial_failures_total", map[string]string{"backend": srv.Addr, "reason": "max_connections"}); n < 1 {
		t.Errorf("mysqlmux_pool_dial_failures_total{reason=max_connections} = %v", n)
	}
	if v := value(t, fams, "mysqlmux_pool_server_full", byBackend); v != 1 {
		t.Errorf("mysqlmux_pool_server_full = %v while the server is full", v)
	}
	if h := fams["mysqlmux_backend_wait_seconds"]; h.GetType() != dto.MetricType_HISTOGRAM || h.GetMetric()[0].GetHistogram().GetSampleCount() == 0 {
		t.Errorf("mysqlmux_backend_wait_seconds: %v", h)
	}
	warn := logs.Await(t, "level=WARN", "backend dial failed")
	if len(warn) != 1 {
		t.Fatalf("want one warning for the episode, got %d:\n%s", len(warn), strings.Join(logs.Lines(), "\n"))
	}
	for _, part := range []string{"backend=" + srv.Addr, "state=server_full", "Too many connections", "held=", fmt.Sprintf("cap=%d", maxConns), "waiting="} {
		if !strings.Contains(warn[0], part) {
			t.Errorf("the warning lacks %q: %s", part, warn[0])
		}
	}

	crowd.Close() // the other application disconnects
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := rowsOf(t, console, "SHOW POOLS")[0]
		if p["dial_state"] == "ok" && p["open"] == fmt.Sprint(maxConns) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not grow back to its cap within 20 s: %v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := value(t, f.metrics(t), "mysqlmux_pool_server_full", byBackend); v != 0 {
		t.Errorf("mysqlmux_pool_server_full = %v after recovery", v)
	}
	info := logs.Await(t, "level=INFO", "accepts connections again", "state_was=server_full")
	if len(info) != 1 {
		t.Fatalf("want one recovery line:\n%s", strings.Join(logs.Lines(), "\n"))
	}
	t.Logf("logged:\n%s\n%s", warn[0], info[0])
}

func shortTransaction(db *sql.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DO SLEEP(0.01)"); err != nil {
		return err
	}
	return tx.Commit()
}

// metrics fetches and parses /metrics.
func (f *fixture) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	_, body := f.get(t, "/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}
