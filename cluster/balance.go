package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/mysqlmux/mysqlmux/backend"
)

// errConflict: the grant table changed since it was read; the next tick tries again.
var errConflict = errors.New("cluster: grant table changed meanwhile")

// tick samples the pools, then adjusts this instance's shares: online, against the grant table;
// cut off from etcd, by the offline rules alone.
func (f *Fleet) tick(now time.Time) {
	f.mu.Lock()
	if f.pools == nil {
		f.mu.Unlock()
		return
	}
	pools := f.pools()
	f.mu.Unlock()

	f.mu.Lock()
	defer f.mu.Unlock()
	f.sample(pools, now)
	ss := f.sess.status()
	_, synced := f.mir.snapshot(f.keys.grants())
	switch {
	case ss.taken:
		f.setState(StateIDTaken, now)
		f.lowerAll(0)
	case ss.renewed.IsZero():
		f.setState(StateJoining, now)
		f.lowerAll(0)
	case ss.failing || !ss.registered || !synced || now.Sub(ss.renewed) >= f.cfg.OfflineHold.Duration:
		f.offline(now, ss.renewed)
	default:
		f.online(now, ss.lease, ss.renewed)
	}
	f.publishLocked(now)
}

// sample reads every pool's use and keeps the demand peak.
func (f *Fleet) sample(pools map[string]*backend.Pool, now time.Time) {
	for addr, p := range pools {
		s := f.shares[addr]
		if s == nil {
			s = &share{}
			f.shares[addr] = s
		}
		if !slices.Contains(s.pools, p) {
			s.pools = append(s.pools, p)
			p.SetLimit(s.limit)
		}
	}
	for addr, s := range f.shares {
		s.live = pools[addr]
		s.inUse, s.waiting, s.held, s.cap = 0, 0, 0, 0
		// Pools of a removed (or removed and re-added) backend count until they are closed.
		s.pools = slices.DeleteFunc(s.pools, func(p *backend.Pool) bool { return p != s.live && p.Held() == 0 })
		for _, p := range s.pools {
			st := p.Stats()
			s.inUse += st.InUse
			s.waiting += st.Waiting
			s.held += p.Held()
		}
		if s.live != nil {
			s.cap = s.live.ConfiguredCap()
		}
		s.peak = append(s.peak, sample{now, min(s.inUse+s.waiting, max(s.cap, 0))})
		i := 0
		for i < len(s.peak) && now.Sub(s.peak[i].at) > demandWindow {
			i++
		}
		s.peak = s.peak[i:]
	}
}

func (s *share) want() int {
	w := 0
	for _, x := range s.peak {
		w = max(w, x.n)
	}
	return w
}

// setLimit caps the share's pools at n.
func (s *share) setLimit(n int) {
	if n == s.limit {
		return
	}
	s.limit = n
	for _, p := range s.pools {
		p.SetLimit(n)
	}
}

func (f *Fleet) lowerAll(n int) {
	for _, s := range f.shares {
		s.setLimit(min(s.limit, n))
	}
}

func (f *Fleet) setState(state string, now time.Time) {
	if state == f.state {
		return
	}
	old := f.state
	f.state, f.stateSince = state, now
	switch state {
	case StateOK:
		f.log.Info("fleet: joined; sharing the connection budget", "was", old)
	case StateOffline:
		f.log.Warn("fleet: etcd unreachable; keeping the last grants (no growth)", "until_floor", f.cfg.OfflineHold.Duration)
	case StateFloor:
		f.log.Warn("fleet: etcd unreachable for offline_hold; lowered to the floor", "floor", f.cfg.Floor)
	case StateReleased:
		f.log.Warn("fleet: etcd unreachable for forget_after; holding no connections (the fleet may have given the floor away)")
	}
}

// offline applies the rules of an instance cut off from etcd, counted from the last renewal etcd
// confirmed: its lease lives at least lease_ttl from then, and the fleet gives nothing of its
// away before it expires. Until offline_hold: keep the grants (a grant grows only by a write to
// etcd, so none grows). Then: the floor, which the fleet keeps for a departed instance until
// forget_after. Then: nothing.
func (f *Fleet) offline(now, renewed time.Time) {
	gone := now.Sub(renewed)
	switch {
	case f.cfg.ForgetAfter.Duration > 0 && gone >= f.cfg.ForgetAfter.Duration:
		f.setState(StateReleased, now)
		f.lowerAll(0)
	case gone >= f.cfg.OfflineHold.Duration:
		f.setState(StateFloor, now)
		f.lowerAll(f.cfg.Floor)
	default:
		f.setState(StateOffline, now)
	}
}

// online moves this instance's shares toward their targets in one transaction on the grant
// table, and reclaims the shares of departed instances.
func (f *Fleet) online(now time.Time, lease clientv3.LeaseID, renewed time.Time) {
	f.setState(StateOK, now)
	members := f.members()
	grants, _ := f.mir.get(f.keys.grants())
	tbl, err := decodeTable(grants.value)
	if err != nil {
		f.log.Error("fleet: the grant table in etcd is not readable; no grant grows until it is", "key", f.keys.grants(), "err", err)
		return
	}
	fleetCap := f.cfg.MaxConnections
	for _, m := range members {
		if m.rec.Cap > 0 {
			fleetCap = min(fleetCap, m.rec.Cap)
		}
	}
	next := tbl.clone()
	gone := f.reclaim(next, tbl, members, now)
	for addr, es := range tbl {
		if _, ok := es[f.id]; ok && f.shares[addr] == nil {
			f.shares[addr] = &share{} // a backend this instance no longer has: given back below
		}
	}

	raised := false // an entry of this instance grows
	rise := false   // a pool's limit is to rise: only against a table etcd confirms is current
	for addr, s := range f.shares {
		s.entry = tbl[addr][f.id].Grant
		s.target = 0
		if s.live != nil {
			budget := fleetCap
			for id, e := range next[addr] {
				if _, live := members[id]; !live && id != f.id {
					budget -= e.Grant // a departed instance's floor (or share, until reclaimed)
				}
			}
			s.target = targets(max(budget, 0), f.claims(addr, members))[f.id]
		}
		// The pool never holds more than the table grants (its own entry, possibly kept from a
		// previous run of this instance), more than it should keep, nor more than the others'
		// entries leave free (an entry kept from before a partition may not fit any more). The
		// mirror may be stale (just reconnected, its watch not caught up): a limit is lowered
		// now, raised only after the transaction below confirmed the table it was read from.
		want := min(s.entry, s.target, room(next, addr, f.id, fleetCap))
		rise = rise || want > s.limit
		s.setLimit(min(want, s.limit))
		switch {
		case s.entry > s.target:
			// Lowered only as far as the connections are closed: the rest is not free yet.
			if lower := max(s.target, s.held); lower < s.entry {
				next.set(addr, f.id, entry{Grant: lower, Floor: min(f.cfg.Floor, lower)})
			}
		case s.entry < s.target:
			if k := min(s.target-s.entry, fleetCap-next.sum(addr)); k > 0 {
				next.set(addr, f.id, entry{Grant: s.entry + k, Floor: min(f.cfg.Floor, s.entry+k)})
				raised = true
			}
		}
	}
	f.dropRemoved(next)
	changed := !tablesEqual(next, tbl)
	if !changed && !rise {
		return
	}
	needLease := lease
	if !raised && !rise {
		needLease = 0
	}
	// Never past the point where, cut off, this instance must be lowered already.
	deadline := now.Add(f.cfg.DialTimeout.Duration)
	if hold := renewed.Add(f.cfg.OfflineHold.Duration); hold.Before(deadline) {
		deadline = hold
	}
	ctx, cancel := context.WithDeadline(f.ctx, deadline)
	defer cancel()
	f.mu.Unlock()
	var put table // nil: only confirm that the table read is current
	if changed {
		put = next
	}
	err = f.writeTable(ctx, put, grants.modRev, needLease, gone)
	f.mu.Lock()
	if err != nil {
		return
	}
	for addr, s := range f.shares {
		s.entry = next[addr][f.id].Grant
		s.setLimit(min(s.entry, s.target, room(next, addr, f.id, fleetCap)))
		if len(s.pools) == 0 && s.entry == 0 {
			delete(f.shares, addr) // a removed backend, given back
		}
	}
}

// reclaim lowers the entries of departed instances (no member key: their lease expired) to
// their floors, and removes them after forget_after; it returns their ids, whose absence the
// write checks.
func (f *Fleet) reclaim(next, tbl table, members map[string]memberKV, now time.Time) []string {
	var gone []string
	seen := map[string]bool{}
	for id := range tbl.ids() {
		if _, live := members[id]; live || id == f.id {
			continue
		}
		seen[id] = true
		since, ok := f.ghosts[id]
		if !ok {
			since = now
			f.ghosts[id] = now
			f.log.Info("fleet: an instance left without giving its grants back (lease expired); reclaiming all but its floor", "departed", id)
		}
		forget := f.cfg.ForgetAfter.Duration > 0 && now.Sub(since) >= f.cfg.ForgetAfter.Duration
		for addr, es := range tbl {
			e, ok := es[id]
			switch {
			case !ok:
			case forget:
				next.set(addr, id, entry{})
			case e.Grant > e.Floor:
				next.set(addr, id, entry{Grant: e.Floor, Floor: e.Floor})
			default:
				continue
			}
			if !slices.Contains(gone, id) {
				gone = append(gone, id)
			}
		}
	}
	for id := range f.ghosts {
		if !seen[id] {
			delete(f.ghosts, id)
		}
	}
	return gone
}

// dropRemoved removes the entries of backends this instance no longer has and holds nothing of.
func (f *Fleet) dropRemoved(next table) {
	for addr, s := range f.shares {
		if len(s.pools) == 0 {
			next.set(addr, f.id, entry{})
		}
	}
}

// writeTable replaces the grant table read at rev with t; t nil writes nothing and only checks
// that the table is still the one read at rev (the mirror's copy is then current). With lease,
// it checks that this instance's member key is still on its lease (a grant grows, and a pool's
// limit rises, only for a live member); it checks that the departed instances in gone still
// have no member key.
func (f *Fleet) writeTable(ctx context.Context, t table, rev int64, lease clientv3.LeaseID, gone []string) error {
	key := f.keys.grants()
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
	if lease != 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.LeaseValue(f.keys.member(f.id)), "=", lease))
	}
	for _, id := range gone {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(f.keys.member(id)), "=", 0))
	}
	var data []byte
	var ops []clientv3.Op
	if t != nil {
		var err error
		if data, err = json.Marshal(t); err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(key, string(data)))
	}
	resp, err := f.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errConflict
	}
	if t != nil {
		f.mir.put(key, kv{value: data, modRev: resp.Header.Revision, createRev: max(rev, resp.Header.Revision)})
	}
	return nil
}

func tablesEqual(a, b table) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]entry) bool { return maps.Equal(x, y) })
}

// room is what the other instances' entries for backend addr leave of the fleet's cap: an
// instance's entries are never below what it holds, so a pool limited to this never takes the
// fleet past the cap, whatever this instance's own entry says.
func room(t table, addr, self string, fleetCap int) int {
	return max(fleetCap-(t.sum(addr)-t[addr][self].Grant), 0)
}
