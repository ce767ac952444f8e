// Package digest keeps statement statistics by digest, as MySQL's
// events_statements_summary_by_digest does: statements normalised with the TiDB parser's digest
// (literals replaced by ?), with their count, time, rows and errors. Sessions only copy a
// finished statement into a bounded queue (Record); a worker goroutine digests and aggregates,
// so the statement's own path never parses. The table holds a bounded number of rows.
package digest

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/pingcap/tidb/pkg/parser"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // the parser panics without a driver
)

// OtherText is the text of the row that counts the statements of every shape that found the
// table full (MySQL's row with a NULL digest).
const OtherText = "(other statements: the digest table was full)"

// period is how often the worker digests what the sessions recorded.
const period = 100 * time.Millisecond

// maxSkeletons bounds the worker's cache of digests by skeleton; it starts over when full.
const maxSkeletons = 4096

// Row is one statement shape.
type Row struct {
	Digest    string // hex SHA-256 of Text, the TiDB digest; "" for the overflow row
	Text      string // the normalised statement, or OtherText
	Count     uint64
	Sum, Max  time.Duration // time the clients waited: from the command to the last byte of the answer
	RowsSent  uint64
	Errors    uint64 // statements answered with an error
	FirstSeen time.Time
	LastSeen  time.Time
}

// Table is the bounded digest table and its worker.
type Table struct {
	q       *queue
	maxRows int

	mu     sync.Mutex // guards the fields below; the worker holds it while it folds a batch in
	rows   map[string]*Row
	other  *Row            // the overflow row, once the table is full
	bySkel map[string]*Row // see skeleton
	skel   []byte          // scratch for skeleton

	spare *batch // the worker's; swapped with the queue's
	flush chan chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

// New starts a table of at most maxRows rows (at least 2: one is kept for the overflow row).
func New(maxRows int) *Table {
	t := &Table{
		q: newQueue(), maxRows: max(maxRows, 2),
		rows: make(map[string]*Row), bySkel: make(map[string]*Row),
		spare: newBatch(), flush: make(chan chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go t.run()
	return t
}

// Record queues one finished statement (COM_QUERY's text, or a prepared statement's). It copies
// at most MaxText bytes of text and never blocks: when the queue is full the statement is only
// counted as dropped.
func (t *Table) Record(text []byte, d time.Duration, rows uint64, errCode uint16) {
	t.q.add(text, d, rows, errCode)
}

// Dropped is how many statements found the queue full and were not counted.
func (t *Table) Dropped() uint64 { return t.q.droppedCount() }

// Len is the number of rows (what is still queued not digested).
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.rows)
	if t.other != nil {
		n++
	}
	return n
}

// Rows returns every row, the most total time first, after digesting what is queued.
func (t *Table) Rows() []Row {
	t.Flush()
	t.mu.Lock()
	out := make([]Row, 0, len(t.rows)+1)
	for _, r := range t.rows {
		out = append(out, *r)
	}
	if t.other != nil {
		out = append(out, *t.other)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Row) int {
		if c := cmp.Compare(b.Sum, a.Sum); c != 0 {
			return c
		}
		return cmp.Compare(a.Digest, b.Digest)
	})
	return out
}

// Reset empties the table (statements queued before it are dropped with it).
func (t *Table) Reset() {
	t.Flush()
	t.mu.Lock()
	clear(t.rows)
	clear(t.bySkel)
	t.other = nil
	t.mu.Unlock()
}

// Flush returns once every statement recorded before the call is in the table.
func (t *Table) Flush() {
	ack := make(chan struct{})
	select {
	case t.flush <- ack:
		<-ack
	case <-t.done:
	}
}

// Close stops the worker.
func (t *Table) Close() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	<-t.done
}

func (t *Table) run() {
	defer close(t.done)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		var ack chan struct{}
		select {
		case <-t.stop:
			return
		case <-tick.C:
		case <-t.q.kick:
		case ack = <-t.flush:
		}
		b := t.q.swap(t.spare)
		t.fold(b, time.Now())
		t.spare = b
		if ack != nil {
			close(ack)
		}
	}
}

// fold adds a batch of statements to the table.
func (t *Table) fold(b *batch, now time.Time) {
	if len(b.ents) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range b.ents {
		r := t.rowFor(b.text[e.off:e.off+e.n], now)
		r.Count++
		r.Sum += e.dur
		r.Max = max(r.Max, e.dur)
		r.RowsSent += e.rows
		if e.errCode != 0 {
			r.Errors++
		}
		r.LastSeen = now
	}
}

// rowFor finds or makes the row of text's digest.
func (t *Table) rowFor(text []byte, now time.Time) *Row {
	sk, ok := skeleton(t.skel[:0], text)
	t.skel = sk
	if ok {
		if r := t.bySkel[string(sk)]; r != nil {
			return r
		}
	}
	norm, dg := parser.NormalizeDigest(string(text))
	key := dg.String()
	r := t.rows[key]
	if r == nil {
		if len(t.rows) < t.maxRows-1 {
			r = &Row{Digest: key, Text: norm, FirstSeen: now}
			t.rows[key] = r
		} else {
			if t.other == nil {
				t.other = &Row{Text: OtherText, FirstSeen: now}
			}
			r = t.other
		}
	}
	if ok {
		if len(t.bySkel) >= maxSkeletons {
			clear(t.bySkel)
		}
		t.bySkel[string(sk)] = r
	}
	return r
}
