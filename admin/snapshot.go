package admin

import (
	"strings"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// snapshot is every number the console and the metrics show, read at one moment (each source
// under its own lock, so the numbers of different sources may be microseconds apart).
type snapshot struct {
	clients      int64
	refused      uint64
	authFailures uint64

	queries, commands, borrows, syncs, resets, acquireTimeouts, backendErrors uint64
	replicaReads, gtidWaits, gtidFallbacks                                    uint64

	roles map[string]proxy.BackendState // the monitor's view, by address (empty without roles)

	stmtCached                   int
	stmtCacheHits, stmtCacheMiss uint64

	paused   bool
	pools    []backend.Stats
	sessions []proxy.ClientInfo

	pinnedClients int            // sessions with any pin reason
	pinned        map[string]int // sessions per reason; every known reason is present
	reasons       []string       // the known reasons, in PinReason bit order
}

// takeSnapshot reads the proxy's counters.
func (s *Server) takeSnapshot() snapshot {
	fe, r := s.in.Frontend(), s.in.Router()
	st := r.Stats()
	sn := snapshot{
		clients: fe.Clients(), refused: fe.Refused(), authFailures: fe.AuthFailures(),
		queries: st.Queries.Load(), commands: st.Commands.Load(), borrows: st.Borrows.Load(),
		syncs: st.Syncs.Load(), resets: st.Resets.Load(), acquireTimeouts: st.AcquireTimeouts.Load(),
		backendErrors: st.BackendErrors.Load(),
		replicaReads:  st.ReplicaReads.Load(), gtidWaits: st.GTIDWaits.Load(), gtidFallbacks: st.GTIDFallbacks.Load(),
		roles:    make(map[string]proxy.BackendState),
		paused:   r.Paused(),
		sessions: r.Sessions(),
		reasons:  pinReasons(),
	}
	sn.stmtCached, sn.stmtCacheHits, sn.stmtCacheMiss = r.StmtCacheStats()
	for _, b := range r.BackendStates() {
		sn.roles[b.Addr] = b
	}
	for _, p := range r.Pools() {
		sn.pools = append(sn.pools, p.Stats())
	}
	sn.pinned = make(map[string]int, len(sn.reasons))
	for _, name := range sn.reasons {
		sn.pinned[name] = 0
	}
	for _, c := range sn.sessions {
		if c.PinnedReason == "" {
			continue
		}
		sn.pinnedClients++
		for name := range strings.SplitSeq(c.PinnedReason, ",") {
			sn.pinned[name]++
		}
	}
	return sn
}

// pinReasons lists the names of proxy.PinReason's bits, read from the type itself so a reason
// added there shows up here without an edit.
func pinReasons() []string {
	var names []string
	for bit := 0; bit < 32; bit++ {
		n := proxy.PinReason(1 << bit).String()
		if n == "" {
			break
		}
		names = append(names, n)
	}
	return names
}
