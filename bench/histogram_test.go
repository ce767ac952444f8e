package bench

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// within reports whether got is within frac of want.
func within(got, want time.Duration, frac float64) bool {
	return math.Abs(float64(got-want)) <= frac*float64(want)
}

func TestHistogramUniform(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 5000 * time.Microsecond},
		{0.95, 9500 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
	} {
		// A quantile is its bucket's midpoint: within 1/64 of any value in the bucket.
		if got := h.Quantile(c.q); !within(got, c.want, 1.0/64) {
			t.Errorf("p%v = %v, want %v within 1.6%%", c.q*100, got, c.want)
		}
	}
	if h.Count() != 10000 || h.Max() != 10*time.Millisecond {
		t.Errorf("count %d, max %v; want 10000, 10ms", h.Count(), h.Max())
	}
	if got, want := h.Mean(), 5000500*time.Nanosecond; got != want {
		t.Errorf("mean = %v, want %v (exact)", got, want)
	}
	if got := h.Quantile(0); got != time.Microsecond {
		t.Errorf("p0 = %v, want the minimum 1µs", got)
	}
	if got := h.Quantile(1); got != 10*time.Millisecond {
		t.Errorf("p100 = %v, want the maximum 10ms", got)
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := range 32 {
		h.Record(time.Duration(v))
	}
	for v := range 32 {
		q := float64(v+1) / 32
		if got := h.Quantile(q); got != time.Duration(v) {
			t.Errorf("Quantile(%v) = %v, want %dns", q, got, v)
		}
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 || empty.Max() != 0 {
		t.Error("empty histogram: want zero figures")
	}
	empty.Record(-time.Second)
	if empty.Max() != 0 || empty.Quantile(0.5) != 0 {
		t.Error("a negative duration should count as zero")
	}
}

// TestBuckets checks that every value falls in a bucket that contains it, no wider than 1/32 of it.
func TestBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 1 << 40, math.MaxInt64}
	for range 10000 {
		values = append(values, rng.Uint64N(1<<uint(1+rng.IntN(62))))
	}
	for _, v := range values {
		g, s := bucketOf(v)
		if g < 0 || g >= groupCount || s < 0 || s >= subBuckets {
			t.Fatalf("bucketOf(%d) = %d, %d: out of range", v, g, s)
		}
		low, width := bucketRange(g, s)
		if v < low || v-low >= width {
			t.Fatalf("value %d outside its bucket [%d, %d+%d)", v, low, low, width)
		}
		if width > max(1, v/subBuckets) {
			t.Fatalf("value %d: bucket width %d, more than 1/32 of it", v, width)
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var all Histogram
	parts := make([]Histogram, 3)
	for i := range 30000 {
		d := time.Duration(rng.ExpFloat64() * float64(200*time.Microsecond))
		all.Record(d)
		parts[i%3].Record(d)
	}
	var merged Histogram
	merged.Merge(&Histogram{}) // merging an empty histogram changes nothing
	for i := range parts {
		merged.Merge(&parts[i])
	}
	if merged.Count() != all.Count() || merged.Max() != all.Max() || merged.Mean() != all.Mean() {
		t.Errorf("merged count/max/mean %d/%v/%v, want %d/%v/%v",
			merged.Count(), merged.Max(), merged.Mean(), all.Count(), all.Max(), all.Mean())
	}
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		if got, want := merged.Quantile(q), all.Quantile(q); got != want {
			t.Errorf("merged Quantile(%v) = %v, want %v", q, got, want)
		}
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(50000 + i%100000))
	}
}
