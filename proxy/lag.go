package proxy

import (
	"strconv"
	"strings"
	"time"
)

// Replication lag as the data shows it. Seconds_Behind_Master says nothing while a replication
// thread is stopped, and is known to mislead (it counts from the event's timestamp, and reads 0
// while the I/O thread is behind); so the monitor also measures staleness itself: it records
// the writer's @@gtid_binlog_pos as it changes, and a replica whose @@gtid_current_pos covers
// the position the writer had at time T has every write made before T. Its lag is at most the
// time since the writer last had a position the replica covers.

// gtidPos is a GTID position: the last sequence number per replication domain.
type gtidPos map[uint64]uint64

// parseGTIDPos parses a position such as "0-1-100,1-2-7"; ok is false for a malformed one.
func parseGTIDPos(s string) (gtidPos, bool) {
	p := gtidPos{}
	for _, g := range strings.Split(s, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		parts := strings.Split(g, "-")
		if len(parts) != 3 {
			return nil, false
		}
		d, err1 := strconv.ParseUint(parts[0], 10, 32)
		_, err2 := strconv.ParseUint(parts[1], 10, 32)
		n, err3 := strconv.ParseUint(parts[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, false
		}
		p[d] = max(p[d], n)
	}
	return p, true
}

// covers reports whether p has applied everything of q.
func (p gtidPos) covers(q gtidPos) bool {
	for d, n := range q {
		if p[d] < n {
			return false
		}
	}
	return true
}

func (p gtidPos) equal(q gtidPos) bool { return len(p) == len(q) && p.covers(q) }

// writerHistory is the writer's positions over time, oldest first, one entry per position.
type writerHistory struct {
	writer  string // the backend they were read from; a new writer starts a new history
	entries []historyEntry
}

type historyEntry struct {
	pos       gtidPos
	firstSeen time.Time
	lastSeen  time.Time // the last look at which it was still the writer's position
}

// historyKeep bounds the history: entries older than this (beyond the last) are dropped.
const historyKeep = 10 * time.Minute

const historyMax = 4096

// observe records the writer's position at time now.
func (h *writerHistory) observe(writer string, pos gtidPos, now time.Time) {
	if writer != h.writer {
		h.writer, h.entries = writer, h.entries[:0]
	}
	if n := len(h.entries); n > 0 && h.entries[n-1].pos.equal(pos) {
		h.entries[n-1].lastSeen = now
		return
	}
	h.entries = append(h.entries, historyEntry{pos: pos, firstSeen: now, lastSeen: now})
	drop := 0
	for drop < len(h.entries)-1 && (now.Sub(h.entries[drop].lastSeen) > historyKeep || len(h.entries)-drop > historyMax) {
		drop++
	}
	h.entries = append(h.entries[:0], h.entries[drop:]...)
}

// staleness places a replica at position pos, read at time at: lag is how far behind the writer
// it is at most (zero when it has everything the writer last showed), and since is the last
// time the writer was seen at a position it covers. Every write it lacks came after since, and
// positions only grow, so until since + max_replica_lag its reads are proven no staler than
// that. ok is false when it covers no recorded position (it is further behind than the history
// reaches, or applies another stream).
func (h *writerHistory) staleness(pos gtidPos, at time.Time) (lag time.Duration, since time.Time, ok bool) {
	for i := len(h.entries) - 1; i >= 0; i-- {
		if !pos.covers(h.entries[i].pos) {
			continue
		}
		if i == len(h.entries)-1 {
			return 0, h.entries[i].lastSeen, true
		}
		return max(at.Sub(h.entries[i].lastSeen), 0), h.entries[i].lastSeen, true
	}
	return 0, time.Time{}, false
}
