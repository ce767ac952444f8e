package cluster

import (
	"encoding/json"
	"math"
	"time"
)

// memberKV is a live instance as the mirror shows it.
type memberKV struct {
	rec    member
	joined int64 // create revision of its member key
}

// members returns the live instances (member keys), this one included once registered.
func (f *Fleet) members() map[string]memberKV {
	kvs, _ := f.mir.snapshot(f.keys.members())
	out := make(map[string]memberKV, len(kvs))
	for k, x := range kvs {
		id, ok := f.keys.memberID(k)
		if !ok {
			continue
		}
		var m member
		if err := json.Unmarshal(x.value, &m); err != nil {
			f.log.Debug("fleet: unreadable member record", "key", k, "err", err)
		}
		out[id] = memberKV{rec: m, joined: x.createRev}
	}
	return out
}

// claims returns every live instance's claim on backend addr, this one's from what it last
// published (as the others see it), or its own figures before the mirror shows its record.
func (f *Fleet) claims(addr string, members map[string]memberKV) []claim {
	var out []claim
	for id, m := range members {
		if d, ok := m.rec.Backends[addr]; ok {
			out = append(out, claim{id: id, joined: m.joined, floor: m.rec.Floor, cap: d.Cap, want: d.Want})
		}
	}
	if _, ok := members[f.id]; !ok {
		s := f.shares[addr]
		out = append(out, claim{id: f.id, joined: math.MaxInt64, floor: f.cfg.Floor, cap: s.cap, want: s.want()})
	}
	return out
}

// record is this instance's member record now, encoded.
func (f *Fleet) record() []byte {
	data, _ := json.Marshal(f.recordValue()) // plain values: cannot fail
	return data
}

func (f *Fleet) recordValue() member {
	m := member{Cap: f.cfg.MaxConnections, Floor: f.cfg.Floor, State: f.state, Backends: map[string]demand{}}
	for addr, s := range f.shares {
		if s.live == nil {
			continue
		}
		m.Backends[addr] = demand{Cap: s.cap, Want: s.want(), InUse: s.inUse, Waiting: s.waiting, Held: s.held, Grant: s.entry}
	}
	return m
}

// publishLocked writes the member record when it changed, at most every publishEvery, one write
// at a time and off the tick (etcd may be slow or gone).
func (f *Fleet) publishLocked(now time.Time) {
	m := f.recordValue()
	if m.equal(f.published) || now.Sub(f.pubAt) < publishEvery || !f.pubBusy.CompareAndSwap(false, true) {
		return
	}
	f.published, f.pubAt = m, now
	data, _ := json.Marshal(m)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer f.pubBusy.Store(false)
		if err := f.sess.publish(f.ctx, data); err != nil && f.ctx.Err() == nil {
			f.mu.Lock()
			f.published = member{} // try again
			f.mu.Unlock()
		}
	}()
}
