package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// KILL names the proxy's connection ids: KILL QUERY stops that client's statement (not whatever
// runs on a server thread with that number), KILL CONNECTION closes that client.
func TestKillByProxyConnectionID(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 3))
	p := proxyClient(t, in, "test")
	a, b, bystander := holdConn(t, p), holdConn(t, p), holdConn(t, p)
	mustWork(t, "a", a)
	ids := func() map[uint32]string {
		m := map[uint32]string{}
		for _, s := range in.Router().Sessions() {
			m[s.ID] = s.State
		}
		return m
	}

	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		var v int
		_ = a.QueryRowContext(context.Background(), "SELECT SLEEP(10)").Scan(&v)
		done <- time.Since(start)
	}()
	var aID uint32
	if !waitUntil(func() bool {
		for id, st := range ids() {
			if st == "active" {
				aID = id
				return true
			}
		}
		return false
	}) {
		t.Fatal("client A's statement never showed as active")
	}
	mustExec(t, b, fmt.Sprintf("KILL QUERY %d", aID))
	select {
	case d := <-done:
		if d > 5*time.Second {
			t.Fatalf("the killed statement ran %v", d)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("KILL QUERY did not stop client A's statement")
	}
	mustWork(t, "a after KILL QUERY", a)
	mustWork(t, "the bystander", bystander)

	_, err := b.ExecContext(context.Background(), "KILL 4000000000")
	wantServerError(t, "KILL of an unknown id", err, 1094, "HY000")

	mustExec(t, b, fmt.Sprintf("KILL CONNECTION %d", aID))
	var v int
	if err := a.QueryRowContext(context.Background(), "SELECT 1").Scan(&v); err == nil {
		t.Fatal("client A still works after KILL CONNECTION")
	}
	mustWork(t, "the bystander after KILL CONNECTION", bystander)
}
