package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestPairedCPURatio: the paired ratio is taken round by round, so a round slowed for both
// targets alike (here the second, at three times the cost) weighs as one pair among others.
func TestPairedCPURatio(t *testing.T) {
	result := func(pid int, cpuPerQuery ...time.Duration) *Result {
		r := &Result{Target: Target{Addr: "a", PID: pid}, Workload: "point-select", Clients: 1}
		for _, c := range cpuPerQuery {
			r.Rounds = append(r.Rounds, Round{Elapsed: time.Second, Queries: 1000, Sampled: c > 0, TargetCPU: 1000 * c})
		}
		return r
	}
	us := time.Microsecond
	// Round 4 of the second target was not sampled: it has no pair.
	sums := Summarize([]*Result{result(1, 10*us, 30*us, 10*us, 10*us), result(2, 11*us, 30*us, 12*us, 0)})
	r := sums[1].VsFirst
	if r.CPUPairedMedian != 1.1 || r.CPUPairedMin != 1 || r.CPUPairedMax != 1.2 {
		t.Errorf("paired: median %v, range %v–%v; want 1.1, 1–1.2", r.CPUPairedMedian, r.CPUPairedMin, r.CPUPairedMax)
	}
	if got := sums[1].RoundCPUPerQuery; len(got) != 4 || got[0] != 11 || got[3] != 0 {
		t.Errorf("round CPU per query %v, want [11 30 12 0]", got)
	}
	var text bytes.Buffer
	if err := WriteText(&text, sums); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "1.00–1.20") {
		t.Errorf("table lacks the paired range:\n%s", text.String())
	}
	// No pid, no rounds sampled: no paired figure.
	sums = Summarize([]*Result{result(0, 0, 0), result(0, 0, 0)})
	if sums[1].VsFirst.CPUPairedMedian != 0 || sums[1].RoundCPUPerQuery != nil {
		t.Errorf("without a pid: %+v, %v", sums[1].VsFirst, sums[1].RoundCPUPerQuery)
	}
}
