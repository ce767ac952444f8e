package admin

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newHTTPServer builds the HTTP listener's server: GET /metrics from a registry of this Server's
// own (never the global default one), /healthz, /readyz, the dashboard (GET /) and, when
// [admin].pprof is on, Go's profiles under /debug/pprof/.
func (s *Server) newHTTPServer() *http.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(s),
		newFleetCollector(s),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", serveEmbedded("dashboard/index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /dashboard.js", serveEmbedded("dashboard/dashboard.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /dashboard.json", s.serveDashboardJSON)
	if s.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return &http.Server{
		Handler:           mux,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// healthz answers 200 while the proxy serves: "ok", or "paused" during PAUSE (still 200: a
// paused proxy is alive and holds its clients; a load balancer must not restart it).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.in.Router().Paused() {
		_, _ = w.Write([]byte("paused\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// slogPrinter routes promhttp's error log to the Server's logger.
type slogPrinter struct{ s *Server }

// Println implements promhttp.Logger.
func (p slogPrinter) Println(v ...any) { p.s.log.Error("metrics", "err", v) }
