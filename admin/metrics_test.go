package admin

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// get fetches path from the metrics listener.
func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.adm.HTTPAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		default:
			return m.GetUntyped().GetValue()
		}
	}
	t.Fatalf("metric %s has no sample with labels %v", name, want)
	return 0
}

func TestMetricsAndHealthz(t *testing.T) {
	f := setup(t, nil)
	c := f.client(t)
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "SELECT 1")

	code, body := f.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	be := map[string]string{"backend": db.Addr}
	for name, want := range map[string]float64{"mysqlmux_pool_max": 3, "mysqlmux_pool_in_use": 1, "mysqlmux_pool_waiting": 0, "mysqlmux_backend_up": 1} {
		if got := value(t, fams, name, be); got != want {
			t.Errorf("%s{backend=%q} = %v, want %v", name, db.Addr, got, want)
		}
	}
	for _, name := range []string{"mysqlmux_pool_open", "mysqlmux_pool_idle", "mysqlmux_pool_wait_seconds_total",
		"mysqlmux_pool_wait_count_total", "mysqlmux_pool_acquire_timeouts_total"} {
		value(t, fams, name, be)
	}
	if got := value(t, fams, "mysqlmux_clients", nil); got != 1 {
		t.Errorf("mysqlmux_clients = %v, want 1", got)
	}
	if got := value(t, fams, "mysqlmux_pinned_clients", map[string]string{"reason": "transaction"}); got != 1 {
		t.Errorf("mysqlmux_pinned_clients{reason=transaction} = %v, want 1", got)
	}
	if got := value(t, fams, "mysqlmux_queries_total", nil); got < 1 {
		t.Errorf("mysqlmux_queries_total = %v", got)
	}
	for _, name := range []string{"mysqlmux_clients_refused_total", "mysqlmux_auth_failures_total", "mysqlmux_backend_errors_total", "go_goroutines"} {
		value(t, fams, name, nil)
	}
	if fams["mysqlmux_queries_total"].GetType() != dto.MetricType_COUNTER || fams["mysqlmux_pool_in_use"].GetType() != dto.MetricType_GAUGE {
		t.Error("metric types: queries_total should be a counter, pool_in_use a gauge")
	}
	mustExec(t, c, "COMMIT")

	if code, body := f.get(t, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q", code, body)
	}
	f.in.Router().Pause()
	if code, body := f.get(t, "/healthz"); code != http.StatusOK || body != "paused\n" {
		t.Errorf("GET /healthz while paused: %d %q", code, body)
	}
	f.in.Router().Resume()
	if code, _ := f.get(t, "/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404", code)
	}
}

// TestMariaDBCLI drives the console with the stock command-line client.
func TestMariaDBCLI(t *testing.T) {
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Skip("mariadb client not on PATH")
	}
	f := setup(t, nil)
	host, port, _ := strings.Cut(f.adm.Addr(), ":")
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		base := []string{"--no-defaults", "-h" + host, "-P" + port, "-u" + adminUser, "-p" + adminPassword}
		out, err := exec.CommandContext(ctx, bin, append(base, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("-e", "SHOW POOLS")
	if err != nil {
		t.Fatalf("mariadb -e 'SHOW POOLS': %v\n%s", err, out)
	}
	if !strings.Contains(out, "max_connections") || !strings.Contains(out, db.Addr) {
		t.Errorf("mariadb -e 'SHOW POOLS' output:\n%s", out)
	}
	// What the client sends on its own in an interactive session, and several commands in one go.
	out, err = run("-t", "-e", "select @@version_comment limit 1; show stats; help")
	if err != nil || !strings.Contains(out, "mysqlmux admin console") || !strings.Contains(out, "pinned_clients") {
		t.Errorf("mariadb batch session: %v\n%s", err, out)
	}
	out, err = run("-e", "SHOW NONSENSE")
	if err == nil || !strings.Contains(out, "1064") {
		t.Errorf("mariadb -e 'SHOW NONSENSE': %v\n%s", err, out)
	}
}
