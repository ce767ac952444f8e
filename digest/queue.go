package digest

import (
	"sync"
	"time"
)

// MaxText is how much of a statement the digest reads: longer ones are digested from their first
// MaxText bytes, as MySQL's max_digest_length (1024) does.
const MaxText = 1024

// Bounds of one batch: statements recorded while the worker digests the previous batch. At 50,000
// statements a second the worker's 100 ms period fills 5,000 entries, and a batch half full wakes
// it early; past either bound a statement is dropped and counted (Table.Dropped), never waited for.
const (
	batchEntries = 8192
	batchBytes   = 512 << 10
)

// entry is one finished statement waiting to be digested; its text is batch.text[off:off+n].
type entry struct {
	off, n  uint32
	errCode uint16
	dur     time.Duration
	rows    uint64
}

type batch struct {
	text []byte
	ents []entry
}

func newBatch() *batch {
	return &batch{text: make([]byte, 0, batchBytes), ents: make([]entry, 0, batchEntries)}
}

func (b *batch) reset() {
	b.text, b.ents = b.text[:0], b.ents[:0]
}

// queue hands statements from the sessions to the worker: sessions append to cur under mu (a
// copy of at most MaxText bytes, no allocation), the worker swaps cur for its spare batch and
// digests it outside the lock.
type queue struct {
	mu      sync.Mutex
	cur     *batch
	dropped uint64
	// kick wakes the worker early when cur gets half full (cap 1, never blocks the sender).
	kick chan struct{}
}

func newQueue() *queue {
	return &queue{cur: newBatch(), kick: make(chan struct{}, 1)}
}

// add records one statement; it never blocks on the worker.
func (q *queue) add(text []byte, d time.Duration, rows uint64, errCode uint16) {
	text = text[:min(len(text), MaxText)]
	q.mu.Lock()
	b := q.cur
	if len(b.ents) == cap(b.ents) || len(b.text)+len(text) > cap(b.text) {
		q.dropped++
		q.mu.Unlock()
		return
	}
	b.ents = append(b.ents, entry{off: uint32(len(b.text)), n: uint32(len(text)), errCode: errCode, dur: d, rows: rows})
	b.text = append(b.text, text...)
	half := len(b.ents) == cap(b.ents)/2 || (len(b.text) >= cap(b.text)/2 && len(b.text)-len(text) < cap(b.text)/2)
	q.mu.Unlock()
	if half {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
}

// swap takes the statements recorded so far, giving spare (emptied) in their place.
func (q *queue) swap(spare *batch) *batch {
	spare.reset()
	q.mu.Lock()
	b := q.cur
	q.cur = spare
	q.mu.Unlock()
	return b
}

func (q *queue) droppedCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
