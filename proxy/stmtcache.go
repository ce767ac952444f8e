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
	query   []byte // text, for the effects of each EXECUTE
	// eff is the text's effects, analysed at the first EXECUTE (sessions sharing the metadata
	// share the state the key names, so the analysis is the same for each); guarded by once.
	eff  *effects
	once sync.Once
	// defs are the payloads that follow the OK: parameter definitions and EOF, then column
	// definitions and EOF (each part present only when its count is not zero).
	defs [][]byte
	size int
}

// effects returns the effects of the statement's text, analysed once. A prepared DROP TABLE
// records its names as if the session had temporary tables (harmless when it has none).
func (m *stmtMeta) effects(p *parsers, ctx *analysisCtx) *effects {
	m.once.Do(func() {
		e := preparedEffectsOf(p, ctx, m.db, m.query)
		m.eff = &e
	})
	return m.eff
}

// preparedEffectsOf analyses q as a binary-protocol prepared statement's text, in database db.
func preparedEffectsOf(p *parsers, ctx *analysisCtx, db string, q []byte) effects {
	c := *ctx
	c.db, c.hasTemp, c.prepared = db, true, nil
	return p.effectsOf(q, &c)
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
	// inflight holds the prepares under way, so sessions preparing the same statement at once
	// wait for the first instead of each preparing it on a backend.
	inflight map[string]*prepareCall
}

// prepareCall is one prepare under way; done is closed when meta (or err) is set.
type prepareCall struct {
	done chan struct{}
	meta *stmtMeta
	err  error
}

func newMetaCache(maxItems, maxBytes int) *metaCache {
	return &metaCache{order: list.New(), byKey: make(map[string]*list.Element), maxItems: maxItems,
		maxBytes: maxBytes, inflight: make(map[string]*prepareCall)}
}

// getOrPrepare returns the metadata of key, from the cache, from a prepare another session has
// under way, or from prepare (run by this caller, the result cached if small enough). A caller
// that holds a backend connection does not wait for another's prepare (wait false), which may
// be waiting for that very connection (a cap of 1): it prepares itself.
func (c *metaCache) getOrPrepare(key string, wait bool, prepare func() (*stmtMeta, error)) (*stmtMeta, error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		c.hits++
		c.order.MoveToFront(e)
		m := e.Value.(*stmtMeta)
		c.mu.Unlock()
		return m, nil
	}
	if call, ok := c.inflight[key]; ok {
		if !wait {
			c.mu.Unlock()
			return prepare()
		}
		c.hits++
		c.mu.Unlock()
		<-call.done
		if call.err == nil {
			return call.meta, nil
		}
		return prepare() // the first one failed (perhaps for its own reasons): try ourselves
	}
	c.misses++
	call := &prepareCall{done: make(chan struct{})}
	c.inflight[key] = call
	c.mu.Unlock()
	call.meta, call.err = prepare()
	// Cached and no longer in flight in one step: a session arriving in between would find
	// neither and prepare again.
	c.mu.Lock()
	delete(c.inflight, key)
	if call.err == nil && call.meta.size <= maxMetaBytes {
		c.putLocked(call.meta)
	}
	c.mu.Unlock()
	close(call.done)
	return call.meta, call.err
}

// remove drops key: an EXECUTE showed its columns changed.
func (c *metaCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.order.Remove(e)
		delete(c.byKey, key)
		c.bytes -= e.Value.(*stmtMeta).size
	}
}

func (c *metaCache) putLocked(m *stmtMeta) {
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
