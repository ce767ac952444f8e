// Package cluster lets a fleet of mysqlmux instances share one connection budget per backend
// through etcd. Each instance registers under a lease and publishes what it needs; every
// instance computes the same division of the budget (alloc.go); the grant table in etcd
// (records.go) holds each instance's share, changed only by transactions, so the shares never
// add up to more than the budget: an instance lowers its own pool and waits until it holds no
// more connections than its new share before it writes the lower share, and another raises its
// own only into what the table shows free, once a transaction confirmed that table is current
// (its copy may lag). See the README's "A fleet of proxies".
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/config"
)

const (
	tickEvery    = 100 * time.Millisecond // demand sampled, shares adjusted
	minTick      = 20 * time.Millisecond  // at most this often when the keys change
	publishEvery = 200 * time.Millisecond // member record written at most this often
	demandWindow = 2 * time.Second        // want is the peak over this long
)

// States of an instance, as SHOW BACKENDS and the metrics show them.
const (
	StateJoining  = "joining"  // not registered yet: holds nothing
	StateOK       = "ok"       // in the fleet
	StateOffline  = "offline"  // cut off from etcd: keeps its last grant, never grows
	StateFloor    = "floor"    // cut off for offline_hold: lowered to its floor
	StateReleased = "released" // cut off for forget_after: holds nothing
	StateIDTaken  = "id_taken" // another live instance has its id: holds nothing
)

// Pools returns the proxy's pools by backend address (proxy.Instance.PoolsByAddress).
type Pools func() map[string]*backend.Pool

// Fleet is this instance's membership in a fleet.
type Fleet struct {
	id   string
	keys keys
	log  *slog.Logger
	cli  *clientv3.Client
	mir  *mirror
	sess *session

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	pubBusy atomic.Bool

	mu         sync.Mutex
	cfg        config.ClusterConfig // fleet cap and floor change on reload
	pools      Pools                // nil until Attach
	shares     map[string]*share    // by backend address
	state      string
	stateSince time.Time
	ghosts     map[string]time.Time // instances with entries and no member key: since when
	published  member
	pubAt      time.Time
	onConfig   func()
}

// share is this instance's part of one backend.
type share struct {
	entry   int // its grant in the table, as last seen or written
	limit   int // what its pool is capped at: never above entry
	target  int
	cap     int // the pool's configured cap
	inUse   int
	waiting int
	held    int
	peak    []sample
	live    *backend.Pool   // the backend's pool now; nil once the backend was removed
	pools   []*backend.Pool // live, and pools of a removed backend still closing
}

type sample struct {
	at time.Time
	n  int
}

// New connects to etcd (without waiting for it) and starts the membership: the lease and the
// member key, and the copy of the fleet's keys. The pools are capped at 0 until Attach and the
// first grant. listen is the proxy's listen address (the default instance name).
func New(cc config.ClusterConfig, listen string, log *slog.Logger) (*Fleet, error) {
	tlsConf, err := cc.ClientTLS()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cc.Endpoints, DialTimeout: cc.DialTimeout.Duration, TLS: tlsConf,
		Username: cc.Username, Password: cc.Password, Logger: zap.NewNop(),
		DialKeepAliveTime: cc.DialTimeout.Duration, DialKeepAliveTimeout: cc.DialTimeout.Duration,
		// gRPC's reconnection backoff grows to 2 minutes: an etcd back after an outage would be
		// noticed that late. Retry at least every dial_timeout.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: cc.DialTimeout.Duration},
			MinConnectTimeout: cc.DialTimeout.Duration,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd client: %w", err)
	}
	id := cc.InstanceName(listen)
	k := newKeys(cc.Name)
	f := &Fleet{id: id, keys: k, log: log.With("fleet", cc.Name, "instance", id), cli: cli, cfg: cc,
		shares: map[string]*share{}, ghosts: map[string]time.Time{}, state: StateJoining, stateSince: time.Now()}
	f.mir = newMirror(cli, k.prefix, f.log)
	f.sess = &session{cli: cli, key: k.member(id), ttl: cc.LeaseTTL.Duration, every: cc.OfflineHold.Duration / 4,
		timeout: cc.DialTimeout.Duration, log: f.log, record: f.record()}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(2)
	go func() { defer f.wg.Done(); f.mir.run(f.ctx, k.config()) }()
	go func() { defer f.wg.Done(); f.sess.run(f.ctx) }()
	return f, nil
}

// ID is this instance's name in the fleet.
func (f *Fleet) ID() string { return f.id }

// Synced waits (up to d) until the fleet's keys were read once, and says whether they were.
func (f *Fleet) Synced(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if _, ok := f.mir.snapshot(f.keys.config()); ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Limit is what the pool of backend addr may hold now (proxy.PoolLimits): 0 until granted.
func (f *Fleet) Limit(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.shares[addr]; s != nil {
		return s.limit
	}
	return 0
}

// Attach starts balancing the proxy's pools; onConfig is called when the fleet's shared
// configuration in etcd changes (the proxy reloads).
func (f *Fleet) Attach(pools Pools, onConfig func()) {
	f.mu.Lock()
	f.pools, f.onConfig = pools, onConfig
	f.mu.Unlock()
	f.wg.Add(1)
	go func() { defer f.wg.Done(); f.loop() }()
}

// SetConfig applies a reloaded [cluster] table: the fleet cap and the floor change at once;
// the other keys need a restart.
func (f *Fleet) SetConfig(cc config.ClusterConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.cfg
	f.cfg.MaxConnections, f.cfg.Floor = cc.MaxConnections, cc.Floor
	cc.MaxConnections, cc.Floor = old.MaxConnections, old.Floor
	if fmt.Sprint(cc) != fmt.Sprint(old) {
		f.log.Warn("fleet: [cluster] changes other than max_connections and floor take effect at restart")
	}
}

func (f *Fleet) loop() {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	var cfgGen uint64
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
		case <-f.mir.changed:
			sleep(f.ctx, minTick) // let a burst of events land
		}
		if gen := f.mir.configGen(); gen != cfgGen {
			cfgGen = gen
			f.mu.Lock()
			fn := f.onConfig
			f.mu.Unlock()
			if fn != nil && gen > 1 { // the first read is applied at start
				fn()
			}
		}
		f.tick(time.Now())
	}
}

// Leave gives the grants back and leaves the fleet: call it once the proxy has closed its
// pools. Shares of pools still holding connections stay in the table (they become a departed
// instance's, see reclaim).
func (f *Fleet) Leave(ctx context.Context) {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	held := map[string]int{}
	for addr, s := range f.shares {
		for _, p := range s.pools {
			held[addr] += p.Held()
		}
	}
	f.mu.Unlock()
	for attempt := 0; f.sess.status().registered && attempt < 5 && ctx.Err() == nil; attempt++ {
		if err := f.giveBack(ctx, held); err == nil || !errors.Is(err, errConflict) {
			break
		}
	}
	f.sess.leave(ctx)
	_ = f.cli.Close()
}

// Close stops without giving anything back (tests, and a proxy that failed to start).
func (f *Fleet) Close() {
	f.cancel()
	f.wg.Wait()
	_ = f.cli.Close()
}

// giveBack removes this instance's entries of backends it holds nothing of.
func (f *Fleet) giveBack(ctx context.Context, held map[string]int) error {
	rctx, cancel := context.WithTimeout(ctx, f.cfg.DialTimeout.Duration)
	defer cancel()
	resp, err := f.cli.Get(rctx, f.keys.grants())
	if err != nil || len(resp.Kvs) == 0 {
		return err
	}
	t, err := decodeTable(resp.Kvs[0].Value)
	if err != nil {
		return err
	}
	for b := range t {
		if held[b] == 0 {
			t.set(b, f.id, entry{})
		}
	}
	return f.writeTable(rctx, t, resp.Kvs[0].ModRevision, 0, nil)
}
