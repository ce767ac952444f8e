package bench

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRateControl runs many-clients straight at the server: each paced client issues -rate
// statements per second (10 ± 1), the fast one more, the idle one none, and the server's
// connections are sampled.
func TestRateControl(t *testing.T) {
	c := testConfig(t, "many-clients")
	c.Clients, c.Active, c.Fast, c.Rate = 7, 4, 1, 10
	c.Duration = 2 * time.Second
	c.Server = srv.Addr
	r := runOne(t, c)
	s := r.summary()
	if s.ErrorCount != 0 || s.Connected != 7 {
		t.Fatalf("errors %v, connected %d of 7", s.Errors, s.Connected)
	}
	p := s.PacedClients
	if p == nil || p.Clients != 4 || p.MinPerSec < 9 || p.MaxPerSec > 11 {
		t.Fatalf("paced clients %+v: want 4 at 10 ± 1 per second each", p)
	}
	if p.Ops < 4*18 || p.Ops > 4*22 || p.Latency.P50 <= 0 {
		t.Errorf("paced clients ran %d statements in 2 s, latency %+v; want 80 ± 8", p.Ops, p.Latency)
	}
	if f := s.FastClients; f == nil || f.Ops <= 2*20 || s.Ops != f.Ops+p.Ops {
		t.Errorf("fast client %+v, all %d: want more than a paced client's, and the two classes summing up", f, s.Ops)
	}
	// The 7 clients, and nothing else of this test, were connected to the server.
	if sc := s.ServerConns; sc == nil || sc.Max < 7 || sc.Samples < 10 {
		t.Errorf("server connections %+v: want at least the 7 clients, sampled every 100 ms", sc)
	}
	var text bytes.Buffer
	if err := WriteText(&text, []Summary{s}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"7 clients (1 fast, 4 paced)", "paced clients", "/s each", "server connections"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}

// TestRelayFloor loads the server straight and through the relay, in two steps: the relay's
// figures are the floor of its step, the direct target's p50 the base of the added latency.
func TestRelayFloor(t *testing.T) {
	c := testConfig(t, "point-select")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ServeRelay(ln, srv.Addr) }()
	pid := os.Getpid() // the relay runs in this process here: its CPU is the test's
	c.Targets = []Target{{Addr: srv.Addr, PID: srv.PID()}, {Addr: ln.Addr().String(), PID: pid, Name: "relay", Floor: true}}
	c.Steps = []Step{{Clients: 2}, {Clients: 3}}
	c.Duration = 300 * time.Millisecond
	results, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	if err := <-served; err != nil {
		t.Errorf("ServeRelay: %v", err)
	}
	sums := Summarize(results)
	if len(sums) != 4 || sums[0].Clients != 2 || sums[1].Clients != 2 || sums[2].Clients != 3 || sums[3].Name != "relay" {
		t.Fatalf("want direct and relay at 2 clients, then at 3: %+v", sums)
	}
	for i, s := range sums {
		if s.Ops == 0 || s.ErrorCount != 0 || s.Process == nil || s.Process.VoluntaryPerQuery <= 0 {
			t.Errorf("%d: %s with %d clients: ops %d, errors %v, process %+v", i, s.label(), s.Clients, s.Ops, s.Errors, s.Process)
		}
	}
	if sums[0].VsFloor == nil || sums[2].VsFloor == nil || sums[1].VsFloor != nil || sums[0].AddedP50 != nil || sums[1].AddedP50 == nil {
		t.Errorf("direct against the floor: %+v, %+v; the relay's added p50 %v", sums[0].VsFloor, sums[2].VsFloor, sums[1].AddedP50)
	}
	// Each target at 3 clients against itself at 2.
	if sums[0].VsFirstStep != nil || sums[1].VsFirstStep != nil || sums[2].VsFirstStep == nil || sums[3].VsFirstStep == nil ||
		sums[3].VsFirstStep.CPUPerQuery != sums[3].Process.CPUPerQuery/sums[1].Process.CPUPerQuery {
		t.Errorf("against the first step: %+v, %+v", sums[2].VsFirstStep, sums[3].VsFirstStep)
	}
	// Go reads and writes the relay's sockets with read(2) and write(2): /proc counts them.
	if p := sums[1].Process; p.ReadsPerQuery < 1 || p.WritesPerQuery < 1 {
		t.Errorf("relay (this process): %.2f reads, %.2f writes per query; want at least one each", p.ReadsPerQuery, p.WritesPerQuery)
	}
	var text bytes.Buffer
	if err := WriteText(&text, sums); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"relay", "3 clients", "CPU ÷ floor", "CPU ÷ step 1", "p50 added", "target per query"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	t.Logf("\n%s", text.String())
}

func TestStepValidation(t *testing.T) {
	c := testConfig(t, "point-select")
	c.Duration = time.Second
	for _, tc := range []struct {
		workload string
		step     Step
		rate     float64
		want     string
	}{
		{"point-select", Step{Clients: 4, Active: 1}, 10, "only for the many-clients workload"},
		{"many-clients", Step{Clients: 4, Active: 3, Fast: 2}, 10, "more than -clients"},
		{"many-clients", Step{Clients: 4, Active: 3}, 0, "-rate"},
		{"many-clients", Step{Clients: 0}, 10, "-clients"},
	} {
		bad := c
		bad.Workload, bad.Steps, bad.Rate = tc.workload, []Step{tc.step}, tc.rate
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v rate %g: %v, want an error mentioning %q", tc.workload, tc.step, tc.rate, err, tc.want)
		}
	}
}
