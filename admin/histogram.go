package admin

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nBuckets is the number of finite latency buckets: 50 µs to 30 s (CONTRACT.md, Metrics v1.1).
const nBuckets = 18

// latencyBounds are the buckets' upper bounds.
func latencyBounds() [nBuckets]time.Duration {
	us, ms, s := time.Microsecond, time.Millisecond, time.Second
	return [nBuckets]time.Duration{50 * us, 100 * us, 250 * us, 500 * us, 1 * ms, 2500 * us, 5 * ms,
		10 * ms, 25 * ms, 50 * ms, 100 * ms, 250 * ms, 500 * ms, 1 * s, 2500 * ms, 5 * s, 10 * s, 30 * s}
}

// histogram is a latency histogram that sessions and pools record into without a lock or an
// allocation; Prometheus reads it at scrape time and the dashboard once a second.
type histogram struct {
	bounds [nBuckets]time.Duration
	counts [nBuckets + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNs  atomic.Uint64
}

func newHistogram() *histogram { return &histogram{bounds: latencyBounds()} }

func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < nBuckets && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

// histSnapshot is a histogram's counts at one moment (each counter read on its own: a snapshot
// taken while statements finish may be a few observations apart from the sum).
type histSnapshot struct {
	counts [nBuckets + 1]uint64
	sum    time.Duration
}

func (h *histogram) snapshot() histSnapshot {
	var s histSnapshot
	for i := range s.counts {
		s.counts[i] = h.counts[i].Load()
	}
	s.sum = time.Duration(h.sumNs.Load())
	return s
}

func (s histSnapshot) total() uint64 {
	var n uint64
	for _, c := range s.counts {
		n += c
	}
	return n
}

// add adds o's counts to s.
func (s *histSnapshot) add(o histSnapshot) {
	for i := range s.counts {
		s.counts[i] += o.counts[i]
	}
	s.sum += o.sum
}

// since returns the observations made between prev and s.
func (s histSnapshot) since(prev histSnapshot) histSnapshot {
	var d histSnapshot
	for i := range s.counts {
		d.counts[i] = s.counts[i] - min(prev.counts[i], s.counts[i])
	}
	d.sum = s.sum - min(prev.sum, s.sum)
	return d
}

// quantile estimates the q-quantile (0 < q < 1), interpolating inside the bucket it falls in as
// Prometheus' histogram_quantile does; 0 without observations. Past the last bound it answers
// the last bound.
func (s histSnapshot) quantile(q float64) time.Duration {
	total := s.total()
	if total == 0 {
		return 0
	}
	bounds := latencyBounds()
	rank := q * float64(total)
	var seen float64
	for i, c := range s.counts {
		if c == 0 || seen+float64(c) < rank {
			seen += float64(c)
			continue
		}
		if i == nBuckets {
			return bounds[nBuckets-1]
		}
		lo := time.Duration(0)
		if i > 0 {
			lo = bounds[i-1]
		}
		frac := (rank - seen) / float64(c)
		return lo + time.Duration(frac*float64(bounds[i]-lo))
	}
	return bounds[nBuckets-1]
}

// metric turns the snapshot into a Prometheus histogram (cumulative buckets, seconds).
func (s histSnapshot) metric(desc *prometheus.Desc, labels ...string) prometheus.Metric {
	bounds := latencyBounds()
	buckets := make(map[float64]uint64, nBuckets)
	var cum uint64
	for i, b := range bounds {
		cum += s.counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(desc, cum+s.counts[nBuckets], s.sum.Seconds(), buckets, labels...)
}
