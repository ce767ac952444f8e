package bench

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText prints summaries for people: a block of figures for one target, or a side-by-side
// table with ratios to the first target for several.
func WriteText(w io.Writer, sums []Summary) error {
	if len(sums) == 1 {
		return writeBlock(w, &sums[0])
	}
	return writeTable(w, sums)
}

func writeBlock(w io.Writer, s *Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{name}, args...)...)
	}
	fmt.Fprintf(tw, "%s against %s: %s, %d round(s), %.2f s measured\n", s.Workload, s.label(), s.clientsText(), s.Rounds, s.Seconds)
	row("connected", "%d of %d clients", s.Connected, s.Clients)
	if s.Ops > 0 {
		row("queries", "%d (%.1f per second)", s.Queries, s.QPS)
	}
	if s.TPS > 0 {
		row("transactions", "%d (%.1f per second)", s.Ops, s.TPS)
	}
	if s.ConnectsPerSec > 0 {
		row("connect-query-disconnect", "%d (%.1f per second)", s.Ops, s.ConnectsPerSec)
	}
	if s.Rows > 0 {
		row("result rows", "%d (%.1f MB/s of column data)", s.Rows, s.MBPerSec)
	}
	if p := s.Latency; s.Ops > 0 {
		row("latency", "p50 %s  p95 %s  p99 %s  max %s  mean %s", us(p.P50), us(p.P95), us(p.P99), us(p.Max), us(p.Mean))
	}
	c := s.Connect
	row("connect time", "p50 %s  p99 %s  max %s  (%d connects)", us(c.P50), us(c.P99), us(c.Max), s.Connects)
	if s.ErrorCount == 0 {
		row("errors", "none")
	} else {
		row("errors", "%d", s.ErrorCount)
		for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
			row("", "%s × %d: %s", k, s.Errors[k].Count, s.Errors[k].Message)
		}
	}
	for _, c := range s.classes() {
		row(c.name, "%s", c.cell())
	}
	if t := s.Process; t != nil {
		cpu := fmt.Sprintf("CPU %.0f%% of a core", t.CPUPercent)
		if s.Queries > 0 {
			cpu = fmt.Sprintf("CPU %s per query (%.0f%% of a core)", us(t.CPUPerQuery), t.CPUPercent)
		}
		row(fmt.Sprintf("target pid %d", t.PID), "%s; RSS %s → %s (%s per connection)",
			cpu, size(float64(t.RSSBeforeKB<<10)), size(float64(t.RSSAfterKB<<10)), size(t.RSSPerClient))
		if s.Queries > 0 {
			row("target per query", "%s", perQueryCell(t))
		}
	}
	if c := s.ServerConns; c != nil {
		row("server connections", "max %d, mean %.1f (Threads_connected)", c.Max, c.Mean)
	}
	if s.Queries > 0 {
		row("bench CPU", "%s per query", us(s.BenchCPUPerQuery))
	}
	return tw.Flush()
}

func writeTable(w io.Writer, sums []Summary) error {
	first := &sums[0]
	fmt.Fprintf(w, "%s, %s, %d round(s) per target, targets alternating; ratio = target / %s\n",
		first.Workload, first.clientsText(), first.Rounds, first.label())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Names are padded by hand: the figures are right-aligned, the names should not be.
	name := func(s string) string { return fmt.Sprintf("%-16s", s) }
	header := []string{name("")}
	for i, s := range sums {
		header = append(header, s.label())
		if i > 0 {
			header = append(header, "ratio")
		}
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	// line prints one figure per target; ratio says whether a ratio column follows each target
	// after the first (ratios of the summary, or of the raw figure).
	line := func(label string, ratio func(r *Ratios) float64, cell func(s *Summary) string) {
		cells := []string{name(label)}
		for i := range sums {
			cells = append(cells, cell(&sums[i]))
			if i > 0 {
				r := ""
				if ratio != nil && sums[i].VsFirst != nil && ratio(sums[i].VsFirst) != 0 {
					r = fmt.Sprintf("%.2f", ratio(sums[i].VsFirst))
				}
				cells = append(cells, r)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if steps(sums) {
		line("clients", nil, func(s *Summary) string { return s.clientsText() })
	}
	line("qps", func(r *Ratios) float64 { return r.QPS }, func(s *Summary) string { return fmt.Sprintf("%.0f", s.QPS) })
	line("qps by round", nil, func(s *Summary) string {
		var parts []string
		for _, q := range s.RoundQPS {
			parts = append(parts, fmt.Sprintf("%.0f", q))
		}
		return strings.Join(parts, " ")
	})
	if first.TPS > 0 {
		line("tps", nil, func(s *Summary) string { return fmt.Sprintf("%.0f", s.TPS) })
	}
	if first.MBPerSec > 0 {
		line("MB/s", func(r *Ratios) float64 { return r.MBPerSec }, func(s *Summary) string { return fmt.Sprintf("%.1f", s.MBPerSec) })
	}
	line("latency p50", func(r *Ratios) float64 { return r.P50 }, func(s *Summary) string { return us(s.Latency.P50) })
	line("latency p95", func(r *Ratios) float64 { return r.P95 }, func(s *Summary) string { return us(s.Latency.P95) })
	line("latency p99", func(r *Ratios) float64 { return r.P99 }, func(s *Summary) string { return us(s.Latency.P99) })
	line("latency max", nil, func(s *Summary) string { return us(s.Latency.Max) })
	line("p50 added", nil, func(s *Summary) string {
		if s.AddedP50 == nil {
			return "-"
		}
		return us(*s.AddedP50)
	})
	for _, name := range []string{"fast clients", "paced clients"} {
		shown := false
		for i := range sums {
			for _, c := range sums[i].classes() {
				shown = shown || c.name == name
			}
		}
		if !shown {
			continue
		}
		line(name, nil, func(s *Summary) string {
			for _, c := range s.classes() {
				if c.name == name {
					return c.cell()
				}
			}
			return "-"
		})
	}
	line("connect p50", nil, func(s *Summary) string { return us(s.Connect.P50) })
	line("connected", nil, func(s *Summary) string { return fmt.Sprintf("%d/%d", s.Connected, s.Clients) })
	line("errors", nil, func(s *Summary) string { return errorCell(s) })
	line("target pid", nil, func(s *Summary) string {
		if s.Process == nil {
			return "-"
		}
		return fmt.Sprint(s.Process.PID)
	})
	line("target CPU/query", func(r *Ratios) float64 { return r.CPUPerQuery }, func(s *Summary) string {
		if s.Process == nil {
			return "-"
		}
		return us(s.Process.CPUPerQuery)
	})
	// Round by round (each pair of rounds ran back to back): the median ratio, and the range.
	line("CPU/query paired", func(r *Ratios) float64 { return r.CPUPairedMedian }, func(s *Summary) string {
		if s.VsFirst == nil || s.VsFirst.CPUPairedMedian == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f–%.2f", s.VsFirst.CPUPairedMin, s.VsFirst.CPUPairedMax)
	})
	line("target RSS/conn", func(r *Ratios) float64 { return r.RSSPerClient }, func(s *Summary) string {
		if s.Process == nil {
			return "-"
		}
		return size(s.Process.RSSPerClient)
	})
	floor := false
	for i := range sums {
		floor = floor || sums[i].VsFloor != nil
	}
	lineIf := func(show bool, label string, cell func(s *Summary) string) {
		if show {
			line(label, nil, cell)
		}
	}
	lineIf(steps(sums) && first.Process != nil, "CPU ÷ step 1", func(s *Summary) string {
		if s.VsFirstStep == nil || s.VsFirstStep.CPUPerQuery == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", s.VsFirstStep.CPUPerQuery)
	})
	lineIf(floor, "CPU ÷ floor", func(s *Summary) string {
		if s.VsFloor == nil || s.VsFloor.CPUPerQuery == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", s.VsFloor.CPUPerQuery)
	})
	line("target per query", nil, func(s *Summary) string {
		if s.Process == nil {
			return "-"
		}
		return perQueryCell(s.Process)
	})
	line("target RSS", nil, func(s *Summary) string {
		if s.Process == nil {
			return "-"
		}
		return size(float64(s.Process.RSSAfterKB << 10))
	})
	lineIf(first.ServerConns != nil, "server conns", func(s *Summary) string {
		if s.ServerConns == nil {
			return "-"
		}
		return fmt.Sprintf("max %d mean %.1f", s.ServerConns.Max, s.ServerConns.Mean)
	})
	line("bench CPU/query", nil, func(s *Summary) string { return us(s.BenchCPUPerQuery) })
	return tw.Flush()
}

// steps reports whether the summaries differ in their clients (several steps, or many-clients).
func steps(sums []Summary) bool {
	for _, s := range sums {
		if s.Clients != sums[0].Clients || s.Active > 0 || s.Fast > 0 {
			return true
		}
	}
	return false
}

// label names the summary's target.
func (s *Summary) label() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Target
}

// clientsText says how many clients ran and, for many-clients, what they did.
func (s *Summary) clientsText() string {
	if s.Active == 0 && s.Fast == 0 {
		return fmt.Sprintf("%d clients", s.Clients)
	}
	return fmt.Sprintf("%d clients (%d fast, %d paced)", s.Clients, s.Fast, s.Active)
}

// classLine is one line of figures of a class of many-clients' clients.
type classLine struct {
	name string
	c    *ClassSummary
}

func (s *Summary) classes() []classLine {
	var out []classLine
	if s.FastClients != nil {
		out = append(out, classLine{"fast clients", s.FastClients})
	}
	if s.PacedClients != nil {
		out = append(out, classLine{"paced clients", s.PacedClients})
	}
	return out
}

func (c classLine) cell() string {
	l := c.c.Latency
	text := fmt.Sprintf("p50 %s p99 %s", us(l.P50), us(l.P99))
	if c.c.MaxPerSec > 0 {
		text += fmt.Sprintf(", %.1f..%.1f/s each", c.c.MinPerSec, c.c.MaxPerSec)
	}
	return text
}

// perQueryCell gives a target's read and write syscalls ("r", "w") and voluntary and involuntary
// context switches ("cs") per query. /proc counts read(2) and write(2) and their kin, not
// recv(2) and send(2): a process that uses only those (mariadbd) shows "-".
func perQueryCell(t *TargetFigures) string {
	rw := "- r - w"
	if t.ReadsPerQuery > 0 || t.WritesPerQuery > 0 {
		rw = fmt.Sprintf("%.2f r %.2f w", t.ReadsPerQuery, t.WritesPerQuery)
	}
	return fmt.Sprintf("%s %.2f+%.2f cs", rw, t.VoluntaryPerQuery, t.InvoluntaryPerQuery)
}

// errorCell lists a summary's errors by kind, "0" when there are none.
func errorCell(s *Summary) string {
	if s.ErrorCount == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, s.Errors[k].Count))
	}
	return strings.Join(parts, " ")
}

// us formats microseconds with three significant digits in a fitting unit.
func us(v float64) string {
	unit := "µs"
	switch a := math.Abs(v); {
	case a >= 1e6:
		v, unit = v/1e6, "s"
	case a >= 1e3:
		v, unit = v/1e3, "ms"
	}
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f%s", v, unit)
	case a >= 10:
		return fmt.Sprintf("%.1f%s", v, unit)
	}
	return fmt.Sprintf("%.2f%s", v, unit)
}

// size formats a number of bytes in B, KB or MB (of 1024).
func size(b float64) string {
	switch a := math.Abs(b); {
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MB", b/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
