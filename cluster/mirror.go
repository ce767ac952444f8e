package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// kv is one key as the mirror last saw it.
type kv struct {
	value     []byte
	modRev    int64
	createRev int64
	lease     int64
}

// mirror keeps a copy of the fleet's keys, read once and then followed by a watch; after a
// watch error (history compacted, etcd replaced) it reads them again. Decisions made from it
// may be stale: every write that depends on it compares revisions in a transaction.
type mirror struct {
	cli    *clientv3.Client
	prefix string
	log    *slog.Logger

	mu      sync.Mutex
	kvs     map[string]kv
	synced  bool          // a first read succeeded
	changed chan struct{} // buffered 1: a key changed
	cfgGen  uint64        // bumped when a config/ key changed
}

func newMirror(cli *clientv3.Client, prefix string, log *slog.Logger) *mirror {
	return &mirror{cli: cli, prefix: prefix, log: log, kvs: map[string]kv{}, changed: make(chan struct{}, 1)}
}

// run follows the keys until ctx ends.
func (m *mirror) run(ctx context.Context, cfgPrefix string) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := m.load(ctx, cfgPrefix)
		if err != nil {
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range m.cli.Watch(wctx, m.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if err := wr.Err(); err != nil {
				m.log.Debug("fleet: etcd watch ended; reading the keys again", "err", err)
				break
			}
			m.apply(wr.Events, cfgPrefix)
		}
		cancel()
		sleep(ctx, backoff)
	}
}

// load reads every key and returns the revision read at.
func (m *mirror) load(ctx context.Context, cfgPrefix string) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := m.cli.Get(rctx, m.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	kvs := make(map[string]kv, len(resp.Kvs))
	for _, x := range resp.Kvs {
		kvs[string(x.Key)] = kv{value: x.Value, modRev: x.ModRevision, createRev: x.CreateRevision, lease: x.Lease}
	}
	m.mu.Lock()
	cfgChanged := !m.synced || !sameUnder(m.kvs, kvs, cfgPrefix)
	m.kvs, m.synced = kvs, true
	if cfgChanged {
		m.cfgGen++
	}
	m.mu.Unlock()
	m.notify()
	return resp.Header.Revision, nil
}

func (m *mirror) apply(evs []*clientv3.Event, cfgPrefix string) {
	m.mu.Lock()
	for _, ev := range evs {
		k := string(ev.Kv.Key)
		if strings.HasPrefix(k, cfgPrefix) {
			m.cfgGen++
		}
		if ev.Type == clientv3.EventTypeDelete {
			delete(m.kvs, k)
			continue
		}
		if old, ok := m.kvs[k]; ok && old.modRev >= ev.Kv.ModRevision {
			continue // our own write, recorded already (see put)
		}
		m.kvs[k] = kv{value: ev.Kv.Value, modRev: ev.Kv.ModRevision, createRev: ev.Kv.CreateRevision, lease: ev.Kv.Lease}
	}
	m.mu.Unlock()
	m.notify()
}

// put records a write this instance made (so the next decision need not wait for the watch).
func (m *mirror) put(key string, x kv) {
	m.mu.Lock()
	if old, ok := m.kvs[key]; !ok || old.modRev < x.modRev {
		m.kvs[key] = x
	}
	m.mu.Unlock()
}

func (m *mirror) notify() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// snapshot returns a copy of the keys under prefix (whole keys), and whether a read ever
// succeeded.
func (m *mirror) snapshot(prefix string) (map[string]kv, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]kv{}
	for k, x := range m.kvs {
		if strings.HasPrefix(k, prefix) {
			out[k] = x
		}
	}
	return out, m.synced
}

// get returns one key.
func (m *mirror) get(key string) (kv, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.kvs[key]
	return x, ok
}

// configGen changes whenever a key under the config prefix changed.
func (m *mirror) configGen() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfgGen
}

func sameUnder(a, b map[string]kv, prefix string) bool {
	n := 0
	for k, x := range a {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		n++
		if y, ok := b[k]; !ok || y.modRev != x.modRev {
			return false
		}
	}
	for k := range b {
		if strings.HasPrefix(k, prefix) {
			n--
		}
	}
	return n == 0
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
