package admin

import (
	"sync"
	"time"
)

// seriesLen is how much history the dashboard shows: five minutes at a point a second.
const seriesLen = 300

// point is one second of the dashboard's history.
type point struct {
	T       int64   `json:"t"`   // unix milliseconds at the end of the second
	QPS     float64 `json:"qps"` // statements (COM_QUERY, COM_STMT_EXECUTE) finished per second
	P50     float64 `json:"p50_ms"`
	P95     float64 `json:"p95_ms"`
	P99     float64 `json:"p99_ms"`
	InUse   int     `json:"in_use"`  // backend connections lent out, all backends
	Waiting int     `json:"waiting"` // statements waiting for one, all backends
}

// series keeps the last seriesLen points, so a dashboard opened now shows the last minutes.
type series struct {
	mu    sync.Mutex
	pts   []point // ring of seriesLen; pts[next] is the oldest once full
	next  int
	prev  histSnapshot
	prevT time.Time
}

func newSeries() *series { return &series{pts: make([]point, 0, seriesLen)} }

// add records the second ending at now, from the statements' histogram so far.
func (se *series) add(now time.Time, stmts histSnapshot, inUse, waiting int) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.prevT.IsZero() {
		se.prev, se.prevT = stmts, now
		return
	}
	d := stmts.since(se.prev)
	secs := now.Sub(se.prevT).Seconds()
	se.prev, se.prevT = stmts, now
	p := point{T: now.UnixMilli(), InUse: inUse, Waiting: waiting}
	if secs > 0 {
		p.QPS = float64(d.total()) / secs
	}
	p.P50, p.P95, p.P99 = ms(d.quantile(0.5)), ms(d.quantile(0.95)), ms(d.quantile(0.99))
	if len(se.pts) < seriesLen {
		se.pts = append(se.pts, p)
		return
	}
	se.pts[se.next] = p
	se.next = (se.next + 1) % seriesLen
}

// points returns the history, oldest first.
func (se *series) points() []point {
	se.mu.Lock()
	defer se.mu.Unlock()
	out := make([]point, 0, len(se.pts))
	out = append(out, se.pts[se.next:]...)
	return append(out, se.pts[:se.next]...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sample adds a point to the series every second until Close.
func (s *Server) sample() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		inUse, waiting := 0, 0
		for _, p := range s.in.Router().Pools() {
			st := p.Stats()
			inUse += st.InUse
			waiting += st.Waiting
		}
		s.series.add(time.Now(), s.obs.statements(), inUse, waiting)
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}
