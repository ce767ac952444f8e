package mariadbtest_test

import (
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// TestReplication: a primary and two replicas; a write on the primary reaches both, which are
// read-only.
func TestReplication(t *testing.T) {
	r := mariadbtest.StartReplication(t, 2, mariadbtest.Options{})
	p := open(t, r.Primary.DSN(mariadbtest.AppUser, mariadbtest.AppPassword, "test"))
	if _, err := p.Exec("CREATE TABLE repl_t (a INT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec("INSERT INTO repl_t VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitCaughtUp(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for i, rep := range r.Replicas {
		c := open(t, rep.DSN(mariadbtest.AppUser, mariadbtest.AppPassword, "test"))
		if got := queryString(t, c, "SELECT a FROM repl_t"); got != "7" {
			t.Errorf("replica %d reads %q", i+1, got)
		}
		if got := queryString(t, c, "SELECT @@read_only"); got != "1" {
			t.Errorf("replica %d: read_only = %s", i+1, got)
		}
	}
}
