package admin

import (
	"embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mysqlmux/mysqlmux/digest"
)

// The dashboard is a page and a small script, embedded: nothing is built, nothing loaded from
// elsewhere (the Content-Security-Policy says so to the browser too). The script polls
// /dashboard.json every second.
//
//go:embed dashboard/index.html dashboard/dashboard.js
var dashboardFiles embed.FS

// topDigests is how many digest rows the dashboard shows.
const topDigests = 10

type poolView struct {
	Backend   string `json:"backend"`
	Max       int    `json:"max_connections"`
	Open      int    `json:"open"`
	InUse     int    `json:"in_use"`
	Idle      int    `json:"idle"`
	Waiting   int    `json:"waiting"`
	WaitCount uint64 `json:"wait_count"`
	Timeouts  uint64 `json:"timeouts"`
	Up        bool   `json:"up"`
}

type digestView struct {
	Text   string  `json:"digest_text"`
	Count  uint64  `json:"count"`
	SumMs  float64 `json:"sum_time_ms"`
	AvgMs  float64 `json:"avg_time_ms"`
	MaxMs  float64 `json:"max_time_ms"`
	Rows   uint64  `json:"rows_sent"`
	Errors uint64  `json:"errors"`
}

// dashboardData is what /dashboard.json answers.
type dashboardData struct {
	Time      int64             `json:"time"` // unix milliseconds
	Paused    bool              `json:"paused"`
	Clients   int64             `json:"clients"`
	States    map[string]int    `json:"states"` // clients by state (idle, active)
	Pinned    map[string]int    `json:"pinned"` // clients by pin reason
	Pools     []poolView        `json:"pools"`
	Totals    map[string]uint64 `json:"totals"`
	Series    []point           `json:"series"`
	DigestsOn bool              `json:"digests_on"`
	Digests   []digestView      `json:"digests"` // the most total time first
}

func (s *Server) dashboardData() dashboardData {
	sn := s.takeSnapshot()
	d := dashboardData{
		Time: time.Now().UnixMilli(), Paused: sn.paused, Clients: sn.clients,
		States: map[string]int{"idle": 0, "active": 0}, Pinned: sn.pinned,
		Totals: map[string]uint64{
			"statements": s.obs.statements().total(), "commands": sn.commands, "borrows": sn.borrows,
			"clients_refused": sn.refused, "acquire_timeouts": sn.acquireTimeouts, "backend_errors": sn.backendErrors,
		},
		Series: s.series.points(), DigestsOn: s.digests != nil, Digests: []digestView{},
	}
	for _, c := range sn.sessions {
		d.States[c.State]++
	}
	for _, p := range sn.pools {
		_, down := s.health.observe(p)
		d.Pools = append(d.Pools, poolView{Backend: p.Backend, Max: p.MaxConns, Open: p.Open, InUse: p.InUse,
			Idle: p.Idle, Waiting: p.Waiting, WaitCount: p.WaitCount, Timeouts: p.Timeouts, Up: !down})
	}
	if s.digests != nil {
		d.Totals["digest_dropped"] = s.digests.Dropped()
		rows := s.digests.Rows()
		for _, r := range rows[:min(len(rows), topDigests)] {
			d.Digests = append(d.Digests, viewDigest(r))
		}
	}
	return d
}

func viewDigest(r digest.Row) digestView {
	return digestView{Text: r.Text, Count: r.Count, SumMs: ms(r.Sum), AvgMs: ms(avg(r)), MaxMs: ms(r.Max),
		Rows: r.RowsSent, Errors: r.Errors}
}

func avg(r digest.Row) time.Duration {
	if r.Count == 0 {
		return 0
	}
	return r.Sum / time.Duration(r.Count)
}

func (s *Server) serveDashboardJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(s.dashboardData()); err != nil {
		s.log.Debug("dashboard.json", "err", err)
	}
}

// serveEmbedded answers one embedded file with its content type.
func serveEmbedded(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		b, err := dashboardFiles.ReadFile(name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}
