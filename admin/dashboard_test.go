package admin

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// ArtifactsEnv names the directory where tests leave files for people to look at (the
// dashboard's screenshot); default: the test's temporary directory.
const ArtifactsEnv = "MYSQLMUX_ARTIFACTS"

// ChromiumEnv names the browser the dashboard test drives; default: chromium on PATH.
const ChromiumEnv = "MYSQLMUX_CHROMIUM"

func TestDashboardJSON(t *testing.T) {
	f := setup(t, nil)
	rowsOf(t, f.client(t), "SELECT 1")
	code, page := f.get(t, "/")
	if code != http.StatusOK || !strings.Contains(page, `<script src="dashboard.js">`) || strings.Contains(page, "http") {
		t.Errorf("GET /: %d, a page that loads only its own script: %q", code, page)
	}
	code, body := f.get(t, "/dashboard.json")
	var d dashboardData
	if err := json.Unmarshal([]byte(body), &d); code != http.StatusOK || err != nil {
		t.Fatalf("GET /dashboard.json: %d %v\n%s", code, err, body)
	}
	if len(d.Pools) != 1 || d.Pools[0].Backend != db.Addr || d.Pools[0].Max != 3 || d.Clients != 1 ||
		d.States["idle"]+d.States["active"] != 1 || d.Totals["statements"] == 0 || !d.DigestsOn {
		t.Errorf("dashboard.json: %s", body)
	}
	if _, ok := d.Pinned["transaction"]; !ok {
		t.Errorf("dashboard.json lacks the pin reasons: %v", d.Pinned)
	}
}

// chromium returns the browser to drive, skipping the test when there is none (failing it
// where the environment is required: CI installs Debian's chromium, see scripts/).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if mariadbtest.Required() {
		t.Fatalf("no chromium on PATH (make test installs Debian's chromium: scripts/install-mariadb.sh) and the environment is required")
	}
	t.Skip("no chromium on PATH")
	return ""
}

// dashboardNumbers is what the test reads off the rendered page.
type dashboardNumbers struct {
	InUse      string `json:"in_use"` // "n / cap"
	Waiting    string `json:"waiting"`
	WaitCount  string `json:"wait_count"`
	Statements string `json:"statements"`
	Digest     string `json:"digest"`
}

const readDashboard = `(() => {
  const r = document.querySelector("#pools tbody tr");
  const d = document.querySelector("#digests tbody tr td");
  return {in_use: r.querySelector(".in_use").textContent, waiting: r.querySelector(".waiting").textContent,
    wait_count: r.querySelector(".wait_count").textContent,
    statements: document.getElementById("statements").textContent, digest: d ? d.textContent : ""};
})()`

func num(s string) int {
	n, _ := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), ",", ""))
	return n
}

// The dashboard, in a real browser, shows the pool's numbers move while a load runs through a
// proxy whose pool is smaller than the load; a screenshot is kept.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	f := setupWith(t, nil, func(c *config.Config) { c.Pool.MaxConnections = 2 })

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 45*time.Second)
	defer cancelT()

	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+f.adm.HTTPAddr()+"/"),
		chromedp.WaitVisible("#pools tbody tr .in_use")); err != nil {
		t.Fatalf("load the dashboard: %v", err)
	}
	before, err := chromedp.Run(ctx, chromedp.Evaluate[dashboardNumbers](readDashboard))
	if err != nil {
		t.Fatal(err)
	}

	// Six clients on a pool of two: connections in use, statements queueing.
	p, err := sql.Open("mysql", proxytest.DSN(f.in.Addr(), mariadbtest.AppUser, mariadbtest.AppPassword, "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	loadCtx, stopLoad := context.WithTimeout(context.Background(), 40*time.Second)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopLoad()
	for range 6 {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				_, _ = p.ExecContext(loadCtx, "SELECT SLEEP(0.02)")
			}
		})
	}

	var now dashboardNumbers
	deadline := time.Now().Add(30 * time.Second)
	for {
		if now, err = chromedp.Run(ctx, chromedp.Evaluate[dashboardNumbers](readDashboard)); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(now.InUse, "0 /") && num(now.WaitCount) > num(before.WaitCount) &&
			num(now.Statements) > num(before.Statements)+20 && strings.Contains(now.Digest, "sleep") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard's numbers did not move under load: before %+v, now %+v", before, now)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("dashboard before the load %+v, under load %+v", before, now)

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s", path)
	fmt.Fprintf(os.Stderr, "dashboard screenshot (%d bytes): %s\n", len(png), path)
}
