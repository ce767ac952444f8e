package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mysqlmux/mysqlmux/backend"
)

// probeTimeout bounds /readyz's look at a backend that has not answered yet.
const probeTimeout = 2 * time.Second

// readiness remembers which backends have answered once: a pool dialled a connection to it, or
// /readyz read its greeting. A proxy is ready when every backend has answered and none is down
// now (as SHOW BACKENDS judges it).
type readiness struct {
	mu       sync.Mutex
	answered map[string]bool // by backend address
}

func newReadiness() *readiness { return &readiness{answered: make(map[string]bool)} }

// check returns why the backend of st is not ready ("" when it is). Until the backend has
// answered, it reads the backend's greeting (no login: the server counts an aborted connect).
func (rd *readiness) check(ctx context.Context, st backend.Stats, down bool) string {
	if down {
		return "down: its last dials failed and no connection is open"
	}
	rd.mu.Lock()
	ok := rd.answered[st.Backend]
	rd.mu.Unlock()
	if ok {
		return ""
	}
	if st.Dials <= st.DialErrors {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		if _, err := backend.ProbeVersion(ctx, st.Backend); err != nil {
			return "has not answered yet: " + err.Error()
		}
	}
	rd.mu.Lock()
	rd.answered[st.Backend] = true
	rd.mu.Unlock()
	return ""
}

// readyz answers 200 "ready" once every backend has answered and none is down, else 503 with a
// line per backend that is not ready. Load balancers send new clients only to a ready proxy.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var bad []string
	for _, p := range s.in.Router().Pools() {
		st := p.Stats()
		_, down := s.health.observe(st)
		if why := s.ready.check(r.Context(), st, down); why != "" {
			bad = append(bad, fmt.Sprintf("backend %s %s", st.Backend, why))
		}
	}
	if len(bad) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n" + strings.Join(bad, "\n") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
