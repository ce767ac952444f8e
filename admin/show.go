package admin

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/proxy"
)

func (h *handler) showPools(string) (*mysql.Result, error) {
	names := []string{"backend", "max_connections", "open", "in_use", "idle", "waiting",
		"wait_count", "wait_time_ms", "timeouts", "dials", "dial_errors", "closed", "closed_idle", "closed_expired",
		"dialing", "wait_max_ms", "refused_dials", "dial_state", "dial_state_since", "last_dial_error"}
	var rows [][]any
	for _, p := range h.s.takeSnapshot().pools {
		rows = append(rows, []any{p.Backend, int64(p.MaxConns), int64(p.Open), int64(p.InUse), int64(p.Idle),
			int64(p.Waiting), p.WaitCount, p.WaitDuration.Milliseconds(), p.Timeouts, p.Dials, p.DialErrors,
			p.Closed, p.ClosedIdle, p.ClosedExpired,
			int64(p.Dialing), p.WaitMax.Milliseconds(), p.RefusedDials, p.DialState, dialStateSince(p), p.LastDialError})
	}
	return resultset(names, rows)
}

// dialStateSince is when the pool's dial failures began, in UTC; "" while dials succeed.
func dialStateSince(p backend.Stats) string {
	if p.DialStateSince.IsZero() {
		return ""
	}
	return p.DialStateSince.UTC().Format(time.RFC3339)
}

func (h *handler) showClients(string) (*mysql.Result, error) {
	names := []string{"id", "user", "address", "database", "state", "pinned_reason", "backend", "connected_seconds", "idle_seconds"}
	sessions := h.s.takeSnapshot().sessions
	slices.SortFunc(sessions, func(a, b proxy.ClientInfo) int { return cmp.Compare(a.ID, b.ID) })
	now := time.Now()
	var rows [][]any
	for _, c := range sessions {
		rows = append(rows, []any{uint64(c.ID), c.User, c.Address, c.Database, c.State, c.PinnedReason,
			c.Backend, int64(now.Sub(c.Since).Seconds()), idleSeconds(c, now)})
	}
	return resultset(names, rows)
}

func (h *handler) showBackends(string) (*mysql.Result, error) {
	names := append([]string{"backend", "max_connections", "open", "in_use", "status", "dials", "dial_errors", "last_dials_failed",
		"refused_dials", "dial_state", "dial_state_since", "last_dial_error",
		"role", "state", "why", "state_since", "read_only", "replicating", "lag_ms", "gtid_pos"}, fleetBackendColumns()...)
	sn := h.s.takeSnapshot()
	fleet := h.s.fleet()
	var rows [][]any
	for _, p := range sn.pools {
		failing, down := h.s.health.observe(p)
		row := []any{p.Backend, int64(p.MaxConns), int64(p.Open), int64(p.InUse), status(down),
			p.Dials, p.DialErrors, yesNo(failing), p.RefusedDials, p.DialState, dialStateSince(p), p.LastDialError}
		if b, ok := sn.roles[p.Backend]; ok {
			lag := any(nil)
			if b.Lag >= 0 && !b.Writer {
				lag = b.Lag.Milliseconds()
			}
			row = append(row, b.Role, b.State, b.Why, b.Since.UTC().Format(time.RFC3339), yesNo(b.ReadOnly),
				yesNo(b.Replicating), lag, b.GTID)
		} else {
			row = append(row, "", "", "", "", nil, nil, nil, nil)
		}
		rows = append(rows, append(row, fleetBackendRow(fleet, p.Backend)...))
	}
	return resultset(names, rows)
}

// idleSeconds is how long c has sent no command (0 while one is under way).
func idleSeconds(c proxy.ClientInfo, now time.Time) int64 {
	if c.State != "idle" {
		return 0
	}
	return int64(now.Sub(c.LastCommand).Seconds())
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (h *handler) showStats(string) (*mysql.Result, error) {
	sn := h.s.takeSnapshot()
	paused := uint64(0)
	if sn.paused {
		paused = 1
	}
	rows := [][]any{
		{"clients", uint64(max(sn.clients, 0))},
		{"clients_refused", sn.refused},
		{"auth_failures", sn.authFailures},
		{"queries", sn.queries},
		{"commands", sn.commands},
		{"borrows", sn.borrows},
		{"syncs", sn.syncs},
		{"resets", sn.resets},
		{"acquire_timeouts", sn.acquireTimeouts},
		{"backend_errors", sn.backendErrors},
		{"replica_reads", sn.replicaReads},
		{"gtid_waits", sn.gtidWaits},
		{"gtid_wait_fallbacks", sn.gtidFallbacks},
		{"paused", paused},
		{"pinned_clients", uint64(sn.pinnedClients)},
		{"stmt_cache_entries", uint64(sn.stmtCached)},
		{"stmt_cache_hits", sn.stmtCacheHits},
		{"stmt_cache_misses", sn.stmtCacheMiss},
	}
	if d := h.s.digests; d != nil {
		rows = append(rows, []any{"digest_rows", uint64(d.Len())}, []any{"digest_dropped", d.Dropped()})
	}
	for _, r := range sn.reasons {
		rows = append(rows, []any{"pinned_" + r, uint64(sn.pinned[r])})
	}
	return resultset([]string{"name", "value"}, rows)
}

// pause holds new borrowing, then waits (bounded) until no backend connection is lent out, so
// that when PAUSE answers OK the backends can be restarted. When the bound passes first (a
// transaction stays open) the pause stays in effect and the reply is an error saying so.
func (h *handler) pause(string) (*mysql.Result, error) {
	r := h.s.in.Router()
	r.Pause()
	h.s.log.Info("admin PAUSE")
	deadline := time.NewTimer(h.s.pauseWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		inUse := 0
		for _, p := range r.Pools() {
			inUse += p.Stats().InUse
		}
		if inUse == 0 {
			return nil, nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, fmt.Sprintf(
				"PAUSE is in effect, but %d backend connection(s) are still in use after %v (pinned sessions: see SHOW CLIENTS); RESUME undoes it",
				inUse, h.s.pauseWait))
		case <-h.s.done:
			return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "admin console closing; PAUSE is in effect")
		}
	}
}

func (h *handler) resume(string) (*mysql.Result, error) {
	h.s.in.Router().Resume()
	h.s.log.Info("admin RESUME")
	return nil, nil
}
