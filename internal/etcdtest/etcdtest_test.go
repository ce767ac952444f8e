package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A server serves, keeps its data across Stop and Restart on the same endpoint, and a lease
// granted before the stop survives it (etcd extends leases when a leader takes over).
func TestStartStopRestart(t *testing.T) {
	s := StartTB(t, Options{})
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lease, err := c.Grant(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "k", "v", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if s.PID() != 0 {
		t.Fatal("stopped server has a pid")
	}
	time.Sleep(4 * time.Second) // longer than the lease's TTL, with nobody to expire it
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("after restart: %v", resp.Kvs)
	}
}

// With TLS, clients that trust the test authority get in over https.
func TestTLS(t *testing.T) {
	s := StartTB(t, Options{TLS: true})
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
}
