package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mysqlmux/mysqlmux/backend"
)

// metric describes one series family: its Desc and how to read it from a snapshot.
type metric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}

// collector is a prometheus.Collector that reads the proxy's counters at scrape time, so the
// metrics and the console never disagree about what is counted.
type collector struct {
	s *Server

	// Proxy-wide.
	clients, refused, authFailures                                          metric
	queries, commands, borrows, syncs, resets, acquireTimeouts, backendErrs metric
	paused, pinnedTotal, pinned                                             metric

	// Per backend (label "backend").
	poolMax, poolOpen, poolInUse, poolIdle, poolWaiting                      metric
	poolWaitCount, poolWaitSeconds, poolTimeouts, poolDials, poolDialErrors  metric
	poolClosed, poolClosedIdle, poolClosedExpired, backendUp, backendFailing metric

	// Histograms (CONTRACT.md, Metrics v1.1) and the digest table's size.
	stmtDuration, backendWait  *prometheus.Desc
	digestRows, digestsDropped metric
	// The dial state (issue 15).
	poolDialFailures, poolServerFull, poolWaitMax metric
	// Routing by role (issue 10).
	replicaReads, gtidWaits, gtidFallbacks                    metric
	backendWriter, backendReader, backendReadOnly, backendLag metric
}

func newCollector(s *Server) *collector {
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	m := func(name, help string, kind prometheus.ValueType, labels ...string) metric {
		return metric{desc: prometheus.NewDesc("mysqlmux_"+name, help, labels, nil), kind: kind}
	}
	b := "backend"
	return &collector{
		s:                 s,
		clients:           m("clients", "Client connections logged in now.", g),
		refused:           m("clients_refused_total", "Client connections refused with ERROR 1040 (max_client_connections).", c),
		authFailures:      m("auth_failures_total", "Client logins refused with ERROR 1045.", c),
		queries:           m("queries_total", "COM_QUERY and COM_STMT_EXECUTE forwarded to a backend.", c),
		commands:          m("commands_total", "Client commands handled.", c),
		borrows:           m("borrows_total", "Backend connections borrowed from a pool.", c),
		syncs:             m("syncs_total", "Session state replays sent before a statement.", c),
		resets:            m("resets_total", "COM_RESET_CONNECTION sent to clean a backend connection.", c),
		acquireTimeouts:   m("acquire_timeouts_total", "Statements answered ERROR 9001 (no backend connection within acquire_timeout).", c),
		backendErrs:       m("backend_errors_total", "Backend connections lost in the middle of a command.", c),
		paused:            m("paused", "1 while PAUSE is in effect.", g),
		pinnedTotal:       m("pinned_clients_total", "Client sessions pinned to a backend connection for any reason (not a counter: sessions now).", g),
		pinned:            m("pinned_clients", "Client sessions pinned to a backend connection, by reason (a session may have several).", g, "reason"),
		poolMax:           m("pool_max", "Connection cap of the backend's pool (max_connections).", g, b),
		poolOpen:          m("pool_open", "Backend connections open or being dialled.", g, b),
		poolInUse:         m("pool_in_use", "Backend connections lent to sessions.", g, b),
		poolIdle:          m("pool_idle", "Backend connections idle in the pool.", g, b),
		poolWaiting:       m("pool_waiting", "Statements waiting for a backend connection.", g, b),
		poolWaitCount:     m("pool_wait_count_total", "Acquisitions that had to wait for a connection.", c, b),
		poolWaitSeconds:   m("pool_wait_seconds_total", "Total time spent waiting for a connection.", c, b),
		poolTimeouts:      m("pool_acquire_timeouts_total", "Acquisitions that gave up after acquire_timeout.", c, b),
		poolDials:         m("pool_dials_total", "Backend connections dialled.", c, b),
		poolDialErrors:    m("pool_dial_errors_total", "Backend dials that failed.", c, b),
		poolClosed:        m("pool_closed_total", "Backend connections closed for any reason.", c, b),
		poolClosedIdle:    m("pool_closed_idle_total", "Backend connections closed by idle_timeout.", c, b),
		poolClosedExpired: m("pool_closed_expired_total", "Backend connections closed by max_lifetime.", c, b),
		backendUp:         m("backend_up", "0 when the backend's recent dials all failed and no connection is open, else 1 (as SHOW BACKENDS).", g, b),
		backendFailing:    m("backend_last_dials_failed", "1 when every dial since the previous look failed.", g, b),
		stmtDuration: prometheus.NewDesc("mysqlmux_statement_duration_seconds",
			"Time clients waited for the answer to a command, from reading it to the last byte flushed, by command.", []string{"command"}, nil),
		backendWait: prometheus.NewDesc("mysqlmux_backend_wait_seconds",
			"Time statements waited for a backend connection (a dial included), by backend.", []string{b}, nil),
		digestRows:     m("digest_rows", "Rows in the SHOW DIGESTS table (bounded by [admin].digest_rows).", g),
		digestsDropped: m("digest_dropped_total", "Statements not counted in SHOW DIGESTS because its queue was full.", c),
		poolDialFailures: m("pool_dial_failures_total", "Backend dials that failed, by reason: max_connections (ERROR 1040), "+
			"max_user_connections (1203, 1226), connect_timeout, unreachable, login_refused, tls, other.", c, b, "reason"),
		poolServerFull: m("pool_server_full", "1 while the backend refuses connections for lack of room (1040, 1203/1226, "+
			"connect timeout): the pool serves the queue from the connections it holds and dials one at a time after a backoff.", g, b),
		poolWaitMax:     m("pool_wait_max_seconds", "The longest wait for a backend connection so far.", g, b),
		replicaReads:    m("replica_reads_total", "Statements sent to a replica (backends with roles).", c),
		gtidWaits:       m("gtid_waits_total", "Replica reads that first waited for the session's last GTID (read_your_writes = gtid).", c),
		gtidFallbacks:   m("gtid_wait_fallbacks_total", "GTID waits that timed out (gtid_wait_timeout): the read went to the writer.", c),
		backendWriter:   m("backend_writer", "1 for the backend that takes writes now (backends with roles).", g, b),
		backendReader:   m("backend_reader", "1 for a replica in the read rotation now.", g, b),
		backendReadOnly: m("backend_read_only", "The backend's @@global.read_only at the monitor's last look.", g, b),
		backendLag: m("backend_replication_lag_seconds", "How far a replica is behind the writer, by its GTID position or "+
			"Seconds_Behind_Master (absent when unknown).", g, b),
	}
}

func (c *collector) all() []metric {
	return []metric{c.clients, c.refused, c.authFailures, c.queries, c.commands, c.borrows, c.syncs,
		c.resets, c.acquireTimeouts, c.backendErrs, c.paused, c.pinnedTotal, c.pinned,
		c.poolMax, c.poolOpen, c.poolInUse, c.poolIdle, c.poolWaiting, c.poolWaitCount,
		c.poolWaitSeconds, c.poolTimeouts, c.poolDials, c.poolDialErrors, c.poolClosed,
		c.poolClosedIdle, c.poolClosedExpired, c.backendUp, c.backendFailing,
		c.poolDialFailures, c.poolServerFull, c.poolWaitMax,
		c.replicaReads, c.gtidWaits, c.gtidFallbacks, c.backendWriter, c.backendReader, c.backendReadOnly, c.backendLag}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.all() {
		ch <- m.desc
	}
	ch <- c.stmtDuration
	ch <- c.backendWait
	ch <- c.digestRows.desc
	ch <- c.digestsDropped.desc
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	sn := c.s.takeSnapshot()
	put := func(m metric, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, labels...)
	}
	put(c.clients, float64(sn.clients))
	put(c.refused, float64(sn.refused))
	put(c.authFailures, float64(sn.authFailures))
	put(c.queries, float64(sn.queries))
	put(c.commands, float64(sn.commands))
	put(c.borrows, float64(sn.borrows))
	put(c.syncs, float64(sn.syncs))
	put(c.resets, float64(sn.resets))
	put(c.acquireTimeouts, float64(sn.acquireTimeouts))
	put(c.backendErrs, float64(sn.backendErrors))
	put(c.paused, boolFloat(sn.paused))
	put(c.pinnedTotal, float64(sn.pinnedClients))
	for _, r := range sn.reasons {
		put(c.pinned, float64(sn.pinned[r]), r)
	}
	for _, p := range sn.pools {
		b := p.Backend
		failing, down := c.s.health.observe(p)
		put(c.poolMax, float64(p.MaxConns), b)
		put(c.poolOpen, float64(p.Open), b)
		put(c.poolInUse, float64(p.InUse), b)
		put(c.poolIdle, float64(p.Idle), b)
		put(c.poolWaiting, float64(p.Waiting), b)
		put(c.poolWaitCount, float64(p.WaitCount), b)
		put(c.poolWaitSeconds, p.WaitDuration.Seconds(), b)
		put(c.poolTimeouts, float64(p.Timeouts), b)
		put(c.poolDials, float64(p.Dials), b)
		put(c.poolDialErrors, float64(p.DialErrors), b)
		put(c.poolClosed, float64(p.Closed), b)
		put(c.poolClosedIdle, float64(p.ClosedIdle), b)
		put(c.poolClosedExpired, float64(p.ClosedExpired), b)
		put(c.backendUp, boolFloat(!down), b)
		put(c.backendFailing, boolFloat(failing), b)
		for why := range backend.NumDialFailures {
			put(c.poolDialFailures, float64(p.DialFailures[why]), b, why.String())
		}
		put(c.poolServerFull, boolFloat(p.DialState == "server_full"), b)
		put(c.poolWaitMax, p.WaitMax.Seconds(), b)
		ch <- c.s.obs.waitHistogram(b).snapshot().metric(c.backendWait, b)
		if st, ok := sn.roles[b]; ok {
			put(c.backendWriter, boolFloat(st.Writer), b)
			put(c.backendReader, boolFloat(st.Reader), b)
			put(c.backendReadOnly, boolFloat(st.ReadOnly), b)
			if st.Lag >= 0 && !st.Writer {
				put(c.backendLag, st.Lag.Seconds(), b)
			}
		}
	}
	put(c.replicaReads, float64(sn.replicaReads))
	put(c.gtidWaits, float64(sn.gtidWaits))
	put(c.gtidFallbacks, float64(sn.gtidFallbacks))
	obs := c.s.obs
	for _, name := range obs.labels {
		ch <- obs.byName[name].snapshot().metric(c.stmtDuration, name)
	}
	if d := c.s.digests; d != nil {
		put(c.digestRows, float64(d.Len()))
		put(c.digestsDropped, float64(d.Dropped()))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
