package admin

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mysqlmux/mysqlmux/digest"
	"github.com/mysqlmux/mysqlmux/internal/wire"
	"github.com/mysqlmux/mysqlmux/proxy"
)

func TestHistogramBucketsAndQuantiles(t *testing.T) {
	h := newHistogram()
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 51 * time.Microsecond, 3 * time.Millisecond, time.Minute} {
		h.observe(d)
	}
	s := h.snapshot()
	// 0 and exactly 50 µs go in the first bucket (upper bounds are inclusive), 51 µs in the
	// second, 3 ms in (2.5 ms, 5 ms], a minute past the last bound.
	want := map[int]uint64{0: 2, 1: 1, 6: 1, nBuckets: 1}
	for i, c := range s.counts {
		if c != want[i] {
			t.Errorf("bucket %d: %d, want %d", i, c, want[i])
		}
	}
	if s.total() != 5 || s.sum != time.Minute+3*time.Millisecond+101*time.Microsecond {
		t.Errorf("total %d, sum %v", s.total(), s.sum)
	}

	var even histSnapshot
	even.counts[4] = 100 // 100 observations in (500 µs, 1 ms]
	if q := even.quantile(0.5); q != 750*time.Microsecond {
		t.Errorf("p50 of 100 in (0.5, 1] ms = %v, want 750µs (interpolated)", q)
	}
	if q := (histSnapshot{}).quantile(0.99); q != 0 {
		t.Errorf("quantile without observations = %v", q)
	}
	later := even
	later.counts[4] += 10
	if d := later.since(even); d.total() != 10 {
		t.Errorf("since: %d observations, want 10", d.total())
	}

	m := &dto.Metric{}
	desc := prometheus.NewDesc("x_seconds", "test", nil, nil)
	if err := s.metric(desc).Write(m); err != nil {
		t.Fatal(err)
	}
	hist := m.GetHistogram()
	if hist.GetSampleCount() != 5 || len(hist.GetBucket()) != nBuckets || hist.GetBucket()[0].GetUpperBound() != 0.00005 ||
		hist.GetBucket()[nBuckets-1].GetUpperBound() != 30 || hist.GetBucket()[nBuckets-1].GetCumulativeCount() != 4 {
		t.Errorf("prometheus histogram: %v", hist)
	}
}

func TestObserverRoutesCommands(t *testing.T) {
	tb := digest.New(10)
	defer tb.Close()
	o := newObserver(tb)
	o.CommandDone(proxy.CommandStat{Command: byte(wire.ComQuery), Text: []byte("SELECT 1"), Duration: time.Millisecond})
	o.CommandDone(proxy.CommandStat{Command: byte(wire.ComStmtExecute), Text: []byte("SELECT ?"), Duration: time.Millisecond})
	o.CommandDone(proxy.CommandStat{Command: byte(wire.ComPing), Duration: time.Millisecond})
	o.CommandDone(proxy.CommandStat{Command: byte(wire.ComQuit)})
	o.CommandDone(proxy.CommandStat{Command: 0xee, Duration: time.Millisecond})
	for name, want := range map[string]uint64{"query": 1, "execute": 1, "ping": 1, "other": 1, "prepare": 0} {
		if got := o.byName[name].snapshot().total(); got != want {
			t.Errorf("%s: %d observations, want %d", name, got, want)
		}
	}
	if got := o.statements().total(); got != 2 {
		t.Errorf("statements: %d, want 2", got)
	}
	rows := tb.Rows()
	if len(rows) != 1 || rows[0].Count != 2 {
		t.Errorf("digests: %+v, want one row of two", rows)
	}
	o.BackendWaits("db:3306")(2 * time.Second)
	if s := o.waitHistogram("db:3306").snapshot(); s.counts[14] != 1 {
		t.Errorf("a 2 s wait: buckets %v, want it in (1 s, 2.5 s]", s.counts)
	}
}

// BenchmarkCommandDone is what every command costs the session for statistics with digests on:
// a histogram add and a copy into the digest queue.
func BenchmarkCommandDone(b *testing.B) {
	tb := digest.New(1000)
	defer tb.Close()
	o := newObserver(tb)
	st := proxy.CommandStat{Command: byte(wire.ComQuery), Text: []byte("SELECT c FROM sbtest1 WHERE id=4871"),
		Duration: 300 * time.Microsecond, Rows: 1}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.CommandDone(st)
		}
	})
}
