package admin

import (
	"sync"

	"github.com/mysqlmux/mysqlmux/backend"
)

// healthTracker judges each backend up or down from the pool's dial counters. The pool counts
// dials and failed dials but not which came last, so the tracker compares each look with the
// previous one (console and metrics share it): a backend is "failing" when every dial since the
// previous look failed, and stays so until a dial succeeds. It is "down" when failing with no
// connection open; a dial in progress counts as open (the pool reserves the slot first), so a
// backend that hangs connects rather than refusing them shows "up" for the connect_timeout.
type healthTracker struct {
	mu   sync.Mutex
	last map[string]dialSample // by backend address
}

type dialSample struct {
	dials, errs uint64
	failing     bool
}

func newHealthTracker() *healthTracker {
	return &healthTracker{last: make(map[string]dialSample)}
}

// observe records st and reports whether the last dials failed, and whether the backend is down.
func (h *healthTracker) observe(st backend.Stats) (failing, down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, seen := h.last[st.Backend]
	if seen && (st.Dials < prev.dials || st.DialErrors < prev.errs) {
		seen = false // counters went back: the pool was replaced (reload removed and re-added it)
	}
	failing = prev.failing
	switch {
	case !seen:
		failing = st.DialErrors > 0 && st.DialErrors == st.Dials
	case st.Dials > prev.dials:
		failing = st.DialErrors-prev.errs == st.Dials-prev.dials
	}
	h.last[st.Backend] = dialSample{dials: st.Dials, errs: st.DialErrors, failing: failing}
	return failing, failing && st.Open == 0
}

// status is the SHOW BACKENDS word for down.
func status(down bool) string {
	if down {
		return "down"
	}
	return "up"
}
