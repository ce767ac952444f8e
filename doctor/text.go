package doctor

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// writeText prints the human-readable report: each server's diagnosis, then the proxy's
// open-files limits and the proposed configuration.
func writeText(w io.Writer, out Output) error {
	reports := out.Backends
	if len(reports) == 0 {
		reports = []Report{out.Report}
	}
	p := &printer{w: w}
	for _, r := range reports {
		p.server(r)
	}
	p.f("mysqlmux on this machine\n")
	p.f("  open files: soft limit %d, hard limit %d (the proxy raises the soft limit to the hard one at start);\n", out.ProxyOpenFilesSoft, out.ProxyOpenFilesHard)
	p.f("  the proposed configuration may use %d: one per client, one per backend connection, and a few for itself\n\n", out.ProxyOpenFilesNeeded)
	p.f("Proposed mysqlmux configuration: save it as mysqlmux.toml, set the passwords, then run\n")
	p.f("mysqlmux -config mysqlmux.toml -check\n\n%s", out.TOML)
	return p.err
}

// printer writes until the first error and keeps it.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// table prints rows of cells, aligned in columns, without trailing blanks.
func (p *printer) table(rows [][]string) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, "  "+strings.Join(row, "\t"))
	}
	_ = tw.Flush() // a strings.Builder does not fail
	for line := range strings.Lines(b.String()) {
		p.f("%s\n", strings.TrimRight(line, " \n"))
	}
}

func (p *printer) server(r Report) {
	p.f("== %s", r.Address)
	if r.Error != "" {
		p.f(": could not be read: %s\n", r.Error)
		p.logins(r.Logins)
		p.f("\n")
		return
	}
	p.f(" (%s), read as %s, up %s\n", r.Version, r.Account, seconds(r.UptimeSeconds))
	p.f("The doctor only reads (SHOW, SELECT): nothing on the server was changed.\n\n")
	p.logins(r.Logins)

	p.f("Connections\n")
	share := ""
	if r.MaxConnections != nil && r.ThreadsConnected != nil && *r.MaxConnections > 0 {
		share = fmt.Sprintf("%d%% of max_connections (the doctor's own included)", *r.ThreadsConnected*100 / *r.MaxConnections)
	}
	admin := fmt.Sprintf("+%d reserved for an account with SUPER or CONNECTION ADMIN", r.ReservedAdminConnections)
	if r.ExtraPort != nil && *r.ExtraPort > 0 && r.ExtraMaxConnections != nil {
		admin += fmt.Sprintf("; +%d on extra_port %d", *r.ExtraMaxConnections, *r.ExtraPort)
	}
	if r.AdminAddress != nil && r.AdminPort != nil {
		admin += fmt.Sprintf("; admin interface %s:%d", *r.AdminAddress, *r.AdminPort)
	}
	p.table([][]string{
		{"max_connections", n(r.MaxConnections), admin},
		{"Threads_connected", n(r.ThreadsConnected), share},
		{"Threads_running", n(r.ThreadsRunning), "statements running now"},
		{"Max_used_connections", n(r.MaxUsedConnections), "the peak since start, " + peakTime(r.MaxUsedConnectionsTime)},
		{"Connection_errors_max_connections", n(r.ConnectionErrorsMaxConnections), "connections refused with ERROR 1040 since start"},
		{"Aborted_connects", n(r.AbortedConnects), "failed logins and handshakes"},
		{"Aborted_clients", n(r.AbortedClients), "connections ended without a proper close"},
	})

	p.f("\nConnections by user and host (the doctor's own left out)\n")
	threshold := time.Duration(r.IdleThresholdSeconds) * time.Second
	rows := [][]string{{"user@host", "sleeping", "active", "idle min..max", "idle >= " + threshold.String()}}
	for _, g := range r.ConnectionsByUserHost {
		idle := ""
		if g.Sleeping > 0 {
			idle = fmt.Sprintf("%s..%s", seconds(&g.IdleMinSeconds), seconds(&g.IdleMaxSeconds))
		}
		rows = append(rows, []string{g.User + "@" + g.Host, strconv.Itoa(g.Sleeping), strconv.Itoa(g.Active), idle, strconv.Itoa(g.IdleOverThreshold)})
	}
	rows = append(rows, []string{"total", strconv.Itoa(r.SleepingConnections), strconv.Itoa(r.ActiveConnections), "", strconv.Itoa(r.SleepingOverThreshold)})
	p.table(rows)
	p.f("  wait_timeout %s s, interactive_timeout %s s: the server closes a connection idle that long\n", n(r.WaitTimeout), n(r.InteractiveTimeout))
	p.f("  (interactive clients such as the mariadb command line get interactive_timeout).\n")
	p.f("  Application accounts (moving behind mysqlmux): %s; connections of other accounts, staying direct: %d.\n",
		list(r.AppUsers), r.OtherConnections)

	p.f("\nMemory\n")
	rows = memoryRows(nil, "per connection, every buffer at once", r.PerConnectionMemory)
	rows = memoryRows(rows, "global buffers", r.GlobalBuffers)
	p.table(append(rows, []string{"RAM", size(r.RAMBytes), r.RAMSource}))
	p.f("  memory bound = (RAM − global buffers) / per connection = (%s − %s) / %s = %s\n",
		size(r.RAMBytes), size(r.GlobalBuffers.Bytes), size(r.PerConnectionMemory.Bytes), n(r.MemoryBoundMaxConnections))
	p.f("  (the worst case: every connection using every buffer; memory the server takes for itself,\n")
	p.f("  such as performance_schema and the table caches, is not counted: keep a margin)\n")

	p.f("\nOpen files\n")
	p.f("  open-files bound = open_files_limit %s − 10 − extra_max_connections %s − 2 × table_open_cache %s = %s\n",
		n(r.OpenFilesLimit), n(r.ExtraMaxConnections), n(r.TableOpenCache), n(r.FilesBoundMaxConnections))
	p.f("  (the server's own rule at start: a descriptor per connection, two per cached table)\n")

	p.f("\nVerdict: %s\n", verdictText(r.Verdict))
	for _, f := range r.Findings {
		p.f("  [%s] %s\n", f.Severity, f.Text)
	}

	p.f("\nRecommendation for this server\n")
	p.setting("max_connections", r.MaxConnections, &r.RecommendedMaxConnections)
	p.setting("wait_timeout", r.WaitTimeout, r.RecommendedWaitTimeout)
	p.f("  mysqlmux cap for this server: %d\n", r.RecommendedPoolMaxConnections)
	for _, why := range r.Why {
		p.f("  - %s\n", why)
	}
	p.f("\n")
}

// setting prints a recommended server variable and how to set it, or that it stays.
func (p *printer) setting(name string, now, rec *int64) {
	switch {
	case rec == nil:
		p.f("  %s: unknown\n", name)
	case now != nil && *now == *rec:
		p.f("  %s = %d (keep)\n", name, *rec)
	default:
		p.f("  %s = %d (from %s): SET GLOBAL %s = %d, and in the server's option file\n", name, *rec, n(now), name, *rec)
	}
}

// memoryRows appends a memory sum and its terms to rows.
func memoryRows(rows [][]string, title string, m Memory) [][]string {
	rows = append(rows, []string{title, size(m.Bytes), ""})
	for _, part := range m.Parts {
		rows = append(rows, []string{"  " + part.Name, size(part.Bytes), part.Note})
	}
	return rows
}

func (p *printer) logins(ls []Login) {
	for _, l := range ls {
		if l.OK {
			p.f("  login as %s: ok\n", l.User)
		} else {
			p.f("  login as %s: FAILED: %s\n", l.User, l.Error)
		}
	}
	if len(ls) > 0 {
		p.f("\n")
	}
}

func verdictText(v string) string {
	switch v {
	case VerdictRefusing:
		return "REFUSING CONNECTIONS: the server has answered ERROR 1040"
	case VerdictAtRisk:
		return "AT RISK of ERROR 1040"
	}
	return "OK"
}

// n formats a figure, "unknown" when the server did not give it.
func n(v *int64) string {
	if v == nil {
		return "unknown"
	}
	return strconv.FormatInt(*v, 10)
}

func size(v *int64) string {
	if v == nil {
		return "unknown"
	}
	return FormatSize(*v)
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
