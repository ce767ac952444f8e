package parity

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// usage is a snapshot of what a run could leak: goroutines and file descriptors of this process
// (the proxy runs in it), the pool's connections, the proxied server's Threads_connected, and
// the heap after a collection.
type usage struct {
	goroutines, fds  int
	open, inUse, cap int
	sessions         int
	threads          int64
	heap             uint64
}

func (e *env) usage() (usage, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := usage{goroutines: runtime.NumGoroutine(), heap: ms.HeapInuse}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		u.fds = len(ents)
	}
	if e.inst != nil {
		for _, p := range e.inst.Router().Pools() {
			st := p.Stats()
			u.open += st.Open
			u.inUse += st.InUse
			u.cap += st.MaxConns
		}
		u.sessions = len(e.inst.Router().Sessions())
	}
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	n, err := e.admins[0].int("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED'")
	u.threads = n
	return u, err
}

// Slack for what a proxy starts once and keeps (the epoll watch of parked clients and its
// goroutine): a leak per session would show as hundreds over a soak.
const (
	goroutineSlack = 4
	fdSlack        = 4
)

// checkLeaks waits (up to cleanupWait) for the proxy to be back where it was before the run, once
// every client has gone: no session left but those it started with (the KILLer), no backend
// connection lent, no more than the cap open, the server seeing exactly the pool's connections
// (and root's), goroutines and descriptors back to the baseline (the pool's connections set apart), and the heap no more than 25% + 16 MiB
// above what it was a quarter into the run. It returns what is still wrong.
func (e *env) checkLeaks(before, quarter usage) []string {
	var problems []string
	deadline := time.Now().Add(cleanupWait)
	for {
		now, err := e.usage()
		problems = problems[:0]
		if err != nil {
			problems = append(problems, err.Error())
		}
		if now.sessions > before.sessions { // before: the KILLer connected through the proxy
			problems = append(problems, fmt.Sprintf("%d client sessions still registered, %d before the run", now.sessions, before.sessions))
		}
		if now.inUse != 0 {
			problems = append(problems, fmt.Sprintf("%d backend connections still lent", now.inUse))
		}
		if now.open > now.cap {
			problems = append(problems, fmt.Sprintf("%d backend connections open, cap %d", now.open, now.cap))
		}
		if got, want := now.threads-int64(now.open), before.threads-int64(before.open); got != want {
			problems = append(problems, fmt.Sprintf("server Threads_connected %d with %d pool connections open (before: %d with %d)",
				now.threads, now.open, before.threads, before.open))
		}
		if now.goroutines > before.goroutines+goroutineSlack {
			problems = append(problems, fmt.Sprintf("goroutines %d, before the run %d", now.goroutines, before.goroutines))
		}
		if got, want := now.fds-now.open, before.fds-before.open; got > want+fdSlack {
			problems = append(problems, fmt.Sprintf("file descriptors %d (%d pool connections), before the run %d (%d)",
				now.fds, now.open, before.fds, before.open))
		}
		if limit := quarter.heap + quarter.heap/4 + 16<<20; quarter.heap > 0 && now.heap > limit {
			problems = append(problems, fmt.Sprintf("heap in use %d MiB, a quarter into the run %d MiB", now.heap>>20, quarter.heap>>20))
		}
		if len(problems) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if now.sessions > before.sessions || now.inUse != 0 {
				problems = append(problems, "what is left:\n"+e.describe())
			}
			return problems
		}
		time.Sleep(100 * time.Millisecond)
	}
}
