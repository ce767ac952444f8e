//go:build load

package loadtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/etcdtest"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// The fleet issue's run: one MariaDB with max_connections=60, three proxies (processes) with a
// cap of 24 each, clients spread over them. Alone, the proxies together ask for 72 connections:
// the server refuses some with ERROR 1040. In a fleet with a budget of 48 it never sees more
// than 48 (plus the sampler): Threads_connected, sampled every 100 ms, stays at or below 50.
const (
	fleetServerMax = 60
	fleetProxyCap  = 24
	fleetCap       = 48
	fleetFloor     = 2
	fleetClients   = 3000
)

// fleetProxy starts a proxy process in front of srv; with etcd set, in the fleet "load" as id.
func fleetProxy(t *testing.T, srv *mariadbtest.Server, etcd *etcdtest.Server, id string) *proxyProc {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cluster := ""
	if etcd != nil {
		cluster = fmt.Sprintf(`[cluster]
endpoints = [%q]
name = "load"
max_connections = %d
instance = %q
floor = %d
lease_ttl = "4s"
offline_hold = "3s"
`, etcd.Endpoint, fleetCap, id, fleetFloor)
	}
	return startProxyTOML(t, addr, fmt.Sprintf(`[proxy]
listen = %q
max_client_connections = 10000
[pool]
max_connections = %d
acquire_timeout = "120s"
[[backends]]
address = %q
[[users]]
name = "app"
password = "secret"
%s`, addr, fleetProxyCap, srv.Addr, cluster))
}

// threadsSampler samples Threads_connected every 100 ms (through root, opened before the load)
// until stopped, and keeps the peak.
func threadsSampler(t *testing.T, root *sql.DB) (stop func() int) {
	var peak atomic.Int64
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			var name string
			var n int64
			if err := root.QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err == nil {
				peak.Store(max(peak.Load(), n))
			}
		}
	}()
	return func() int {
		close(quit)
		<-done
		return int(peak.Load())
	}
}

// spreadClients opens n client connections dealt round robin over addrs, holds them all, then
// has each run five short statements; it returns the errors by MySQL code (0: not a MySQL error).
func spreadClients(t *testing.T, addrs []string, n int) (ok int64, errs map[uint16]int64) {
	t.Helper()
	var pools []*sql.DB
	for _, a := range addrs {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "app", "secret", "tcp", a, "test"
		cfg.Timeout = 60 * time.Second
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := sql.OpenDB(c)
		p.SetMaxOpenConns(n)
		p.SetMaxIdleConns(n)
		defer p.Close()
		pools = append(pools, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var mu sync.Mutex
	errs = map[uint16]int64{}
	var okN atomic.Int64
	fail := func(err error) {
		code := uint16(0)
		if me, isMy := err.(*mysql.MySQLError); isMy {
			code = me.Number
		}
		mu.Lock()
		if errs[code] == 0 {
			t.Logf("first error of code %d: %v", code, err)
		}
		errs[code]++
		mu.Unlock()
	}
	var connected, done sync.WaitGroup
	start := make(chan struct{})
	slots := make(chan struct{}, 128) // no listen-backlog overflow
	for i := 0; i < n; i++ {
		connected.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			slots <- struct{}{}
			conn, err := pools[i%len(pools)].Conn(ctx)
			if err == nil {
				err = conn.PingContext(ctx)
			}
			<-slots
			connected.Done()
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close()
			<-start
			for j := 0; j < 5; j++ {
				if _, err := conn.ExecContext(ctx, "DO SLEEP(0.01)"); err != nil {
					fail(err)
					return
				}
			}
			okN.Add(1)
		}()
	}
	connected.Wait()
	close(start)
	done.Wait()
	return okN.Load(), errs
}

func fleetServer(t *testing.T) (*mariadbtest.Server, *sql.DB) {
	srv := mariadbtest.StartTB(t, mariadbtest.Options{MaxConnections: fleetServerMax})
	root, err := srv.Root()
	if err != nil {
		t.Fatal(err)
	}
	root.SetMaxOpenConns(1)
	if err := root.Ping(); err != nil { // held from now on: a root connection gets in when the server is full
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return srv, root
}

// Three proxies alone: together they want 72 connections of a server that has 60, and the
// server answers ERROR 1040. The same three in a fleet of 48: no 1040, no client error,
// Threads_connected never above 50.
func TestFleetEndsTooManyConnections(t *testing.T) {
	// run spreads the clients over three proxies (in a fleet when etcd is set) in front of a
	// fresh server: clients done, their errors, Threads_connected's peak, the server's 1040s.
	run := func(t *testing.T, fleet bool) (ok int64, errs map[uint16]int64, peak, refused int) {
		srv, root := fleetServer(t)
		var etcd *etcdtest.Server
		if fleet {
			etcd = etcdtest.StartTB(t, etcdtest.Options{})
		}
		var addrs []string
		for _, id := range []string{"p1", "p2", "p3"} {
			addrs = append(addrs, fleetProxy(t, srv, etcd, id).addr)
		}
		before := globalStatus(t, root, "Connection_errors_max_connections")
		sample := threadsSampler(t, root)
		ok, errs = spreadClients(t, addrs, fleetClients)
		peak = sample()
		refused = globalStatus(t, root, "Connection_errors_max_connections") - before
		t.Logf("%d of %d clients done, errors %v; Threads_connected peak %d; the server refused %d connections (ERROR 1040)",
			ok, fleetClients, errs, peak, refused)
		return ok, errs, peak, refused
	}
	t.Run("alone", func(t *testing.T) {
		if _, _, _, refused := run(t, false); refused == 0 {
			t.Errorf("three proxies of cap %d in front of max_connections=%d: the server never refused one", fleetProxyCap, fleetServerMax)
		}
	})
	t.Run("fleet", func(t *testing.T) {
		ok, errs, peak, refused := run(t, true)
		if ok != fleetClients || len(errs) > 0 || refused > 0 {
			t.Errorf("in a fleet: %d of %d clients done, errors %v, %d refused by the server", ok, fleetClients, errs, refused)
		}
		if peak > fleetCap+2 {
			t.Errorf("Threads_connected reached %d, above the fleet cap %d + 2", peak, fleetCap)
		}
	})
}

// A proxy killed (SIGKILL): within the lease TTL the other two use its share; started again,
// the shares rebalance; the grants in etcd, sampled throughout, never add up to more than 48.
func TestFleetProxyKilled(t *testing.T) {
	srv, root := fleetServer(t)
	etcd := etcdtest.StartTB(t, etcdtest.Options{})
	cli := etcd.Client(t)
	ps := []*proxyProc{fleetProxy(t, srv, etcd, "p1"), fleetProxy(t, srv, etcd, "p2"), fleetProxy(t, srv, etcd, "p3")}
	grants := func() map[string]int {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := cli.Get(ctx, "/mysqlmux/load/grants")
		if err != nil || len(resp.Kvs) == 0 {
			return nil
		}
		var tbl map[string]map[string]struct{ Grant int }
		if err := json.Unmarshal(resp.Kvs[0].Value, &tbl); err != nil {
			t.Errorf("grant table: %v", err)
		}
		out := map[string]int{}
		for id, e := range tbl[srv.Addr] {
			out[id] = e.Grant
		}
		return out
	}
	var peakGranted atomic.Int64
	quit := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Add(1)
	go func() {
		defer sampling.Done()
		for {
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			sum := 0
			for _, g := range grants() {
				sum += g
			}
			peakGranted.Store(max(peakGranted.Load(), int64(sum)))
		}
	}()
	sample := threadsSampler(t, root)
	loads := make([]func(), 3)
	for i, p := range ps {
		loads[i] = clientLoop(t, p.addr, 60)
	}
	waitUntil(t, "three loaded proxies at 16 each", func() bool {
		g := grants()
		return g["p1"] == 16 && g["p2"] == 16 && g["p3"] == 16
	})
	loads[2]()
	_ = ps[2].cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	waitUntil(t, "p1 and p2 using p3's share but its floor", func() bool {
		g := grants()
		return g["p1"]+g["p2"] == fleetCap-fleetFloor
	})
	t.Logf("p3 killed: p1 and p2 hold %d after %v (lease TTL 4s)", fleetCap-fleetFloor, time.Since(killed).Round(time.Millisecond))
	ps[2].stopOnce.Do(func() { _ = ps[2].cmd.Wait() })
	p3 := fleetProxy(t, srv, etcd, "p3")
	loads[2] = clientLoop(t, p3.addr, 60)
	restarted := time.Now()
	waitUntil(t, "shares rebalanced", func() bool {
		g := grants()
		return g["p1"] == 16 && g["p2"] == 16 && g["p3"] == 16
	})
	t.Logf("p3 started again: rebalanced after %v", time.Since(restarted).Round(time.Millisecond))
	for _, stop := range loads {
		stop()
	}
	close(quit)
	sampling.Wait()
	peak := sample()
	t.Logf("granted at most %d, Threads_connected at most %d", peakGranted.Load(), peak)
	if peakGranted.Load() > fleetCap || peak > fleetCap+2 {
		t.Errorf("the fleet went past its cap %d: granted %d, Threads_connected %d", fleetCap, peakGranted.Load(), peak)
	}
}

// clientLoop runs n clients looping a short statement on addr until the returned stop.
func clientLoop(t *testing.T, addr string, n int) (stop func()) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "app", "secret", "tcp", addr, "test"
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := sql.OpenDB(c)
	p.SetMaxOpenConns(n)
	quit := make(chan struct{})
	var wg sync.WaitGroup
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
				_, _ = p.Exec("DO SLEEP(0.01)") // errors: the proxy was killed under it
			}
		}()
	}
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); wg.Wait(); p.Close() }) }
	t.Cleanup(stop)
	return stop
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: not yet %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
