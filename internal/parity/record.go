package parity

import (
	"fmt"
	"sync"
)

// who identifies a session of a run: a client generation, or an observer connection.
type who struct {
	id, gen  int
	observer bool
}

// event is one step as it completed through the proxy, in the global order of completion.
type event struct {
	who  who
	spec Spec
	step Step
}

// recorder keeps the last events of a run in a ring, so a failure can be replayed from the
// schedule that led to it with bounded memory, however long the run.
type recorder struct {
	mu   sync.Mutex
	ring []event
	next int64 // sequence number of the next event
}

func newRecorder(size int) *recorder { return &recorder{ring: make([]event, size)} }

// add records ev and returns its sequence number.
func (r *recorder) add(ev event) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.next
	r.ring[seq%int64(len(r.ring))] = ev
	r.next++
	return seq
}

// last is the sequence number of the latest event.
func (r *recorder) last() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next - 1
}

// caseUpTo builds the schedule that ends with event last: every session with an event among the
// window events before it, with all of that session's events still in the ring, in order.
func (r *recorder) caseUpTo(last int64, window int, capN int, incl Features) *Case {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := max(0, r.next-int64(len(r.ring)))
	from := max(first, last-int64(window)+1)
	involved := map[who]bool{}
	for seq := from; seq <= last; seq++ {
		involved[r.ring[seq%int64(len(r.ring))].who] = true
	}
	c := &Case{Cap: capN, Include: incl}
	index := map[who]int{}
	observers := 0
	for seq := first; seq <= last; seq++ {
		ev := r.ring[seq%int64(len(r.ring))]
		if !involved[ev.who] {
			continue
		}
		i, ok := index[ev.who]
		if !ok {
			i = len(c.Clients)
			index[ev.who] = i
			cl := CaseClient{Observer: ev.who.observer, Spec: ev.spec}
			if cl.Observer {
				observers++
				cl.Label = fmt.Sprintf("o%d", observers)
			} else {
				cl.Label = fmt.Sprintf("c%d", i+1-observers)
			}
			c.Clients = append(c.Clients, cl)
		}
		c.Events = append(c.Events, CaseEvent{Client: i, Step: ev.step})
	}
	return c
}
