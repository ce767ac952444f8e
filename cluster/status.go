package cluster

import (
	"cmp"
	"slices"
	"time"
)

// Status is what the admin console and the metrics show of the fleet.
type Status struct {
	Fleet      string
	Instance   string
	State      string // StateOK, StateOffline, ...
	StateSince time.Time
	Cap        int // the fleet cap per backend in force (the smallest any live instance has)
	Instances  int // live instances, this one included once registered
	Backends   []BackendStatus
	Members    []MemberStatus
}

// BackendStatus is this instance's share of one backend, and the fleet's totals.
type BackendStatus struct {
	Backend string
	Grant   int // this instance's grant in the table
	Limit   int // its pool's cap now (below the grant while it lowers)
	Target  int // what it is moving toward
	Want    int // its demand: peak of in use + waiting over the last 2 s
	InUse   int
	Waiting int
	Held    int
	Granted int // sum of the grants in the table (departed instances' floors included)
	FleetIn int // sum of in use over the live instances, as they published it
}

// MemberStatus is one instance's entry for one backend (SHOW FLEET).
type MemberStatus struct {
	Backend  string
	Instance string
	Live     bool // has a member key; false: departed, its floor (or share) kept until reclaimed
	Grant    int
	Floor    int
	Want     int
	InUse    int
	Waiting  int
	Held     int
	State    string
}

// Status returns a snapshot.
func (f *Fleet) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	members := f.members()
	grants, _ := f.mir.get(f.keys.grants())
	tbl, _ := decodeTable(grants.value)
	st := Status{Fleet: f.cfg.Name, Instance: f.id, State: f.state, StateSince: f.stateSince, Cap: f.cfg.MaxConnections, Instances: len(members)}
	for _, m := range members {
		if m.rec.Cap > 0 {
			st.Cap = min(st.Cap, m.rec.Cap)
		}
	}
	addrs := map[string]bool{}
	for addr := range f.shares {
		addrs[addr] = true
	}
	for addr := range tbl {
		addrs[addr] = true
	}
	for addr := range addrs {
		bs := BackendStatus{Backend: addr, Granted: tbl.sum(addr)}
		if s := f.shares[addr]; s != nil {
			bs.Grant, bs.Limit, bs.Target, bs.Want = s.entry, s.limit, s.target, s.want()
			bs.InUse, bs.Waiting, bs.Held = s.inUse, s.waiting, s.held
		}
		ids := map[string]bool{}
		for id := range tbl[addr] {
			ids[id] = true
		}
		for id, m := range members {
			d, ok := m.rec.Backends[addr]
			if !ok {
				continue
			}
			ids[id] = true
			bs.FleetIn += d.InUse
		}
		for id := range ids {
			e := tbl[addr][id]
			m, live := members[id]
			d := m.rec.Backends[addr]
			st.Members = append(st.Members, MemberStatus{Backend: addr, Instance: id, Live: live, Grant: e.Grant, Floor: e.Floor,
				Want: d.Want, InUse: d.InUse, Waiting: d.Waiting, Held: d.Held, State: m.rec.State})
		}
		st.Backends = append(st.Backends, bs)
	}
	slices.SortFunc(st.Backends, func(a, b BackendStatus) int { return cmp.Compare(a.Backend, b.Backend) })
	slices.SortFunc(st.Members, func(a, b MemberStatus) int {
		return cmp.Or(cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Instance, b.Instance))
	})
	return st
}
