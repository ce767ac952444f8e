package cluster

import (
	"encoding/json"
	"maps"
	"strings"
)

// What the fleet keeps in etcd, under /mysqlmux/NAME/:
//
//	members/ID      one per live instance, on its lease: what it needs (member)
//	grants          the grant table: every instance's share of every backend (table)
//	config/...      users, backends and pool limits shared by the fleet (overlay.go)
//
// The member keys come and go with the leases; the grant table is written only by transactions
// that compare its revision, so each change is made against the table it read.

type keys struct{ prefix string }

func newKeys(fleet string) keys { return keys{prefix: "/mysqlmux/" + fleet + "/"} }

func (k keys) members() string         { return k.prefix + "members/" }
func (k keys) member(id string) string { return k.members() + id }
func (k keys) grants() string          { return k.prefix + "grants" }
func (k keys) config() string          { return k.prefix + "config/" }

// memberID returns the instance id of a member key, or false.
func (k keys) memberID(key string) (string, bool) {
	id, ok := strings.CutPrefix(key, k.members())
	return id, ok && id != ""
}

// member is what an instance publishes about itself, on its lease.
type member struct {
	Cap      int               `json:"cap"`   // the fleet cap in its configuration
	Floor    int               `json:"floor"` // its floor, per backend
	State    string            `json:"state"`
	Backends map[string]demand `json:"backends"`
}

// demand is one instance's use of one backend.
type demand struct {
	Cap     int `json:"cap"`     // its pool's configured cap: it never asks for more
	Want    int `json:"want"`    // peak of in_use + waiting over the last demandWindow
	InUse   int `json:"in_use"`  // connections lent to clients now
	Waiting int `json:"waiting"` // statements waiting for one now
	Held    int `json:"held"`    // connections open, being dialled or closing
	Grant   int `json:"grant"`   // its grant as it last saw it (for display; the table decides)
}

func (m member) equal(o member) bool {
	return m.Cap == o.Cap && m.Floor == o.Floor && m.State == o.State && maps.Equal(m.Backends, o.Backends)
}

// entry is one instance's share of one backend in the grant table.
type entry struct {
	Grant int `json:"grant"` // connections it may hold
	Floor int `json:"floor"` // what it keeps if it vanishes without leaving (see reclaim)
}

// table is the grant table: backend address → instance id → entry. The sum of a backend's
// grants never exceeds the fleet cap: a grant grows only by a transaction that checks the sum
// in the table it replaces, and shrinks only once its holder holds no more.
type table map[string]map[string]entry

func decodeTable(b []byte) (table, error) {
	t := table{}
	if len(b) == 0 {
		return t, nil
	}
	err := json.Unmarshal(b, &t)
	return t, err
}

func (t table) clone() table {
	n := make(table, len(t))
	for b, es := range t {
		n[b] = maps.Clone(es)
	}
	return n
}

// sum is the total granted on backend b.
func (t table) sum(b string) int {
	n := 0
	for _, e := range t[b] {
		n += e.Grant
	}
	return n
}

// set records id's entry on backend b (dropping it when the grant and floor are 0).
func (t table) set(b, id string, e entry) {
	if e == (entry{}) {
		delete(t[b], id)
		if len(t[b]) == 0 {
			delete(t, b)
		}
		return
	}
	if t[b] == nil {
		t[b] = map[string]entry{}
	}
	t[b][id] = e
}

// ids returns every instance that has an entry.
func (t table) ids() map[string]bool {
	out := map[string]bool{}
	for _, es := range t {
		for id := range es {
			out[id] = true
		}
	}
	return out
}
