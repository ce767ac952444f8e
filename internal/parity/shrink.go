package parity

import (
	"fmt"
	"slices"
	"time"
)

// minimize replays f's case and shrinks it while the failure (same key) still shows: first whole
// sessions go, then chunks of events (delta debugging), until nothing more can go or the deadline
// passes. f.Case is replaced by the smallest case that still failed.
func (e *env) minimize(f *Failure, deadline time.Time, logf func(string, ...any)) {
	fails := func(c *Case) bool {
		got, err := e.replay(c)
		if err != nil {
			logf("parity: replay failed: %v", err)
			return false
		}
		return slices.ContainsFunc(got, func(g *Failure) bool { return g.Key == f.Key })
	}
	if !fails(f.Case) {
		logf("parity: %s: not reproduced by a one-step-at-a-time replay of %d events", f.Key, len(f.Case.Events))
		return
	}
	f.Reproduced = true
	c := f.Case
	// Most failures need only the last few steps: try short tails first (cheap replays).
	for _, n := range []int{50, 300, 1000} {
		if n >= len(c.Events) || !time.Now().Before(deadline) {
			break
		}
		if next := withoutEvents(c, 0, len(c.Events)-n); fails(next) {
			c = next
			break
		}
	}
	c = compact(c)
	for i := len(c.Clients) - 1; i >= 0 && time.Now().Before(deadline); i-- {
		if next := withoutClient(c, i); fails(next) {
			c = next
		}
	}
	chunks := 2
	for len(c.Events) > 1 && time.Now().Before(deadline) {
		size := (len(c.Events) + chunks - 1) / chunks
		removed := false
		for start := len(c.Events) - size; start > -size && time.Now().Before(deadline); start -= size {
			lo := max(0, start)
			next := withoutEvents(c, lo, start+size)
			if fails(next) {
				c, removed = next, true
			}
		}
		switch {
		case removed:
			chunks = max(chunks-1, 2)
		case size == 1:
			f.Minimal = true
			f.Case = compact(c)
			return
		default:
			chunks = min(chunks*2, len(c.Events))
		}
	}
	f.Minimal = len(c.Events) <= 1
	f.Case = compact(c)
}

// withoutClient is c without client i and its events.
func withoutClient(c *Case, i int) *Case {
	n := &Case{Comments: c.Comments, Cap: c.Cap, Include: c.Include, Clients: c.Clients}
	for _, ev := range c.Events {
		if ev.Client != i {
			n.Events = append(n.Events, ev)
		}
	}
	return n
}

// withoutEvents is c without the events [lo, hi).
func withoutEvents(c *Case, lo, hi int) *Case {
	n := &Case{Comments: c.Comments, Cap: c.Cap, Include: c.Include, Clients: c.Clients}
	n.Events = append(append(n.Events, c.Events[:lo]...), c.Events[min(hi, len(c.Events)):]...)
	return n
}

// compact drops sessions without events and renumbers the labels.
func compact(c *Case) *Case {
	n := &Case{Comments: c.Comments, Cap: c.Cap, Include: c.Include}
	index := map[int]int{}
	clients, observers := 0, 0
	for _, ev := range c.Events {
		i, ok := index[ev.Client]
		if !ok {
			i = len(n.Clients)
			index[ev.Client] = i
			cl := c.Clients[ev.Client]
			if cl.Observer {
				observers++
				cl.Label = fmt.Sprintf("o%d", observers)
			} else {
				clients++
				cl.Label = fmt.Sprintf("c%d", clients)
			}
			n.Clients = append(n.Clients, cl)
		}
		n.Events = append(n.Events, CaseEvent{Client: i, Step: ev.Step})
	}
	return n
}
