package doctor

import (
	"fmt"
	"strings"

	"github.com/mysqlmux/mysqlmux/config"
)

const (
	// directHeadroom is the server connections left for tools that connect directly (monitoring,
	// backups, migrations) besides the other accounts seen connected now. Administrators also
	// have the connection the server reserves for SUPER.
	directHeadroom = 2
	// lowWaitTimeout (seconds) is the server wait_timeout recommended when idle connections pile
	// up: ten minutes, well above the pool's idle_timeout, so only forgotten connections meet it.
	lowWaitTimeout = 600
)

// recommend sets the recommended server max_connections and wait_timeout and this server's
// pool cap, with the formulas that gave them.
//
// The pool cap is what mysqlmux may open on the server; the server must admit it plus the
// connections that stay direct (other accounts, tools), and no more than its memory and open
// files allow. A max_connections that already fits is kept.
func recommend(r *Report, o Options) {
	want := int64(o.Cap)
	if want > 0 {
		r.Why = append(r.Why, fmt.Sprintf("pool cap wanted: the configuration's %d", want))
	} else {
		def := int64(config.Defaults().Pool.MaxConnections)
		want = max(def, 2*int64(r.AppActive))
		r.Why = append(r.Why, fmt.Sprintf("pool cap wanted = max(mysqlmux's default %d, 2 × application statements running now %d) = %d",
			def, r.AppActive, want))
	}
	direct := int64(r.OtherConnections) + directHeadroom
	needed := want + direct
	var current int64
	if r.MaxConnections != nil {
		current = *r.MaxConnections
	}
	rec := max(current, needed)
	terms := []string{fmt.Sprintf("max(current %d, needed %d)", current, needed)}
	if b := r.MemoryBoundMaxConnections; b != nil {
		rec = min(rec, *b)
		terms = append(terms, fmt.Sprintf("memory bound %d", *b))
	}
	if b := r.FilesBoundMaxConnections; b != nil {
		rec = min(rec, *b)
		terms = append(terms, fmt.Sprintf("open-files bound %d", *b))
	}
	rec = max(rec, 1)
	r.RecommendedMaxConnections = rec
	r.Why = append(r.Why, fmt.Sprintf("max_connections = min(%s) = %d, where needed = pool cap %d + connections of other accounts %d + %d for tools connecting directly",
		strings.Join(terms, ", "), rec, want, r.OtherConnections, directHeadroom))

	r.RecommendedPoolMaxConnections = max(1, min(want, rec-direct))
	r.Why = append(r.Why, fmt.Sprintf("pool max_connections = min(wanted %d, max_connections %d − %d staying direct) = %d",
		want, rec, direct, r.RecommendedPoolMaxConnections))

	if r.WaitTimeout != nil {
		w := *r.WaitTimeout
		if r.SleepingOverThreshold > 0 && w > lowWaitTimeout {
			w = lowWaitTimeout
			r.Why = append(r.Why, fmt.Sprintf("wait_timeout = %d s (from %d s): connections idle past the threshold hold slots; behind mysqlmux only direct and pool connections meet it",
				w, *r.WaitTimeout))
		}
		r.RecommendedWaitTimeout = &w
	}
}
