package proxy

import (
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/backend"
)

func TestGTIDPos(t *testing.T) {
	p, ok := parseGTIDPos("0-1-100, 1-2-7")
	if !ok || p[0] != 100 || p[1] != 7 {
		t.Fatalf("parse: %v %v", p, ok)
	}
	for _, bad := range []string{"0-1", "a-1-2", "0-1-2-3", "0-1-x"} {
		if _, ok := parseGTIDPos(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if empty, ok := parseGTIDPos(""); !ok || len(empty) != 0 {
		t.Errorf("empty position: %v %v", empty, ok)
	}
	q, _ := parseGTIDPos("0-3-101")
	if q.covers(p) || p.covers(q) {
		t.Errorf("0-3-101 lacks domain 1: covers %v, reverse %v", q.covers(p), p.covers(q))
	}
	r, _ := parseGTIDPos("0-1-100,1-2-8")
	if !r.covers(p) || p.covers(r) || !p.equal(p) || p.equal(r) {
		t.Errorf("covers/equal wrong for %v %v", p, r)
	}
}

// TestWriterHistory: a replica's lag is bounded by the last time the writer was at a position
// it covers; the history restarts with a new writer.
func TestWriterHistory(t *testing.T) {
	pos := func(s string) gtidPos { p, _ := parseGTIDPos(s); return p }
	t0 := time.Unix(1000, 0)
	var h writerHistory
	h.observe("w", pos("0-1-1"), t0)
	h.observe("w", pos("0-1-1"), t0.Add(100*time.Millisecond))
	h.observe("w", pos("0-1-5"), t0.Add(200*time.Millisecond))
	h.observe("w", pos("0-1-9"), t0.Add(300*time.Millisecond))
	if len(h.entries) != 3 {
		t.Fatalf("entries: %+v", h.entries)
	}
	at := t0.Add(time.Second)
	if lag, since, ok := h.staleness(pos("0-1-9"), at); !ok || lag != 0 || !since.Equal(t0.Add(300*time.Millisecond)) {
		t.Errorf("caught up: %v %v %v", lag, since, ok)
	}
	if lag, since, ok := h.staleness(pos("0-1-6"), at); !ok || lag != 800*time.Millisecond || !since.Equal(t0.Add(200*time.Millisecond)) {
		t.Errorf("behind 0-1-9: %v %v %v", lag, since, ok)
	}
	if lag, _, ok := h.staleness(pos("0-1-1"), at); !ok || lag != 900*time.Millisecond {
		t.Errorf("at 0-1-1, last seen at +100ms: %v %v", lag, ok)
	}
	if _, _, ok := h.staleness(pos("0-1-0"), at); ok {
		t.Errorf("behind the whole history: ok")
	}
	h.observe("w2", pos("0-2-10"), at)
	if len(h.entries) != 1 || h.writer != "w2" {
		t.Errorf("a new writer keeps the old history: %+v", h)
	}
	// Old entries are dropped.
	h.observe("w2", pos("0-2-11"), at.Add(historyKeep+time.Second))
	if len(h.entries) != 1 {
		t.Errorf("entries older than historyKeep kept: %d", len(h.entries))
	}
}

// TestHostgroupsReader: reads spread by weight among fresh readers; a stale one is skipped;
// contexts of roles a pool keeps carry over, the others end.
func TestHostgroupsReader(t *testing.T) {
	a, b, w := &backend.Pool{}, &backend.Pool{}, &backend.Pool{}
	fresh := time.Now().Add(time.Hour)
	h := &hostgroups{writer: w, readers: []reader{{pool: a, weight: 1, fresh: fresh}, {pool: b, weight: 3, fresh: fresh}}, total: 4}
	h.inherit(nil)
	count := map[*backend.Pool]int{}
	for range 400 {
		count[h.reader().pool]++
	}
	if count[a] != 100 || count[b] != 300 {
		t.Errorf("weights 1:3 gave %d:%d", count[a], count[b])
	}
	h.readers[1].fresh = time.Now().Add(-time.Second)
	for range 10 {
		if h.reader().pool != a {
			t.Fatal("a stale reader was picked")
		}
	}
	h2 := &hostgroups{writer: w, readers: []reader{{pool: b, weight: 1, fresh: fresh}}, total: 1}
	h2.inherit(h)
	if h2.wctx != h.wctx || h2.readers[0].ctx != h.readers[1].ctx || h.readers[0].ctx.Err() == nil || h.wctx.Err() != nil {
		t.Errorf("inherit: writer ctx kept %v, b's kept %v, a's ended %v", h2.wctx == h.wctx, h2.readers[0].ctx == h.readers[1].ctx, h.readers[0].ctx.Err())
	}
	h3 := &hostgroups{writer: a}
	h3.inherit(h2)
	if h2.wctx.Err() == nil || h2.readers[0].ctx.Err() == nil {
		t.Errorf("a new writer: the old writer's and the dropped reader's contexts go on")
	}
}
