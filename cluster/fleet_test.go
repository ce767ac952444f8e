package cluster_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/cluster"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// Idle, the fleet shares the budget alike; demand moves the grants: clients moved from A to B,
// B's grant grows and A's shrinks; the grants in etcd and the connections the proxies hold,
// sampled every 10 ms throughout, never add up to more than the fleet cap.
func TestFleetDemandMoves(t *testing.T) {
	e, cli := newEtcd(t)
	o := fleetOpts{endpoint: e.Endpoint, name: "demand", cap: 12, floor: 1, localCap: 10, leaseTTL: 4 * time.Second, offlineHold: 2 * time.Second}
	a, b, c := startMember(t, o, "a"), startMember(t, o, "b"), startMember(t, o, "c")
	ms := []*member{a, b, c}
	s := startSampler(t, cli, o.name, func() []*member { return ms })
	waitFor(t, "an idle fleet sharing alike (4 each)", 20*time.Second, func() bool {
		for _, m := range ms {
			if g, l, _ := m.share(); g != 4 || l != 4 {
				return false
			}
		}
		return true
	})

	stopA := load(t, a.in.Addr(), 30)
	took := waitFor(t, "A's grant grown to its cap", 20*time.Second, func() bool { g, l, _ := a.share(); return g == 10 && l == 10 })
	t.Logf("A under load: grant 10 after %v;%s", took, describe(ms...))
	stopA()
	stopB := load(t, b.in.Addr(), 30)
	took = waitFor(t, "B's grant grown and A's shrunk", 20*time.Second, func() bool {
		ga, _, _ := a.share()
		gb, lb, _ := b.share()
		return gb == 10 && lb == 10 && ga <= 1
	})
	t.Logf("clients moved to B: B at 10, A at its floor after %v;%s", took, describe(ms...))
	stopB()
	s.check(t, o.cap)
}

// A proxy that vanishes (no leave: its lease expires) gives its share, all but its floor, to
// the others within the lease TTL; started again under the same id it takes its floor back and
// the shares rebalance; the sums never exceed the cap.
func TestFleetDeadInstance(t *testing.T) {
	e, cli := newEtcd(t)
	o := fleetOpts{endpoint: e.Endpoint, name: "dead", cap: 12, floor: 1, localCap: 10, leaseTTL: 3 * time.Second, offlineHold: 2 * time.Second}
	a, b, c := startMember(t, o, "a"), startMember(t, o, "b"), startMember(t, o, "c")
	var ms atomic.Pointer[[]*member]
	ms.Store(&[]*member{a, b, c})
	s := startSampler(t, cli, o.name, func() []*member { return *ms.Load() })
	stops := []func(){load(t, a.in.Addr(), 20), load(t, b.in.Addr(), 20), load(t, c.in.Addr(), 20)}
	waitFor(t, "three loaded proxies sharing alike", 20*time.Second, func() bool {
		ga, _, _ := a.share()
		gb, _, _ := b.share()
		gc, _, _ := c.share()
		return ga == 4 && gb == 4 && gc == 4
	})
	stops[2]()
	c.stop(t, false)
	killed := time.Now()
	waitFor(t, "A and B using C's share", 20*time.Second, func() bool {
		ga, _, _ := a.share()
		gb, _, _ := b.share()
		return ga+gb == o.cap-o.floor
	})
	t.Logf("C gone: A and B hold all but C's floor %v after it vanished (lease TTL %v);%s", time.Since(killed).Round(time.Millisecond), o.leaseTTL, describe(a, b))

	c2 := startMember(t, o, "c")
	ms.Store(&[]*member{a, b, c2})
	stops[2] = load(t, c2.in.Addr(), 20)
	took := waitFor(t, "C back with its share", 20*time.Second, func() bool {
		ga, _, _ := a.share()
		gb, _, _ := b.share()
		gc, _, _ := c2.share()
		return ga == 4 && gb == 4 && gc == 4
	})
	t.Logf("C started again: rebalanced after %v", took)
	for _, stop := range stops {
		stop()
	}
	s.check(t, o.cap)
}

// One proxy cut off from etcd (the others still reach it) keeps its grant until offline_hold,
// then lowers to its floor; the others take the rest of its share only after its lease expired.
// The connections held, sampled throughout, never exceed the cap. Reconnected, it rejoins.
func TestFleetPartitionedInstance(t *testing.T) {
	e, cli := newEtcd(t)
	// The cut is noticed when a renewal fails: up to a renewal interval (offline_hold/4) after
	// the last success, plus one more, plus its timeout (dial_timeout, 1 s). With offline_hold at
	// 2 s that is all of it, and C went from ok straight to its floor (a CI flake); at 4 s,
	// C is seen offline for a second at least.
	o := fleetOpts{endpoint: e.Endpoint, name: "cut", cap: 12, floor: 1, localCap: 10, leaseTTL: 6 * time.Second, offlineHold: 4 * time.Second}
	a, b := startMember(t, o, "a"), startMember(t, o, "b")
	link := newCutter(t, e.Endpoint)
	oc := o
	oc.endpoint = link.addr
	c := startMember(t, oc, "c")
	ms := []*member{a, b, c}
	s := startSampler(t, cli, o.name, func() []*member { return ms })
	stops := []func(){load(t, a.in.Addr(), 20), load(t, b.in.Addr(), 20), load(t, c.in.Addr(), 20)}
	// Steadily: a limit lowered for a moment (a member's demand not yet published as the load
	// starts) rises again only by a transaction on etcd, which C cut off cannot make.
	waitFor(t, "three loaded proxies sharing alike for a second", 20*time.Second, heldFor(time.Second, func() bool {
		ga, _, _ := a.share()
		gb, _, _ := b.share()
		gc, lc, _ := c.share()
		return ga == 4 && gb == 4 && gc == 4 && lc == 4
	}))
	link.cut()
	waitFor(t, "C offline, keeping its grant", 10*time.Second, func() bool { _, l, st := c.share(); return st == cluster.StateOffline && l == 4 })
	waitFor(t, "C down to its floor", 10*time.Second, func() bool { _, l, st := c.share(); return st == cluster.StateFloor && l == o.floor })
	waitFor(t, "A and B using C's share but its floor", 20*time.Second, func() bool {
		ga, _, _ := a.share()
		gb, _, _ := b.share()
		return ga+gb == o.cap-o.floor
	})
	t.Logf("partitioned:%s", describe(ms...))
	link.restore(t)
	took := waitFor(t, "C rejoined and rebalanced", 30*time.Second, func() bool {
		ga, _, _ := a.share()
		gb, _, _ := b.share()
		gc, lc, st := c.share()
		return st == cluster.StateOK && ga == 4 && gb == 4 && gc == 4 && lc == 4
	})
	t.Logf("reconnected: rebalanced after %v", took)
	for _, stop := range stops {
		stop()
	}
	s.check(t, o.cap)
}

// etcd stopped for 30 s (issue 11, must-show 4): every proxy keeps serving with its last grant,
// none grows (demand moves to A meanwhile); etcd back, coordination resumes and A's grant grows.
func TestFleetEtcdOutage(t *testing.T) {
	const outage = 30 * time.Second
	e, cli := newEtcd(t)
	o := fleetOpts{endpoint: e.Endpoint, name: "outage", cap: 12, floor: 1, localCap: 10, leaseTTL: outage + 10*time.Second, offlineHold: outage + 5*time.Second}
	a, b := startMember(t, o, "a"), startMember(t, o, "b")
	ms := []*member{a, b}
	waitFor(t, "an idle fleet sharing alike", 20*time.Second, func() bool {
		ga, la, _ := a.share()
		gb, lb, _ := b.share()
		return ga == 6 && gb == 6 && la == 6 && lb == 6
	})
	stopped := time.Now()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	stopA := load(t, a.in.Addr(), 20)
	waitFor(t, "both offline", 8*time.Second, func() bool {
		_, _, sa := a.share()
		_, _, sb := b.share()
		return sa == cluster.StateOffline && sb == cluster.StateOffline
	})
	// Within offline_hold of the last renewal, which came before the stop.
	for end := stopped.Add(outage); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if ga, la, sa := a.share(); la != 6 || sa != cluster.StateOffline {
			t.Fatalf("A without etcd: grant %d limit %d state %s, want limit 6 kept, offline", ga, la, sa)
		}
		if a.held() > 6 || b.held() > 6 {
			t.Fatalf("a proxy holds more than its last grant without etcd:%s", describe(ms...))
		}
	}
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	s := startSampler(t, cli, o.name, func() []*member { return ms })
	took := waitFor(t, "A's grant grown after etcd came back", 20*time.Second, func() bool { g, l, st := a.share(); return st == cluster.StateOK && g == 10 && l == 10 })
	t.Logf("etcd back: A at its cap after %v;%s", took, describe(ms...))
	waitFor(t, "the sampler reading the grant table again", 10*time.Second, func() bool { return s.tableReads.Load() > 10 })
	stopA()
	s.check(t, o.cap)
}

// A user added in etcd logs in on every proxy of the fleet, without a restart.
func TestFleetSharedUser(t *testing.T) {
	e, cli := newEtcd(t)
	o := fleetOpts{endpoint: e.Endpoint, name: "users", cap: 12, floor: 1, localCap: 10, leaseTTL: 4 * time.Second, offlineHold: 2 * time.Second}
	a, b := startMember(t, o, "a"), startMember(t, o, "b")
	if err := db.CreatePlainUser("bob", "bobpw"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "/mysqlmux/users/config/users/bob", `password = "bobpw"`); err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	for _, m := range []*member{a, b} {
		conn, err := sql.Open("mysql", proxytest.DSN(m.in.Addr(), "bob", "bobpw", "test"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		waitFor(t, "bob logging in on "+m.id, 10*time.Second, func() bool { return conn.Ping() == nil })
	}
	t.Logf("bob logs in on both proxies %v after the key was written", time.Since(added).Round(time.Millisecond))
}
