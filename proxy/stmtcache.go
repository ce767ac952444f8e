package proxy

import (
	"container/list"
	"sync"
)

// stmtMeta is what a COM_STMT_PREPARE answered, shared by every session that prepares the same
// text as the same user, in the same database and session state: the proxy then answers the
// next PREPARE itself, with no backend round trip. Immutable once built.
type stmtMeta struct {
	key     string
	text    string // the statement, as prepared
	db      string // default database at prepare time (names resolve in it)
	columns uint16
	params  uint16
	// defs are the payloads that follow the OK: parameter definitions and EOF, then column
	// definitions and EOF (each part present only when its count is not zero).
	defs [][]byte
	size int
}

// metaCache is a bounded LRU of statement metadata.
type metaCache struct {
	mu       sync.Mutex
	order    *list.List // of *stmtMeta, most recently used in front
	byKey    map[string]*list.Element
	bytes    int
	maxItems int
	maxBytes int
	hits     uint64
	misses   uint64
}

func newMetaCache(maxItems, maxBytes int) *metaCache {
	return &metaCache{order: list.New(), byKey: make(map[string]*list.Element), maxItems: maxItems, maxBytes: maxBytes}
}

func (c *metaCache) get(key string) *stmtMeta {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		c.misses++
		return nil
	}
	c.hits++
	c.order.MoveToFront(e)
	return e.Value.(*stmtMeta)
}

func (c *metaCache) put(m *stmtMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[m.key]; ok {
		c.bytes -= e.Value.(*stmtMeta).size
		e.Value = m
		c.order.MoveToFront(e)
	} else {
		c.byKey[m.key] = c.order.PushFront(m)
	}
	c.bytes += m.size
	for c.order.Len() > c.maxItems || (c.bytes > c.maxBytes && c.order.Len() > 1) {
		e := c.order.Back()
		old := e.Value.(*stmtMeta)
		c.order.Remove(e)
		delete(c.byKey, old.key)
		c.bytes -= old.size
	}
}

// invalidate drops everything: a schema change may have changed any statement's columns.
func (c *metaCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.byKey)
	c.bytes = 0
}

// stats returns entries, hits and misses.
func (c *metaCache) stats() (entries int, hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.hits, c.misses
}
