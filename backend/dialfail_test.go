package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Each failure is classified from the error the Dialer returns, including errors go-mysql
// reports only as text (a timed-out read, a connection closed during the handshake).
func TestClassifyDialFailures(t *testing.T) {
	myErr := func(code uint16) error {
		return fmt.Errorf("backend x: handleAuthResult: %w", &mysql.MyError{Code: code, Message: "m"})
	}
	for _, tc := range []struct {
		err  error
		want DialFailure
	}{
		{myErr(mysql.ER_CON_COUNT_ERROR), FailMaxConnections},
		{myErr(mysql.ER_TOO_MANY_USER_CONNECTIONS), FailUserConnections},
		{myErr(mysql.ER_USER_LIMIT_REACHED), FailUserConnections},
		{myErr(mysql.ER_ACCESS_DENIED_ERROR), FailLoginRefused},
		{myErr(mysql.ER_BAD_DB_ERROR), FailLoginRefused},
		{myErr(mysql.ER_SERVER_SHUTDOWN), FailUnreachable},
		{fmt.Errorf("%w %q", ErrUnknownUser, "u"), FailLoginRefused},
		{&TLSError{Addr: "x", Err: errors.New("bad certificate")}, FailTLS},
		{errors.New("something else"), FailOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}

	d := &Dialer{Password: func(string) (string, bool) { return "x", true },
		Timeout: func() time.Duration { return 200 * time.Millisecond }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	hangUp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hangUp.Close()
	go func() {
		for c, err := hangUp.Accept(); err == nil; c, err = hangUp.Accept() {
			c.Close()
		}
	}()
	for _, tc := range []struct {
		what, addr string
		want       DialFailure
	}{
		{"nothing listening", refused, FailUnreachable},
		{"a server that never greets", sink(t), FailConnectTimeout},
		{"a server that hangs up at once", hangUp.Addr().String(), FailUnreachable},
	} {
		d.Addr = tc.addr
		_, err := d.Dial(context.Background(), Key{User: "app"}, "")
		if got := classify(err); got != tc.want {
			t.Errorf("%s: %v classified %v, want %v", tc.what, err, got, tc.want)
		}
	}
}

// An outage ends once dials have succeeded for a while without a refusal, even if the pool
// never needs its cap again; the end is logged.
func TestPoolOutageEndsAfterQuietDials(t *testing.T) {
	d := newRoomDialer(t, 1)
	p, logs := newRoomPool(t, d, Settings{MaxConns: 4, AcquireTimeout: 30 * time.Second})
	held := hold(t, p, app)
	waiter := acquireLater(p, app)
	poll(t, "a refused dial", func() bool { return d.refusedDials() > 0 })
	d.addRoom(1) // the next probe succeeds, and no second connection is needed after it
	second := <-waiter
	if second.err != nil {
		t.Fatal(second.err)
	}
	p.Release(second.conn)
	p.Release(held)
	if st := p.Stats(); st.DialState != "server_full" {
		t.Fatalf("right after the successful probe: %+v", st)
	}
	info := logs.Await(t, "level=INFO", "accepts connections again")
	if st := p.Stats(); st.DialState != "ok" || !strings.Contains(info[0], "held=2") || !strings.Contains(info[0], "cap=4") {
		t.Fatalf("after the quiet period: %+v; %s", st, info[0])
	}
}

// A dial that does not finish within the connect timeout is given up by the pool (the
// statement waiting is not tied to it any more) and counted as the server being too busy.
func TestPoolBoundsDials(t *testing.T) {
	hang := func(ctx context.Context, key Key, db string) (*Conn, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("backend test: %w", ctx.Err())
	}
	p := NewPool("test:3306", hang, Settings{MaxConns: 2, AcquireTimeout: time.Second, ConnectTimeout: 50 * time.Millisecond}, nil)
	defer p.Close()
	_, err := p.Acquire(context.Background(), app)
	var te *AcquireTimeoutError
	if !errors.As(err, &te) || !errors.Is(te.LastErr, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a timeout naming the connect timeout", err)
	}
	if st := settled(t, p); st.DialFailures[FailConnectTimeout] == 0 || st.RefusedDials == 0 || st.DialState != "server_full" {
		t.Fatalf("stats after dials that timed out: %+v", st)
	}
}

// Connections dialled together reach max_lifetime together. While the server refuses new ones,
// the pool retires them one per backoff, each followed by a dial in its place, so it shrinks by
// at most one connection per refused dial instead of dropping them all at once.
func TestPoolRetiresOnePerRefusalWhenFull(t *testing.T) {
	const maxConns = 4
	d := newRoomDialer(t, maxConns)
	p, _ := newRoomPool(t, d, Settings{MaxConns: maxConns, AcquireTimeout: 30 * time.Second, MaxLifetime: 300 * time.Millisecond})
	var held []*Conn
	for range maxConns {
		held = append(held, hold(t, p, app))
	}
	for _, c := range held {
		p.Release(c)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	clients := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { clients <- struct{}{} }()
			for ctx.Err() == nil {
				c, err := p.Acquire(ctx, app)
				if err != nil {
					return
				}
				time.Sleep(time.Millisecond)
				p.Release(c)
			}
		}()
	}
	// The server is full from now on; the connections expire in 300 ms.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		st := p.Stats()
		if shed, refused := maxConns-(st.Open-st.Dialing), d.refusedDials(); shed > refused+1 {
			t.Fatalf("the pool closed %d connections after %d refused dials: %+v", shed, refused, st)
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	for range 8 {
		<-clients
	}
	if d.refusedDials() == 0 {
		t.Fatal("no connection reached max_lifetime in a second")
	}
}
