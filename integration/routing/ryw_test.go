package routing

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// TestReadYourWrites is must-show 3 of issue 10: with read-your-writes on, an INSERT and then
// at once a SELECT of the row through one session sees it, 1,000 times in a row, while the
// replicas lag by design (their SQL threads stopped and started in turn). The same loop with it
// off misses rows: the lag is real.
func TestReadYourWrites(t *testing.T) {
	c := startCluster(t, []int{1, 1}, func(cfg *config.Config) {
		cfg.Routing.GTIDWaitTimeout.Duration = 20 * time.Millisecond
		cfg.Users = append(cfg.Users,
			config.UserConfig{Name: "ryw_gtid", Password: "p1", ReadYourWrites: config.RYWGTID},
			config.UserConfig{Name: "ryw_primary", Password: "p2", ReadYourWrites: config.RYWPrimary})
	})
	for _, u := range []string{"ryw_gtid", "ryw_primary"} {
		if err := c.repl.Primary.CreatePlainUser(u, map[string]string{"ryw_gtid": "p1", "ryw_primary": "p2"}[u]); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, c.db(t), "CREATE TABLE ryw_t (id INT PRIMARY KEY, v INT)")
	if err := c.repl.WaitCaughtUp(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Lag by design: one replica at a time has its SQL thread stopped for 150 ms.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			r := c.repl.Replicas[i%2]
			if err := r.Exec("STOP SLAVE SQL_THREAD"); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
			case <-time.After(150 * time.Millisecond):
			}
			if err := r.Exec("START SLAVE SQL_THREAD"); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()

	next := 0
	loop := func(t *testing.T, user, password string, n int) (misses int) {
		db, err := sql.Open("mysql", proxytest.DSN(c.in.Addr(), user, password, "test"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for range n {
			next++
			if _, err := conn.ExecContext(context.Background(), "INSERT INTO ryw_t VALUES (?, ?)", next, next); err != nil {
				t.Fatal(err)
			}
			var v sql.NullInt64
			err := conn.QueryRowContext(context.Background(), fmt.Sprintf("SELECT v FROM ryw_t WHERE id = %d", next)).Scan(&v)
			if err == sql.ErrNoRows {
				misses++
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return misses
	}

	st := c.in.Router().Stats()
	t.Run("off", func(t *testing.T) {
		before := st.ReplicaReads.Load()
		if misses := loop(t, appUser, appPassword, 200); misses == 0 {
			t.Errorf("without read-your-writes no read missed its row: the replicas did not lag")
		} else {
			t.Logf("without read-your-writes, %d of 200 reads missed their row (%d went to a replica)", misses, st.ReplicaReads.Load()-before)
		}
	})
	t.Run("gtid", func(t *testing.T) {
		reads, waits, fallbacks := st.ReplicaReads.Load(), st.GTIDWaits.Load(), st.GTIDFallbacks.Load()
		if misses := loop(t, "ryw_gtid", "p1", 1000); misses != 0 {
			t.Errorf("read_your_writes = gtid: %d of 1000 reads missed the session's own write", misses)
		}
		reads, waits, fallbacks = st.ReplicaReads.Load()-reads, st.GTIDWaits.Load()-waits, st.GTIDFallbacks.Load()-fallbacks
		t.Logf("gtid: %d waits on a replica, %d served there, %d fell back to the primary", waits, reads, fallbacks)
		// Both ways were taken: replicas that had caught up served, lagging ones did not.
		if reads == 0 || fallbacks == 0 {
			t.Errorf("gtid: %d replica reads, %d fallbacks; want some of each", reads, fallbacks)
		}
	})
	t.Run("primary", func(t *testing.T) {
		reads := st.ReplicaReads.Load()
		if misses := loop(t, "ryw_primary", "p2", 1000); misses != 0 {
			t.Errorf("read_your_writes = primary: %d of 1000 reads missed the session's own write", misses)
		}
		if n := st.ReplicaReads.Load() - reads; n != 0 {
			t.Errorf("read_your_writes = primary: %d reads went to a replica within the window", n)
		}
	})
}
