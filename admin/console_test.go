package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
)

func TestPoolsClientsStatsDuringTransaction(t *testing.T) {
	f := setup(t, nil)
	adm := f.admin(t)
	c := f.client(t)
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "SELECT 1")

	pools := rowsOf(t, adm, "SHOW POOLS")
	if len(pools) != 1 {
		t.Fatalf("SHOW POOLS: %v", pools)
	}
	p := pools[0]
	if p["backend"] != db.Addr || p["max_connections"] != "3" || p["in_use"] != "1" || p["open"] == "0" {
		t.Errorf("SHOW POOLS during a transaction: %v (want backend %s, cap 3, in_use 1)", p, db.Addr)
	}
	for _, col := range []string{"idle", "waiting", "wait_count", "wait_time_ms", "timeouts", "dials", "dial_errors", "closed"} {
		if _, ok := p[col]; !ok {
			t.Errorf("SHOW POOLS lacks column %s", col)
		}
	}

	clients := func() []map[string]string { return rowsOf(t, adm, "SHOW CLIENTS") }
	eventually(t, "SHOW CLIENTS pinned by the transaction", func() (bool, string) {
		cs := clients()
		return len(cs) == 1 && cs[0]["pinned_reason"] == "transaction", fmt.Sprint(cs)
	})
	cl := clients()[0]
	if cl["user"] != "app" || cl["database"] != "test" || cl["backend"] != db.Addr || !strings.HasPrefix(cl["address"], "127.0.0.1:") {
		t.Errorf("SHOW CLIENTS row: %v", cl)
	}
	st := stats(t, adm)
	if st["clients"] != "1" || st["pinned_clients"] != "1" || st["pinned_transaction"] != "1" || st["borrows"] == "0" {
		t.Errorf("SHOW STATS during a transaction: %v", st)
	}

	mustExec(t, c, "COMMIT")
	eventually(t, "pin ends with COMMIT", func() (bool, string) {
		cs := clients()
		return len(cs) == 1 && cs[0]["pinned_reason"] == "", fmt.Sprint(cs)
	})
	eventually(t, "connection back in the pool", func() (bool, string) {
		p := rowsOf(t, adm, "SHOW POOLS")[0]
		return p["in_use"] == "0" && p["idle"] != "0", fmt.Sprint(p)
	})

	before := stats(t, adm)
	for range 5 {
		mustExec(t, c, "SELECT 1")
	}
	after := stats(t, adm)
	if d := atoi(after["queries"]) - atoi(before["queries"]); d != 5 {
		t.Errorf("queries went from %s to %s; want +5", before["queries"], after["queries"])
	}
	if after["pinned_clients"] != "0" {
		t.Errorf("pinned_clients after COMMIT: %s", after["pinned_clients"])
	}

	// The same statement prepared twice: one miss (sent to the backend), then a hit.
	for range 2 {
		stmt, err := c.PrepareContext(context.Background(), "SELECT ? + 1")
		if err != nil {
			t.Fatal(err)
		}
		stmt.Close()
	}
	prepared := stats(t, adm)
	if atoi(prepared["stmt_cache_misses"])-atoi(after["stmt_cache_misses"]) != 1 ||
		atoi(prepared["stmt_cache_hits"])-atoi(after["stmt_cache_hits"]) != 1 || prepared["stmt_cache_entries"] == "0" {
		t.Errorf("statement cache after two PREPAREs of one text: %v", prepared)
	}

	backends := rowsOf(t, adm, "SHOW BACKENDS")
	if len(backends) != 1 || backends[0]["backend"] != db.Addr || backends[0]["status"] != "up" || backends[0]["max_connections"] != "3" {
		t.Errorf("SHOW BACKENDS: %v", backends)
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func TestKillClient(t *testing.T) {
	f := setup(t, nil)
	adm := f.admin(t)
	c := f.client(t)
	cs := rowsOf(t, adm, "SHOW CLIENTS")
	if len(cs) != 1 {
		t.Fatalf("SHOW CLIENTS: %v", cs)
	}
	mustExec(t, adm, "KILL CLIENT "+cs[0]["id"])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.PingContext(ctx); err == nil {
		t.Error("the killed client's connection still answers")
	}
	eventually(t, "killed client gone from SHOW CLIENTS", func() (bool, string) {
		cs := rowsOf(t, adm, "SHOW CLIENTS")
		return len(cs) == 0, fmt.Sprint(cs)
	})
	_, err := adm.Exec("KILL CLIENT 4000000000")
	if code, _ := mysqlErr(err); code != 1094 {
		t.Errorf("KILL CLIENT of no client: %v, want ERROR 1094", err)
	}
	_, err = adm.Exec("kill client abc")
	if code, _ := mysqlErr(err); code != 1064 {
		t.Errorf("KILL CLIENT abc: %v, want ERROR 1064", err)
	}
}

func TestPauseResume(t *testing.T) {
	f := setup(t, nil)
	adm := f.admin(t)
	c := f.client(t)
	mustExec(t, adm, "PAUSE")
	if st := stats(t, adm); st["paused"] != "1" {
		t.Errorf("paused after PAUSE: %s", st["paused"])
	}
	done := make(chan error, 1)
	go func() {
		var one int
		done <- c.QueryRowContext(context.Background(), "SELECT 1").Scan(&one)
	}()
	select {
	case err := <-done:
		t.Fatalf("a statement ran during PAUSE (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	mustExec(t, adm, "RESUME")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("statement after RESUME: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("statement still waiting 5 s after RESUME")
	}

	// A transaction holds its connection: PAUSE cannot drain it and says so, but stays in effect.
	f.adm.pauseWait = 200 * time.Millisecond
	mustExec(t, c, "BEGIN")
	_, err := adm.Exec("PAUSE")
	if code, msg := mysqlErr(err); code != 1105 || !strings.Contains(msg, "still in use") {
		t.Errorf("PAUSE with a transaction open: %v, want ERROR 1105 naming the connections in use", err)
	}
	if !f.in.Router().Paused() {
		t.Error("PAUSE that timed out should stay in effect")
	}
	mustExec(t, adm, "RESUME")
	mustExec(t, c, "COMMIT")
}

func TestReload(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	var f *fixture
	f = setup(t, func() error {
		calls.Add(1)
		if fail.Load() {
			return &config.Error{Key: "pool.max_connections", Msg: "must be at least 1, got 0"}
		}
		ncfg := *f.cfg
		ncfg.Pool.MaxConnections = 5
		return f.in.Reload(&ncfg)
	})
	adm := f.admin(t)
	mustExec(t, adm, "RELOAD")
	if p := rowsOf(t, adm, "SHOW POOLS")[0]; p["max_connections"] != "5" {
		t.Errorf("cap after RELOAD: %s, want 5", p["max_connections"])
	}
	fail.Store(true)
	_, err := adm.Exec("reload;")
	if code, msg := mysqlErr(err); code != 1105 || !strings.Contains(msg, "pool.max_connections") {
		t.Errorf("failed RELOAD: %v, want ERROR 1105 naming the key", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("reload callback ran %d times, want 2", n)
	}
}

func TestReloadUnavailable(t *testing.T) {
	f := setup(t, nil)
	_, err := f.admin(t).Exec("RELOAD")
	if code, _ := mysqlErr(err); code != 1105 {
		t.Errorf("RELOAD without a callback: %v, want ERROR 1105", err)
	}
}

func TestShowConfig(t *testing.T) {
	f := setup(t, nil)
	got := map[string]string{}
	for _, r := range rowsOf(t, f.admin(t), "SHOW CONFIG") {
		got[r["key"]] = r["value"]
		if v := r["value"]; v == "secret" || v == "secret2" || v == adminPassword {
			t.Errorf("SHOW CONFIG shows a password: %s = %s", r["key"], v)
		}
	}
	want := map[string]string{
		"pool.max_connections": "3", "pool.acquire_timeout": "10s", "backends[0].address": db.Addr,
		"users[0].name": "app", "users[0].password": "****", "admin.user": adminUser,
		"admin.password": "****", "proxy.listen": "127.0.0.1:0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("SHOW CONFIG %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestCloseEndsPause(t *testing.T) {
	f := setup(t, nil)
	f.adm.pauseWait = time.Minute
	c := f.client(t)
	mustExec(t, c, "BEGIN")
	adm := f.admin(t)
	errc := make(chan error, 1)
	go func() { _, err := adm.Exec("PAUSE"); errc <- err }()
	eventually(t, "PAUSE in effect", func() (bool, string) { return f.in.Router().Paused(), "not paused" })
	closed := make(chan struct{})
	go func() { f.adm.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a waiting PAUSE")
	}
	if err := <-errc; err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PAUSE cut off by Close: %v", err)
	}
	f.in.Router().Resume()
	mustExec(t, c, "COMMIT")
}
