package doctor

import (
	"fmt"
	"time"
)

// Finding is one observation of the diagnosis.
type Finding struct {
	Severity string `json:"severity"` // "problem", "warning" or "note"
	Text     string `json:"text"`
}

// Verdicts, from worst.
const (
	VerdictRefusing = "refusing" // the server has answered ERROR 1040
	VerdictAtRisk   = "at_risk"  // it is near or past a limit
	VerdictOK       = "ok"
)

// riskShare is the share of max_connections in use from which the server is at risk: a burst
// of reconnects or one more application instance fills the rest.
const riskShare = 0.75

// diagnose sets the findings and the verdict.
func diagnose(r *Report, o Options) {
	var f []Finding
	risk := false
	add := func(sev, format string, args ...any) {
		f = append(f, Finding{Severity: sev, Text: fmt.Sprintf(format, args...)})
	}
	refused := r.ConnectionErrorsMaxConnections != nil && *r.ConnectionErrorsMaxConnections > 0
	if refused {
		add("problem", "The server refused %d connection(s) with ERROR 1040 (Too many connections) since it started %s ago.",
			*r.ConnectionErrorsMaxConnections, seconds(r.UptimeSeconds))
	}
	maxc := r.MaxConnections
	if maxc != nil && r.MaxUsedConnections != nil && *r.MaxUsedConnections >= *maxc {
		risk = true
		add("problem", "At its peak (%s) %d connections were open: all %d max_connections slots were taken.",
			peakTime(r.MaxUsedConnectionsTime), *r.MaxUsedConnections, *maxc)
	}
	if maxc != nil && r.ThreadsConnected != nil && *maxc > 0 && float64(*r.ThreadsConnected) >= riskShare*float64(*maxc) {
		risk = true
		add("warning", "%d of the %d max_connections slots are in use now (%d%%).",
			*r.ThreadsConnected, *maxc, *r.ThreadsConnected*100 / *maxc)
	}
	if maxc != nil && r.ThreadsConnected != nil && *r.ThreadsConnected > *maxc {
		add("warning", "The connection reserved for SUPER is in use. An application account with SUPER or CONNECTION ADMIN can take it and lock administrators out: revoke those from applications.")
	}
	if b := r.MemoryBoundMaxConnections; maxc != nil && b != nil && *b < *maxc {
		risk = true
		add("problem", "max_connections %d is above what memory allows (%d): with every connection busy the server could run out of memory.", *maxc, *b)
	}
	if b := r.FilesBoundMaxConnections; maxc != nil && b != nil && *b < *maxc {
		risk = true
		add("warning", "open_files_limit %d covers %d connections next to the table cache, fewer than max_connections %d: raise LimitNOFILE / open_files_limit or lower table_open_cache.",
			*r.OpenFilesLimit, *b, *maxc)
	}
	if o.Cap > 0 {
		direct := int64(r.OtherConnections) + directHeadroom
		if maxc != nil && int64(o.Cap)+direct > *maxc {
			risk = true
			add("problem", "The configuration's cap %d plus %d connections staying direct exceed max_connections %d: mysqlmux could get ERROR 1040 from this server.%s",
				o.Cap, direct, *maxc, raiseTo(r, o.Cap))
		}
		if r.RecommendedPoolMaxConnections < int64(o.Cap) {
			risk = true
			add("problem", "The server can afford max_connections %d (memory, open files), room for a cap of %d next to the %d staying direct, not the configuration's %d: lower the cap.",
				r.RecommendedMaxConnections, r.RecommendedPoolMaxConnections, direct, o.Cap)
		}
	}
	if total := r.SleepingConnections + r.ActiveConnections; r.SleepingConnections > 0 {
		add("note", "%d of %d connections are sleeping (idle), %d of them for %s or more: each holds a slot and its buffers while doing nothing. Behind mysqlmux they share a few server connections.",
			r.SleepingConnections, total, r.SleepingOverThreshold, time.Duration(r.IdleThresholdSeconds)*time.Second)
	}
	if w := r.WaitTimeout; w != nil && r.RecommendedWaitTimeout != nil && *r.RecommendedWaitTimeout < *w {
		add("warning", "wait_timeout is %s: the server keeps a forgotten idle connection that long before closing it.", seconds(w))
	}
	if n := r.AbortedClients; n != nil && *n > 0 {
		add("note", "Aborted_clients %d: connections that ended without a proper close (clients that died, or idle ones the server closed at wait_timeout).", *n)
	}
	if n := r.AbortedConnects; n != nil && *n > 0 {
		add("note", "Aborted_connects %d: connection attempts that failed (a wrong password, a handshake given up, on MariaDB also those refused with ERROR 1040).", *n)
	}
	if r.ExtraPort != nil && *r.ExtraPort > 0 && r.ExtraMaxConnections != nil {
		add("note", "extra_port %d admits %d more connection(s) for administrators when max_connections is reached.", *r.ExtraPort, *r.ExtraMaxConnections)
	}
	if !r.ProcesslistComplete {
		add("warning", "%s may lack the PROCESS privilege: the process list then shows only its own connections. Grant PROCESS for the full picture.", r.Account)
	}
	for _, l := range r.Logins {
		if !l.OK {
			add("problem", "User %q cannot log in to this server: %s. mysqlmux logs in to backends as its clients' users.", l.User, l.Error)
		}
	}
	r.Findings = f
	switch {
	case refused:
		r.Verdict = VerdictRefusing
	case risk:
		r.Verdict = VerdictAtRisk
	default:
		r.Verdict = VerdictOK
	}
}

// raiseTo advises raising max_connections when the recommendation makes room for the cap.
func raiseTo(r *Report, cap int) string {
	if r.RecommendedPoolMaxConnections >= int64(cap) {
		return fmt.Sprintf(" Raise max_connections to %d.", r.RecommendedMaxConnections)
	}
	return ""
}

// seconds formats a count of seconds as a duration, "unknown" when absent.
func seconds(s *int64) string {
	if s == nil {
		return "an unknown time"
	}
	return (time.Duration(*s) * time.Second).String()
}

// peakTime says when Max_used_connections was reached: only MySQL 8 records it.
func peakTime(t *string) string {
	if t == nil {
		return "when: unknown, the server does not record it"
	}
	return "at " + *t
}
