package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram buckets durations log-linearly, HDR-style: values below 32 ns are exact, and every
// power of two above is split into 32 equal sub-buckets, so a bucket is at most 1/32 of its values
// wide and a quantile, reported as its bucket's midpoint, is within 1/64 (1.6%) of a recorded value.
//
// Memory is bounded: one group of 32 counters per power of two, allocated when a value first falls
// into it, so a client whose latencies span a few octaves holds about 1 KB. The zero value is ready
// to use. A Histogram is not safe for concurrent use: each client records into its own, and they
// are merged once the clients are done.
type Histogram struct {
	groups   [groupCount]*[subBuckets]uint64
	count    uint64
	sum      time.Duration
	min, max time.Duration
}

const (
	subBits    = 5
	subBuckets = 1 << subBits
	// groupCount covers every non-negative int64: group 0 holds 0..31 ns, group g ≥ 1 the octave
	// [2^(g+4), 2^(g+5)).
	groupCount = 64 - subBits
)

// bucketOf returns the group and sub-bucket of a value in nanoseconds.
func bucketOf(v uint64) (group, sub int) {
	if v < subBuckets {
		return 0, int(v)
	}
	exp := bits.Len64(v) - 1 // ≥ subBits
	return exp - subBits + 1, int(v>>(exp-subBits)) - subBuckets
}

// bucketRange returns the lowest value of a bucket and its width, in nanoseconds.
func bucketRange(group, sub int) (low, width uint64) {
	if group == 0 {
		return uint64(sub), 1
	}
	shift := group - 1
	return uint64(subBuckets+sub) << shift, 1 << shift
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	g, s := bucketOf(uint64(d))
	if h.groups[g] == nil {
		h.groups[g] = new([subBuckets]uint64)
	}
	h.groups[g][s]++
	if h.count == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.count++
	h.sum += d
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.count == 0 {
		return
	}
	for g, grp := range o.groups {
		if grp == nil {
			continue
		}
		if h.groups[g] == nil {
			h.groups[g] = new([subBuckets]uint64)
		}
		for s, n := range grp {
			h.groups[g][s] += n
		}
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.count += o.count
	h.sum += o.sum
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.count }

// Max returns the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the exact mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return h.sum / time.Duration(h.count)
}

// Quantile returns the value below which a fraction q (0..1) of the recorded values fall: the
// midpoint of the bucket holding the value of rank ⌈q·count⌉, kept within [min, max]. An empty
// histogram gives 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	rank = min(max(rank, 1), h.count)
	var seen uint64
	for g, grp := range h.groups {
		if grp == nil {
			continue
		}
		for s, n := range grp {
			seen += n
			if seen < rank {
				continue
			}
			low, width := bucketRange(g, s)
			mid := time.Duration(low + width/2)
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max
}
