package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/etcdtest"
)

// A mirror not caught up with etcd (a partition just healed, the watch not resumed yet) shows
// the grant table from before; a pool limit raised from it would take the fleet past its cap
// (found by TestFleetPartitionedInstance: 15 held with a cap of 12, C back at its old share of 4
// while A and B still held the 6 and 5 the table gave them). A limit rises only once etcd
// confirmed the table it was read from.
func TestStaleMirrorRaisesNoLimit(t *testing.T) {
	e := etcdtest.StartTB(t, etcdtest.Options{})
	cli := e.Client(t)
	ctx := context.Background()
	cc := config.DefaultCluster()
	cc.Endpoints, cc.Name, cc.MaxConnections, cc.Floor = []string{e.Endpoint}, "stale", 12, 1
	cc.LeaseTTL.Duration, cc.OfflineHold.Duration, cc.DialTimeout.Duration = 20*time.Second, 10*time.Second, 2*time.Second
	const addr = "127.0.0.1:1" // never dialled: no client asks the pool for a connection
	k := newKeys(cc.Name)
	idle := func() []byte {
		data, _ := json.Marshal(member{Cap: 12, Floor: 1, State: StateOK, Backends: map[string]demand{addr: {Cap: 10}}})
		return data
	}
	for _, id := range []string{"a", "b"} {
		lease, err := cli.Grant(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(ctx, k.member(id), string(idle()), clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	putTable := func(tb table) {
		t.Helper()
		data, _ := json.Marshal(tb)
		if _, err := cli.Put(ctx, k.grants(), string(data)); err != nil {
			t.Fatal(err)
		}
	}
	// Before: the three shared alike. Now: C was lowered to its floor while cut off, A and B
	// took the rest and hold it.
	putTable(table{addr: {"a": {4, 1}, "b": {4, 1}, "c": {4, 1}}})
	before, err := cli.Get(ctx, k.grants())
	if err != nil {
		t.Fatal(err)
	}
	putTable(table{addr: {"a": {6, 1}, "b": {5, 1}, "c": {1, 1}}})

	f := quietFleet(t, cc, "c", idle())
	f.sess.step(ctx)
	if !f.sess.status().registered {
		t.Fatal("c did not register")
	}
	if _, err := f.mir.load(ctx, k.config()); err != nil {
		t.Fatal(err)
	}
	pool := backend.NewPool(addr, func(context.Context, backend.Key, string) (*backend.Conn, error) {
		return nil, errors.New("not dialled in this test")
	}, backend.Settings{MaxConns: 10, AcquireTimeout: time.Second}, nil)
	t.Cleanup(pool.Close)
	f.pools = func() map[string]*backend.Pool { return map[string]*backend.Pool{addr: pool} }

	old := before.Kvs[0]
	f.mir.mu.Lock()
	f.mir.kvs[k.grants()] = kv{value: old.Value, modRev: old.ModRevision, createRev: old.CreateRevision}
	f.mir.mu.Unlock()
	f.tick(time.Now())
	if l := f.Limit(addr); l > 1 {
		t.Fatalf("limit %d from a stale table: A and B hold 11 of the cap 12", l)
	}

	// Caught up: the limit rises to what the table leaves free, with no write (C's entry cannot
	// grow) but etcd's confirmation that the table is current.
	if _, err := f.mir.load(ctx, k.config()); err != nil {
		t.Fatal(err)
	}
	f.tick(time.Now())
	if l := f.Limit(addr); l != 1 {
		t.Fatalf("limit %d from the current table, want 1 (C's entry)", l)
	}
}

// quietFleet is a Fleet with no goroutines of its own: the test steps its session, loads its
// mirror and ticks it.
func quietFleet(t *testing.T, cc config.ClusterConfig, id string, record []byte) *Fleet {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: cc.Endpoints, DialTimeout: cc.DialTimeout.Duration, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	k := newKeys(cc.Name)
	log := slog.New(slog.DiscardHandler)
	f := &Fleet{id: id, keys: k, log: log, cli: cli, cfg: cc, shares: map[string]*share{}, ghosts: map[string]time.Time{},
		state: StateJoining, stateSince: time.Now()}
	f.mir = newMirror(cli, k.prefix, log)
	f.sess = &session{cli: cli, key: k.member(id), ttl: cc.LeaseTTL.Duration, every: time.Second, timeout: cc.DialTimeout.Duration,
		log: log, record: record}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	t.Cleanup(f.Close)
	return f
}
