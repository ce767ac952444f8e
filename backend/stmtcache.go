package backend

import "container/list"

// StmtCache maps statement keys to the server's statement ids on one connection, least recently
// used first out. The proxy prepares statements lazily on the connection that executes them; the
// bound keeps the server's prepared-statement count (max_prepared_stmt_count) in check.
type StmtCache struct {
	max   int
	order *list.List // of *stmtEntry, most recently used at the front
	byKey map[string]*list.Element
}

type stmtEntry struct {
	key string
	id  uint32
}

// NewStmtCache returns a cache holding at most max statements.
func NewStmtCache(max int) *StmtCache {
	return &StmtCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

// Get returns the server's id for key.
func (c *StmtCache) Get(key string) (uint32, bool) {
	e, ok := c.byKey[key]
	if !ok {
		return 0, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*stmtEntry).id, true
}

// Put records key's id and returns the ids it evicted, which the caller must close on the server.
func (c *StmtCache) Put(key string, id uint32) (evicted []uint32) {
	if e, ok := c.byKey[key]; ok {
		old := e.Value.(*stmtEntry)
		if old.id != id {
			evicted = append(evicted, old.id)
		}
		old.id = id
		c.order.MoveToFront(e)
		return evicted
	}
	c.byKey[key] = c.order.PushFront(&stmtEntry{key: key, id: id})
	for c.order.Len() > c.max {
		e := c.order.Back()
		c.order.Remove(e)
		se := e.Value.(*stmtEntry)
		delete(c.byKey, se.key)
		evicted = append(evicted, se.id)
	}
	return evicted
}

// Remove forgets key (its statement failed on the server); it returns the id to close, if any.
func (c *StmtCache) Remove(key string) (uint32, bool) {
	e, ok := c.byKey[key]
	if !ok {
		return 0, false
	}
	c.order.Remove(e)
	delete(c.byKey, key)
	return e.Value.(*stmtEntry).id, true
}

// Cap reports how many statements the cache holds at most.
func (c *StmtCache) Cap() int { return c.max }

// Len reports how many statements are cached.
func (c *StmtCache) Len() int { return c.order.Len() }

// Clear forgets everything (the server dropped them: reset, reconnect).
func (c *StmtCache) Clear() {
	c.order.Init()
	clear(c.byKey)
}
