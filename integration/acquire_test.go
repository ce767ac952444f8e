package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// TestAcquireTimeout9001: with cap 1 and acquire_timeout 500ms, a client whose statement cannot
// get the one backend connection (another client holds it in a transaction) gets ERROR 9001
// after about the timeout, naming the backend, the cap and the number waiting; once the
// transaction ends, the same client connection works.
func TestAcquireTimeout9001(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS acq_t")
	mustExec(t, direct, "CREATE TABLE acq_t (id INT PRIMARY KEY) ENGINE=InnoDB")

	cfg := proxytest.Config(db, 1)
	cfg.Pool.AcquireTimeout.Duration = 500 * time.Millisecond
	in := proxytest.Start(t, cfg)
	pc := proxyClient(t, in, "test")
	a := holdConn(t, pc)
	b := holdConn(t, pc) // logged in before A takes the connection

	mustExec(t, a, "BEGIN")
	mustExec(t, a, "INSERT INTO acq_t VALUES (1)")

	start := time.Now()
	_, err := queryInt(b, "SELECT COUNT(*) FROM acq_t")
	waited := time.Since(start)
	me := wantServerError(t, "B's statement while A holds the only connection", err, 9001, "HY000")
	if waited < 400*time.Millisecond || waited > 3*time.Second {
		t.Errorf("B's statement failed after %v, want about 500ms (0.4s..3s)", waited)
	}
	if me != nil && me.Number == 9001 {
		msg := me.Message
		if !strings.Contains(msg, db.Addr) {
			t.Errorf("9001 message %q does not name the backend %s", msg, db.Addr)
		}
		// The cap (1) and the number waiting (1, B itself) both appear as numbers.
		rest := strings.ReplaceAll(msg, db.Addr, "")
		if n := len(regexp.MustCompile(`\b1\b`).FindAllString(rest, -1)); n < 2 {
			t.Errorf("9001 message %q does not name both the cap (1) and the number waiting (1)", msg)
		}
		if !strings.Contains(strings.ToLower(rest), "wait") {
			t.Errorf("9001 message %q does not say how many are waiting", msg)
		}
	}
	t.Logf("B got %s after %v", describeErrOrNil(err), waited)

	mustExec(t, a, "COMMIT")
	if n, err := queryInt(b, "SELECT COUNT(*) FROM acq_t"); err != nil || n != 1 {
		t.Errorf("B after A's COMMIT: got %d, %s; want 1 row", n, describeErrOrNil(err))
	}
	mustWork(t, "A after COMMIT", a)
}
