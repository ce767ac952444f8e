package bench

import "time"

// Summary is a Result reduced to figures: what mysqlmux-bench prints, and its -json output.
// Rates divide totals over every round by the measured time of every round.
type Summary struct {
	Target           string         `json:"target"`
	Workload         string         `json:"workload"`
	Clients          int            `json:"clients"`
	Connected        int            `json:"connected"` // fewest over the rounds
	Rounds           int            `json:"rounds"`
	Seconds          float64        `json:"seconds"` // measured, all rounds
	Ops              int64          `json:"ops"`
	Queries          int64          `json:"queries"`
	QPS              float64        `json:"qps"`
	TPS              float64        `json:"tps,omitempty"`              // transactional workloads
	ConnectsPerSec   float64        `json:"connects_per_sec,omitempty"` // connect-churn
	RoundQPS         []float64      `json:"round_qps"`
	Latency          Percentiles    `json:"latency_us"` // per operation: a query, a transaction, or a connect-query-disconnect
	Connect          Percentiles    `json:"connect_us"`
	Connects         uint64         `json:"connects"`
	ErrorCount       int64          `json:"error_count"`
	Errors           Errors         `json:"errors"`               // by MySQL error code, or network, timeout, no-rows, other
	Rows             int64          `json:"rows,omitempty"`       // large-result
	MBPerSec         float64        `json:"mb_per_sec,omitempty"` // large-result: column data, 10^6 bytes per second
	BenchCPUPerQuery float64        `json:"bench_cpu_us_per_query"`
	Process          *TargetFigures `json:"target_process,omitempty"` // -target-pid
	VsFirst          *Ratios        `json:"vs_first,omitempty"`       // -compare: this target's figures over the first target's
}

// Percentiles of a histogram, in microseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// TargetFigures are the sampled figures of the target process (-target-pid).
type TargetFigures struct {
	PID          int     `json:"pid"`
	CPUPerQuery  float64 `json:"cpu_us_per_query"`
	CPUPercent   float64 `json:"cpu_percent"` // of one core, over the measured time
	RSSBeforeKB  int64   `json:"rss_before_kb"`
	RSSAfterKB   int64   `json:"rss_after_kb"`
	RSSPerClient float64 `json:"rss_bytes_per_connection"` // RSS growth over connected clients, averaged over rounds
}

// Ratios compare a target with the first one: its figure divided by the first target's (0 when
// either is missing).
type Ratios struct {
	QPS          float64 `json:"qps"`
	P50          float64 `json:"p50"`
	P95          float64 `json:"p95"`
	P99          float64 `json:"p99"`
	CPUPerQuery  float64 `json:"cpu_us_per_query,omitempty"`
	RSSPerClient float64 `json:"rss_bytes_per_connection,omitempty"`
	MBPerSec     float64 `json:"mb_per_sec,omitempty"`
}

// Summarize reduces results to figures; every result after the first gets its ratios to the first.
func Summarize(results []*Result) []Summary {
	out := make([]Summary, len(results))
	for i, r := range results {
		out[i] = r.summary()
		if i > 0 {
			out[i].VsFirst = ratios(&out[0], &out[i])
		}
	}
	return out
}

func (r *Result) summary() Summary {
	s := Summary{
		Target: r.Target.Addr, Workload: r.Workload, Clients: r.Clients, Rounds: len(r.Rounds),
		Latency: percentiles(&r.Latency), Connect: percentiles(&r.Connect), Connects: r.Connect.Count(),
		ErrorCount: r.Errors.Total(), Errors: r.Errors, RoundQPS: []float64{},
	}
	var elapsed, selfCPU, targetCPU, sampledTime time.Duration
	var bytes, sampledQueries int64
	var perClient float64
	var sampled int
	s.Connected = r.Clients
	for _, rd := range r.Rounds {
		s.Connected = min(s.Connected, rd.Connected)
		elapsed += rd.Elapsed
		s.Ops += rd.Ops
		s.Queries += rd.Queries
		s.Rows += rd.Rows
		bytes += rd.Bytes
		selfCPU += rd.SelfCPU
		s.RoundQPS = append(s.RoundQPS, per(float64(rd.Queries), rd.Elapsed.Seconds()))
		if rd.Sampled {
			sampled++
			targetCPU += rd.TargetCPU
			sampledTime += rd.Elapsed
			sampledQueries += rd.Queries
			perClient += per(float64(rd.RSSAfter-rd.RSSBefore), float64(rd.Connected))
		}
	}
	s.Seconds = elapsed.Seconds()
	s.QPS = per(float64(s.Queries), s.Seconds)
	switch {
	case r.Txn:
		s.TPS = per(float64(s.Ops), s.Seconds)
	case r.Churn:
		s.ConnectsPerSec = per(float64(s.Ops), s.Seconds)
	}
	if bytes > 0 {
		s.MBPerSec = per(float64(bytes)/1e6, s.Seconds)
	}
	s.BenchCPUPerQuery = per(float64(selfCPU)/1e3, float64(s.Queries))
	if sampled > 0 {
		last := r.Rounds[len(r.Rounds)-1]
		s.Process = &TargetFigures{
			PID:          r.Target.PID,
			CPUPerQuery:  per(float64(targetCPU)/1e3, float64(sampledQueries)),
			CPUPercent:   100 * per(targetCPU.Seconds(), sampledTime.Seconds()),
			RSSBeforeKB:  last.RSSBefore >> 10,
			RSSAfterKB:   last.RSSAfter >> 10,
			RSSPerClient: perClient / float64(sampled),
		}
	}
	return s
}

func percentiles(h *Histogram) Percentiles {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return Percentiles{
		P50: us(h.Quantile(0.50)), P95: us(h.Quantile(0.95)), P99: us(h.Quantile(0.99)),
		Max: us(h.Max()), Mean: us(h.Mean()),
	}
}

func ratios(first, s *Summary) *Ratios {
	r := &Ratios{
		QPS: per(s.QPS, first.QPS), P50: per(s.Latency.P50, first.Latency.P50),
		P95: per(s.Latency.P95, first.Latency.P95), P99: per(s.Latency.P99, first.Latency.P99),
		MBPerSec: per(s.MBPerSec, first.MBPerSec),
	}
	if first.Process != nil && s.Process != nil {
		r.CPUPerQuery = per(s.Process.CPUPerQuery, first.Process.CPUPerQuery)
		r.RSSPerClient = per(s.Process.RSSPerClient, first.Process.RSSPerClient)
	}
	return r
}

// per divides, giving 0 rather than Inf or NaN for a zero divisor.
func per(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
