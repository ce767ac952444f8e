package shapes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
)

func init() {
	addCheck("idle_clients_outlive_wait_timeout", idleClients, "wait-timeout-3")
	addCheck("pinned_connection_timed_out", pinnedTimedOut, "wait-timeout-3")
}

// idleClientsDuration is how long idleClients runs: a minute (issue 14), or
// MYSQLMUX_IDLE_TEST_DURATION.
func idleClientsDuration(t *testing.T) time.Duration {
	if v := os.Getenv("MYSQLMUX_IDLE_TEST_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("MYSQLMUX_IDLE_TEST_DURATION: %v", err)
		}
		return d
	}
	return time.Minute
}

// idleClients: the server closes connections idle 3 s, pooled ones included. 100 clients through
// cap 4 each sleep 5 s between rounds of statements (a user variable set and read, a short
// transaction) for a minute, then all go quiet past the timeout and come back at once: the proxy
// replaces the connections the server closed without a client noticing.
func idleClients(t *testing.T, e *env) {
	in := proxyFor(t, e.srv, 4, func(c *config.Config) { c.Pool.AcquireTimeout.Duration = 30 * time.Second })
	p := open(t, clientDSN(in.Addr(), "test", nil))
	rows(conn(t, p), "CREATE TABLE IF NOT EXISTS idle_t (id INT AUTO_INCREMENT PRIMARY KEY, c INT)")
	end := time.Now().Add(idleClientsDuration(t))
	var wg sync.WaitGroup
	var statements, failures atomic.Int64
	for i := range 100 {
		c := conn(t, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.IntN(5000)) * time.Millisecond) // spread the clients
			for round := 0; time.Now().Before(end); round++ {
				steps := [][2]string{
					{fmt.Sprintf("SET @n = %d", i*1000+round), ""},
					{"SELECT @n", fmt.Sprintf("%d\n", i*1000+round)},
				}
				if round%3 == 0 {
					steps = append(steps, [2]string{"BEGIN", ""},
						[2]string{fmt.Sprintf("INSERT INTO idle_t (c) VALUES (%d)", i), ""}, [2]string{"COMMIT", ""})
				}
				for _, s := range steps {
					statements.Add(1)
					if got := rows(c, s[0]); got != s[1] {
						failures.Add(1)
						t.Errorf("client %d round %d: %s = %q, want %q", i, round, s[0], got, s[1])
						return
					}
				}
				time.Sleep(5 * time.Second)
			}
		}()
	}
	wg.Wait()
	// Everyone quiet past wait_timeout: the server closes every pooled connection; then all at
	// once again.
	time.Sleep(4 * time.Second)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := conn(t, p)
			statements.Add(1)
			if got := rows(c, "SELECT COUNT(*) > 0 FROM idle_t"); got != "1\n" {
				failures.Add(1)
				t.Errorf("client %d after the quiet: %q", i, got)
			}
		}()
	}
	wg.Wait()
	st := in.Router().Pools()[0].Stats()
	t.Logf("%d statements, %d failed; backend connections dialled %d, closed %d", statements.Load(), failures.Load(), st.Dials, st.Closed)
	if statements.Load() < 100*6 {
		t.Errorf("only %d statements ran", statements.Load())
	}
}

// pinnedTimedOut: a client in a transaction idles past wait_timeout; the server closes its
// connection, so its next statement fails (as directly: the transaction is gone), while another
// client works on, and a new client of the same proxy is served.
func pinnedTimedOut(t *testing.T, e *env) {
	in := proxyFor(t, e.srv, 2, nil)
	p := open(t, clientDSN(in.Addr(), "test", nil))
	a, b := conn(t, p), conn(t, p)
	rows(a, "CREATE TABLE IF NOT EXISTS idle_p (a INT)")
	rows(a, "BEGIN")
	rows(a, "INSERT INTO idle_p VALUES (1)")
	for range 9 { // 4.5 s, past the server's 3 s: B keeps working meanwhile
		if got := rows(b, "SELECT 1"); got != "1\n" {
			t.Fatalf("B: %q", got)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := rows(a, "SELECT COUNT(*) FROM idle_p"); len(got) < 5 || got[:5] != "ERROR" {
		t.Errorf("A after its connection timed out in a transaction: %q, want an error", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := rows(c, "SELECT COUNT(*) FROM idle_p"); got != "0\n" {
		t.Errorf("a new client: %q, want the uncommitted row gone", got)
	}
	if got := rows(b, "SELECT 2"); got != "2\n" {
		t.Errorf("B at the end: %q", got)
	}
}
