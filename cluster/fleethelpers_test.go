package cluster_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/mysqlmux/mysqlmux/cluster"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/etcdtest"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// db is the MariaDB every fleet test shares.
var db *mariadbtest.Server

func TestMain(m *testing.M) {
	os.Exit(mariadbtest.Main(m, mariadbtest.Options{MaxConnections: 100}, &db))
}

// member is one proxy of a test fleet, run in-process as cmd/mysqlmux runs it.
type member struct {
	id    string
	in    *proxy.Instance
	fleet *cluster.Fleet
	cfg   *config.Config // the file's configuration (before the fleet's shared keys)
	down  atomic.Bool
}

// fleetOpts are the [cluster] settings of a test fleet; fast timings unless set.
type fleetOpts struct {
	endpoint              string
	name                  string
	cap, floor, localCap  int
	leaseTTL, offlineHold time.Duration
}

func (o fleetOpts) cluster() config.ClusterConfig {
	cc := config.DefaultCluster()
	cc.Endpoints, cc.Name, cc.MaxConnections, cc.Floor = []string{o.endpoint}, o.name, o.cap, o.floor
	cc.LeaseTTL.Duration, cc.OfflineHold.Duration = o.leaseTTL, o.offlineHold
	cc.ForgetAfter.Duration = 0
	cc.DialTimeout.Duration = time.Second
	return cc
}

func testLog() *slog.Logger {
	var out io.Writer = io.Discard
	if os.Getenv("MYSQLMUX_TEST_LOG") == "1" {
		out = os.Stderr
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startMember starts a proxy in the fleet with instance id, as cmd/mysqlmux does: join, start
// with the pools capped by the grants, attach (a change of the shared configuration reloads).
func startMember(t *testing.T, o fleetOpts, id string) *member {
	t.Helper()
	cfg := proxytest.Config(db, o.localCap)
	cfg.Pool.AcquireTimeout.Duration = 30 * time.Second
	cc := o.cluster()
	cc.Instance = id
	cfg.Cluster = &cc
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := testLog().With("proxy", id)
	fleet, err := cluster.New(cc, cfg.Proxy.Listen, log)
	if err != nil {
		t.Fatal(err)
	}
	run := cfg
	if fleet.Synced(5 * time.Second) {
		if run, err = fleet.Overlay(cfg); err != nil {
			t.Fatal(err)
		}
	}
	in, err := proxy.StartLimited(run, log, fleet)
	if err != nil {
		fleet.Close()
		t.Fatal(err)
	}
	m := &member{id: id, in: in, fleet: fleet, cfg: cfg}
	fleet.Attach(in.PoolsByAddress, func() {
		ncfg, err := fleet.Overlay(m.cfg)
		if err == nil {
			err = in.Reload(ncfg)
		}
		if err != nil {
			t.Errorf("%s: reload: %v", id, err)
		}
	})
	t.Cleanup(func() { m.stop(t, true) })
	return m
}

// stop shuts the proxy down; with leave, it gives its grants back as a clean shutdown does,
// without, it vanishes as a killed process would (its lease expires on its own).
func (m *member) stop(t *testing.T, leave bool) {
	if !m.down.CompareAndSwap(false, true) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.in.Shutdown(ctx); err != nil {
		t.Errorf("%s: shutdown: %v", m.id, err)
	}
	if leave {
		m.fleet.Leave(ctx)
	} else {
		m.fleet.Close()
	}
}

// held is what the member's pool of the test backend holds (open, dialling, closing).
func (m *member) held() int {
	if m.down.Load() {
		return 0
	}
	if p := m.in.PoolsByAddress()[db.Addr]; p != nil {
		return p.Held()
	}
	return 0
}

// share returns the member's grant, pool limit and state.
func (m *member) share() (grant, limit int, state string) {
	st := m.fleet.Status()
	for _, b := range st.Backends {
		if b.Backend == db.Addr {
			return b.Grant, b.Limit, st.State
		}
	}
	return 0, 0, st.State
}

// sampler reads, every 10 ms until stopped, the grant table in etcd and what the members hold,
// and keeps the largest sums seen.
type sampler struct {
	maxGranted, maxHeld atomic.Int64
	samples, tableReads atomic.Int64 // looks, and those that read the grant table
	stop                chan struct{}
	done                sync.WaitGroup
}

func startSampler(t *testing.T, cli *clientv3.Client, fleet string, members func() []*member) *sampler {
	s := &sampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			held := 0
			for _, m := range members() {
				held += m.held()
			}
			s.maxHeld.Store(max(s.maxHeld.Load(), int64(held)))
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			resp, err := cli.Get(ctx, "/mysqlmux/"+fleet+"/grants")
			cancel()
			if err == nil && len(resp.Kvs) == 1 {
				var tbl map[string]map[string]struct{ Grant int }
				if err := json.Unmarshal(resp.Kvs[0].Value, &tbl); err != nil {
					t.Errorf("grant table: %v", err)
					return
				}
				sum := 0
				for _, e := range tbl[db.Addr] {
					sum += e.Grant
				}
				s.maxGranted.Store(max(s.maxGranted.Load(), int64(sum)))
				s.tableReads.Add(1)
			}
			s.samples.Add(1)
		}
	}()
	t.Cleanup(s.finish)
	return s
}

func (s *sampler) finish() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.done.Wait()
}

// check fails the test if the sums ever exceeded the fleet cap.
func (s *sampler) check(t *testing.T, fleetCap int) {
	t.Helper()
	s.finish()
	t.Logf("%d samples (%d read the grant table): at most %d granted, %d held (fleet cap %d)", s.samples.Load(),
		s.tableReads.Load(), s.maxGranted.Load(), s.maxHeld.Load(), fleetCap)
	if s.tableReads.Load() == 0 {
		t.Errorf("the sampler never read the grant table")
	}
	if g, h := s.maxGranted.Load(), s.maxHeld.Load(); g > int64(fleetCap) || h > int64(fleetCap) {
		t.Errorf("the fleet exceeded its cap %d: granted up to %d, held up to %d", fleetCap, g, h)
	}
}

// load runs n clients against addr, each looping a short statement, until stop is closed.
func load(t *testing.T, addr string, n int) (stop func()) {
	t.Helper()
	pool, err := sql.Open("mysql", proxytest.DSN(addr, mariadbtest.AppUser, mariadbtest.AppPassword, "test"))
	if err != nil {
		t.Fatal(err)
	}
	pool.SetMaxOpenConns(n)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				if _, err := pool.Exec("DO SLEEP(0.02)"); err != nil && failed.Add(1) == 1 {
					t.Errorf("client of %s: %v", addr, err)
				}
			}
		}()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
			pool.Close()
		})
	}
	t.Cleanup(stop) // before the proxies stop, on failure
	return stop
}

// waitFor polls cond (generously: a loaded 2-core machine) and returns how long it took.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("after %v: not yet %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// heldFor is cond, true only once it has been true on every poll for d.
func heldFor(d time.Duration, cond func() bool) func() bool {
	var since time.Time
	return func() bool {
		if !cond() {
			since = time.Time{}
			return false
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) >= d
	}
}

func describe(ms ...*member) string {
	s := ""
	for _, m := range ms {
		g, l, st := m.share()
		s += fmt.Sprintf(" %s: grant %d limit %d held %d %s;", m.id, g, l, m.held(), st)
	}
	return s
}

func newEtcd(t *testing.T) (*etcdtest.Server, *clientv3.Client) {
	mariadbtest.Need(t, db)
	e := etcdtest.StartTB(t, etcdtest.Options{})
	return e, e.Client(t)
}

// cutter forwards TCP connections to a target until cut: then it closes them and refuses new
// ones, as a network partition between one proxy and etcd would; restore serves again.
type cutter struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newCutter(t *testing.T, target string) *cutter {
	c := &cutter{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	c.serve(ln)
	t.Cleanup(c.cut)
	return c
}

func (c *cutter) serve(ln net.Listener) {
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", c.target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns[in], c.conns[out] = true, true
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for conn := range c.conns {
		conn.Close()
	}
	clear(c.conns)
}

func (c *cutter) restore(t *testing.T) {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.serve(ln)
}
