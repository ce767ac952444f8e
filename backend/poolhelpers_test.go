package backend

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/internal/testlog"
)

// Helpers of the pool tests that wait for the pool and stand in for a server with little room.

// poll waits (generously) until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// queueWaiters starts one Acquire per want, each queued before the next asks (then queued(i)
// runs, if set), and returns a function that waits for them all and returns their indexes in the
// order they were served. Each gives its connection back at once.
func queueWaiters(t *testing.T, p *Pool, wants []Want, queued func(i int)) (served func() []int) {
	t.Helper()
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	before := p.Stats().Waiting
	for i, w := range wants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Acquire(context.Background(), w)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			p.Release(c)
		}()
		poll(t, fmt.Sprintf("waiter %d queued", i), func() bool { return p.Stats().Waiting == before+i+1 })
		if queued != nil {
			queued(i)
		}
	}
	return func() []int {
		wg.Wait()
		return order
	}
}

// settled returns the pool's stats once no dial is in flight (a dial started for a waiter that
// gave up ends on its own).
func settled(t *testing.T, p *Pool) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := p.Stats()
		if st.Dialing == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("dials still in flight after 10 s: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roomDialer stands for a server that another application has nearly filled: it admits `room`
// more connections, then answers every dial with refusal (ERROR 1040 unless set otherwise).
type roomDialer struct {
	*fakeDialer
	mu      sync.Mutex
	room    int
	refusal error
	refused int
	users   map[string]error // per-user login errors, checked first
}

func newRoomDialer(t *testing.T, room int) *roomDialer {
	return &roomDialer{fakeDialer: &fakeDialer{addr: sink(t)}, room: room,
		refusal: fmt.Errorf("backend test: %w", &mysql.MyError{Code: mysql.ER_CON_COUNT_ERROR, Message: "Too many connections"})}
}

func (d *roomDialer) dial(ctx context.Context, key Key, db string) (*Conn, error) {
	d.mu.Lock()
	if err := d.users[key.User]; err != nil {
		d.mu.Unlock()
		d.fakeDialer.dials.Add(1)
		return nil, err
	}
	if d.room <= 0 {
		d.refused++
		d.mu.Unlock()
		d.fakeDialer.dials.Add(1)
		return nil, d.refusal
	}
	d.room--
	d.mu.Unlock()
	return d.fakeDialer.dial(ctx, key, db)
}

func (d *roomDialer) addRoom(n int) {
	d.mu.Lock()
	d.room += n
	d.mu.Unlock()
}

func (d *roomDialer) refusedDials() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refused
}

func (d *roomDialer) refuseUser(user string, err error) {
	d.mu.Lock()
	if d.users == nil {
		d.users = make(map[string]error)
	}
	d.users[user] = err
	d.mu.Unlock()
}

func newRoomPool(t *testing.T, d *roomDialer, s Settings) (*Pool, *testlog.Log) {
	logs := &testlog.Log{}
	p := NewPool("test:3306", d.dial, s, logs.Logger())
	t.Cleanup(p.Close)
	return p, logs
}

// hold acquires a connection for w or fails the test.
func hold(t *testing.T, p *Pool, w Want) *Conn {
	t.Helper()
	c, err := p.Acquire(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// acquired is the outcome of an Acquire started by acquireLater.
type acquired struct {
	conn *Conn
	err  error
}

// acquireLater starts an Acquire for w and returns where its outcome arrives.
func acquireLater(p *Pool, w Want) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		c, err := p.Acquire(context.Background(), w)
		ch <- acquired{c, err}
	}()
	return ch
}
