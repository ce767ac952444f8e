package digest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pingcap/tidb/pkg/parser"
)

func TestLiteralsGroupIntoOneRow(t *testing.T) {
	tb := New(100)
	defer tb.Close()
	tb.Record([]byte("SELECT * FROM t WHERE id = 1"), 2*time.Millisecond, 1, 0)
	tb.Record([]byte("select * from t where id=2"), 4*time.Millisecond, 0, 1146)
	rows := tb.Rows()
	if len(rows) != 1 {
		t.Fatalf("rows = %+v, want one", rows)
	}
	r := rows[0]
	if r.Text != "select * from `t` where `id` = ?" || r.Count != 2 || r.Sum != 6*time.Millisecond ||
		r.Max != 4*time.Millisecond || r.RowsSent != 1 || r.Errors != 1 || len(r.Digest) != 64 {
		t.Fatalf("row = %+v", r)
	}
	if r.FirstSeen.IsZero() || r.LastSeen.Before(r.FirstSeen) {
		t.Fatalf("seen %v .. %v", r.FirstSeen, r.LastSeen)
	}
}

func TestPositionalOrderByStaysApart(t *testing.T) {
	tb := New(100)
	defer tb.Close()
	for _, q := range []string{"SELECT a, b FROM t ORDER BY 1", "SELECT a, b FROM t ORDER BY 2",
		"SELECT a, b FROM t ORDER BY 1", "SELECT a FROM t GROUP BY a, 2"} {
		tb.Record([]byte(q), time.Millisecond, 0, 0)
	}
	counts := map[string]uint64{}
	for _, r := range tb.Rows() {
		counts[r.Text] = r.Count
	}
	want := map[string]uint64{"select `a` , `b` from `t` order by 1": 2, "select `a` , `b` from `t` order by 2": 1,
		"select `a` from `t` group by `a` , 2": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", counts, want)
	}
}

// The table never holds more than its rows: once full, new shapes are counted in the overflow
// row, and every statement is counted somewhere (or as dropped).
func TestTableStaysBounded(t *testing.T) {
	const maxRows, n = 50, 10000
	tb := New(maxRows)
	defer tb.Close()
	for i := range n {
		tb.Record(fmt.Appendf(nil, "SELECT c AS col%d FROM t WHERE id = %d", i, i), time.Microsecond, 1, 0)
		if i%1000 == 999 {
			tb.Flush()
		}
	}
	rows := tb.Rows()
	if len(rows) != maxRows {
		t.Fatalf("%d rows, want %d", len(rows), maxRows)
	}
	var total uint64
	other := 0
	for _, r := range rows {
		total += r.Count
		if r.Digest == "" {
			other++
			if r.Text != OtherText {
				t.Fatalf("overflow row text %q", r.Text)
			}
		}
	}
	if other != 1 || total+tb.Dropped() != n {
		t.Fatalf("overflow rows %d, counted %d + dropped %d, want 1 and %d", other, total, tb.Dropped(), n)
	}
	tb.Reset()
	if rows := tb.Rows(); len(rows) != 0 {
		t.Fatalf("after Reset: %d rows", len(rows))
	}
}

// A full queue drops and counts rather than block the session.
func TestFullQueueDrops(t *testing.T) {
	q := newQueue()
	for range batchEntries + 10 {
		q.add([]byte("SELECT 1"), time.Microsecond, 0, 0)
	}
	if got := q.droppedCount(); got != 10 {
		t.Fatalf("dropped %d, want 10", got)
	}
	big := make([]byte, 3*MaxText)
	q2 := newQueue()
	q2.add(big, 0, 0, 0)
	if n := len(q2.cur.text); n != MaxText {
		t.Fatalf("queued %d bytes of a %d-byte statement, want %d", n, len(big), MaxText)
	}
}

func BenchmarkRecord(b *testing.B) {
	tb := New(1000)
	defer tb.Close()
	q := []byte("SELECT c FROM sbtest1 WHERE id=4871")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tb.Record(q, 100*time.Microsecond, 1, 0)
		}
	})
}

// BenchmarkFold is the worker's cost per statement: point selects with varying ids (a skeleton
// cache hit) against the normaliser alone.
func BenchmarkFold(b *testing.B) {
	texts := make([][]byte, 1000)
	for i := range texts {
		texts[i] = fmt.Appendf(nil, "SELECT c FROM sbtest%d WHERE id=%d", i%4, i*7919)
	}
	b.Run("skeleton-cache", func(b *testing.B) {
		tb := New(1000)
		defer tb.Close()
		now := time.Now()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tb.mu.Lock()
			tb.rowFor(texts[i%len(texts)], now).Count++
			tb.mu.Unlock()
			i++
		}
	})
	b.Run("normaliser", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			parser.NormalizeDigest(string(texts[i%len(texts)]))
			i++
		}
	})
}
