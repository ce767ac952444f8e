package bench

import (
	"slices"
	"time"
)

// Summary is a Result reduced to figures: what mysqlmux-bench prints, and its -json output.
// Rates divide totals over every round by the measured time of every round.
type Summary struct {
	Target           string         `json:"target"`
	Name             string         `json:"name,omitempty"` // the target's name (the relay's), shown instead of its address
	Workload         string         `json:"workload"`
	Clients          int            `json:"clients"`
	Active           int            `json:"active_clients,omitempty"` // many-clients: paced clients
	Fast             int            `json:"fast_clients,omitempty"`   // many-clients: clients at full speed
	Connected        int            `json:"connected"`                // fewest over the rounds
	Rounds           int            `json:"rounds"`
	Seconds          float64        `json:"seconds"` // measured, all rounds
	Ops              int64          `json:"ops"`
	Queries          int64          `json:"queries"`
	QPS              float64        `json:"qps"`
	TPS              float64        `json:"tps,omitempty"`              // transactional workloads
	ConnectsPerSec   float64        `json:"connects_per_sec,omitempty"` // connect-churn
	RoundQPS         []float64      `json:"round_qps"`
	RoundCPUPerQuery []float64      `json:"round_cpu_us_per_query,omitempty"` // -target-pid (0: a round not sampled)
	Latency          Percentiles    `json:"latency_us"`                       // per operation: a query, a transaction, or a connect-query-disconnect
	Connect          Percentiles    `json:"connect_us"`
	Connects         uint64         `json:"connects"`
	ErrorCount       int64          `json:"error_count"`
	Errors           Errors         `json:"errors"`               // by MySQL error code, or network, timeout, no-rows, other
	Rows             int64          `json:"rows,omitempty"`       // large-result
	MBPerSec         float64        `json:"mb_per_sec,omitempty"` // large-result: column data, 10^6 bytes per second
	BenchCPUPerQuery float64        `json:"bench_cpu_us_per_query"`
	Process          *TargetFigures `json:"target_process,omitempty"`     // -target-pid
	ServerConns      *ConnSamples   `json:"server_connections,omitempty"` // -server: the most over the rounds, the mean of their means
	// many-clients: the clients at full speed, and the paced ones.
	FastClients  *ClassSummary `json:"fast,omitempty"`
	PacedClients *ClassSummary `json:"paced,omitempty"`
	VsFirst      *Ratios       `json:"vs_first,omitempty"` // -compare: this target's figures over the first target's (the first step's, with several)
	// Targets after the first of a step: the p50 latency this target adds to the first's
	// (direct's, when it comes first), in µs.
	AddedP50 *float64 `json:"added_p50_us,omitempty"`
	// When a Floor target ran in the same step: this target's figures over the floor's.
	VsFloor *Ratios `json:"vs_floor,omitempty"`
	// Steps after the first: this target's figures over its own in the first step (the cost of
	// 1,000 clients over that of 16, say).
	VsFirstStep *Ratios `json:"vs_first_step,omitempty"`
}

// ClassSummary are the figures of one class of many-clients' clients.
type ClassSummary struct {
	Clients int         `json:"clients"`
	Ops     int64       `json:"ops"`
	Latency Percentiles `json:"latency_us"` // paced: from when each statement was due
	// Paced: statements per second of the slowest and the fastest client in a round (the rate
	// control); 0 when the rounds ran for -queries rather than -duration.
	MinPerSec float64 `json:"min_per_client_per_sec,omitempty"`
	MaxPerSec float64 `json:"max_per_client_per_sec,omitempty"`
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
	// Per query: read and write syscalls (/proc/PID/io syscr, syscw) and context switches
	// (voluntary, as when a thread waits, and involuntary, when it is preempted) of all its threads.
	ReadsPerQuery       float64 `json:"reads_per_query"`
	WritesPerQuery      float64 `json:"writes_per_query"`
	VoluntaryPerQuery   float64 `json:"voluntary_switches_per_query"`
	InvoluntaryPerQuery float64 `json:"involuntary_switches_per_query"`
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
	// Rounds run in pairs (A B A B …): the median and the range over pairs of the ratio of CPU
	// per query within a pair. Machine noise that lasts longer than a round (another tenant's
	// load, CPU frequency) moves both rounds of a pair alike, so the median is the steadier
	// figure of the two; the range says how far single pairs strayed.
	CPUPairedMedian float64 `json:"cpu_us_per_query_paired_median,omitempty"`
	CPUPairedMin    float64 `json:"cpu_us_per_query_paired_min,omitempty"`
	CPUPairedMax    float64 `json:"cpu_us_per_query_paired_max,omitempty"`
}

// Summarize reduces results to figures; every result after the first gets its ratios to the first,
// and to the floor target of its step when there is one.
func Summarize(results []*Result) []Summary {
	out := make([]Summary, len(results))
	for i, r := range results {
		out[i] = r.summary()
		if i > 0 {
			out[i].VsFirst = ratios(&out[0], &out[i])
		}
	}
	for i, r := range results {
		for j, o := range results[:i] {
			if o.Target == r.Target {
				out[i].VsFirstStep = ratios(&out[j], &out[i])
				break
			}
		}
		first := -1
		for j, o := range results {
			if o.Step != r.Step {
				continue
			}
			if first < 0 {
				first = j
			}
			if o.Target.Floor && j != i {
				out[i].VsFloor = ratios(&out[j], &out[i])
			}
		}
		if first != i && len(r.Rounds) > 0 && len(results[first].Rounds) > 0 {
			added := out[i].Latency.P50 - out[first].Latency.P50
			out[i].AddedP50 = &added
		}
	}
	return out
}

func (r *Result) summary() Summary {
	s := Summary{
		Target: r.Target.Addr, Name: r.Target.Name, Workload: r.Workload, Clients: r.Clients,
		Active: r.Step.Active, Fast: r.Step.Fast, Rounds: len(r.Rounds),
		Latency: percentiles(&r.Latency), Connect: percentiles(&r.Connect), Connects: r.Connect.Count(),
		ErrorCount: r.Errors.Total(), Errors: r.Errors, RoundQPS: []float64{},
	}
	var elapsed, selfCPU, targetCPU, sampledTime time.Duration
	var bytes, sampledQueries, voluntary, involuntary, reads, writes int64
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
		if r.Target.PID != 0 { // a round not sampled has no TargetCPU: 0
			s.RoundCPUPerQuery = append(s.RoundCPUPerQuery, per(float64(rd.TargetCPU)/1e3, float64(rd.Queries)))
		}
		if rd.Sampled {
			sampled++
			targetCPU += rd.TargetCPU
			voluntary += rd.Voluntary
			involuntary += rd.Involuntary
			reads += rd.Reads
			writes += rd.Writes
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
			PID:                 r.Target.PID,
			CPUPerQuery:         per(float64(targetCPU)/1e3, float64(sampledQueries)),
			CPUPercent:          100 * per(targetCPU.Seconds(), sampledTime.Seconds()),
			RSSBeforeKB:         last.RSSBefore >> 10,
			RSSAfterKB:          last.RSSAfter >> 10,
			RSSPerClient:        perClient / float64(sampled),
			ReadsPerQuery:       per(float64(reads), float64(sampledQueries)),
			WritesPerQuery:      per(float64(writes), float64(sampledQueries)),
			VoluntaryPerQuery:   per(float64(voluntary), float64(sampledQueries)),
			InvoluntaryPerQuery: per(float64(involuntary), float64(sampledQueries)),
		}
	}
	s.ServerConns = r.serverConns()
	if r.Step.Fast > 0 {
		s.FastClients = &ClassSummary{Clients: r.Step.Fast, Ops: r.Fast.Ops, Latency: percentiles(&r.Fast.Latency)}
	}
	if r.Step.Active > 0 {
		s.PacedClients = &ClassSummary{Clients: r.Step.Active, Ops: r.Paced.Ops, Latency: percentiles(&r.Paced.Latency)}
		for i, rd := range r.Rounds {
			secs := rd.Window.Seconds()
			lo, hi := per(float64(rd.PacedMinOps), secs), per(float64(rd.PacedMaxOps), secs)
			if i == 0 || lo < s.PacedClients.MinPerSec {
				s.PacedClients.MinPerSec = lo
			}
			s.PacedClients.MaxPerSec = max(s.PacedClients.MaxPerSec, hi)
		}
	}
	return s
}

// serverConns merges the rounds' samples of the server's connections.
func (r *Result) serverConns() *ConnSamples {
	var out ConnSamples
	var means float64
	n := 0
	for _, rd := range r.Rounds {
		if c := rd.ServerConns; c != nil {
			out.Max = max(out.Max, c.Max)
			out.Samples += c.Samples
			means += c.Mean
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out.Mean = means / float64(n)
	return &out
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
		r.CPUPairedMedian, r.CPUPairedMin, r.CPUPairedMax = paired(first.RoundCPUPerQuery, s.RoundCPUPerQuery)
	}
	return r
}

// paired returns the median, the least and the greatest of b[i] / a[i] over the rounds both
// sampled (zeros when none did).
func paired(a, b []float64) (median, lo, hi float64) {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if a[i] > 0 && b[i] > 0 {
			rs = append(rs, b[i]/a[i])
		}
	}
	if len(rs) == 0 {
		return 0, 0, 0
	}
	slices.Sort(rs)
	n := len(rs)
	median = rs[n/2]
	if n%2 == 0 {
		median = (rs[n/2-1] + rs[n/2]) / 2
	}
	return median, rs[0], rs[n-1]
}

// per divides, giving 0 rather than Inf or NaN for a zero divisor.
func per(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
