package admin

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// newClientID returns the SHOW CLIENTS id of the client connected last: the one not in known.
func newClientID(t *testing.T, adm queryer, known map[string]bool) string {
	t.Helper()
	for _, r := range rowsOf(t, adm, "SHOW CLIENTS") {
		if !known[r["id"]] {
			known[r["id"]] = true
			return r["id"]
		}
	}
	t.Fatal("no new client in SHOW CLIENTS")
	return ""
}

// KILL IDLE CLIENTS OLDER THAN 2 closes the clients idle that long, and leaves alone a client
// idle inside a transaction and a client whose statement is running; FORCE closes the first.
func TestKillIdleClients(t *testing.T) {
	f := setup(t, nil)
	adm := f.admin(t)
	known := map[string]bool{}
	idle1 := f.client(t)
	mustExec(t, idle1, "SELECT 1")
	id1 := newClientID(t, adm, known)
	idle2 := f.client(t)
	id2 := newClientID(t, adm, known)
	txn := f.client(t)
	mustExec(t, txn, "BEGIN")
	mustExec(t, txn, "SELECT 1")
	idTxn := newClientID(t, adm, known)
	busy := f.client(t)
	idBusy := newClientID(t, adm, known)

	clients := func() map[string]map[string]string {
		m := map[string]map[string]string{}
		for _, r := range rowsOf(t, adm, "SHOW CLIENTS") {
			m[r["id"]] = r
		}
		return m
	}
	// The busy client's statement runs across the KILL: it starts once the others have idled
	// a second and outlasts the wait for two.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs := clients()
		if secs, _ := strconv.Atoi(cs[idTxn]["idle_seconds"]); secs >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients never idle: %v", cs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	busyDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := busy.ExecContext(ctx, "SELECT SLEEP(3)")
		busyDone <- err
	}()
	eventually(t, "idle clients at 2 s, the busy one active", func() (bool, string) {
		cs := clients()
		ok := cs[idBusy]["state"] == "active"
		for _, id := range []string{id1, id2, idTxn} {
			secs, _ := strconv.Atoi(cs[id]["idle_seconds"])
			ok = ok && secs >= 2
		}
		return ok, fmt.Sprint(cs)
	})

	res := map[string]map[string]string{}
	for _, r := range rowsOf(t, adm, "KILL IDLE CLIENTS OLDER THAN 2") {
		res[r["id"]] = r
	}
	if res[id1]["action"] != "killed" || res[id2]["action"] != "killed" {
		t.Errorf("idle clients not killed: %v", res)
	}
	if r := res[idTxn]; r["action"] == "killed" || r["pinned_reason"] != "transaction" {
		t.Errorf("client in a transaction: %v", r)
	}
	if _, ok := res[idBusy]; ok {
		t.Errorf("busy client listed as idle: %v", res[idBusy])
	}
	for name, c := range map[string]queryer{"idle1": idle1, "idle2": idle2} {
		if _, err := tryRows(c, "SELECT 1"); err == nil {
			t.Errorf("%s still works after KILL IDLE", name)
		}
	}
	if err := <-busyDone; err != nil {
		t.Errorf("busy client's statement: %v", err)
	}
	mustExec(t, txn, "SELECT 2")
	if rows := rowsOf(t, adm, "KILL IDLE CLIENTS OLDER THAN 100"); len(rows) != 0 {
		t.Errorf("nothing idle 100 s, yet: %v", rows)
	}

	eventually(t, "the transaction idle 1 s", func() (bool, string) {
		secs, _ := strconv.Atoi(clients()[idTxn]["idle_seconds"])
		return secs >= 1, strconv.Itoa(secs)
	})
	res = map[string]map[string]string{}
	for _, r := range rowsOf(t, adm, "KILL IDLE CLIENTS OLDER THAN 1 FORCE") {
		res[r["id"]] = r
	}
	if res[idTxn]["action"] != "killed" {
		t.Errorf("FORCE: %v", res)
	}
	if _, err := tryRows(txn, "SELECT 1"); err == nil {
		t.Error("client in a transaction still works after KILL IDLE ... FORCE")
	}
	for _, q := range []string{"KILL IDLE CLIENTS OLDER THAN", "KILL IDLE CLIENTS OLDER THAN x", "KILL IDLE CLIENTS OLDER THAN -1"} {
		if _, err := tryRows(adm, q); err == nil {
			t.Errorf("%q succeeded", q)
		}
	}
}
