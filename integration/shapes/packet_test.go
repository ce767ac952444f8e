package shapes

import (
	"context"
	"strings"
	"testing"
	"time"
)

func init() {
	addCheck("statement_over_server_max_allowed_packet", bigStatement, "small-max-allowed-packet")
}

// bigStatement sends a statement larger than the server's max_allowed_packet (1 MiB) but within
// the client's and the proxy's. A direct server refuses it and closes the connection while the
// client still writes (the client sees the connection reset, not the error); the proxy answers
// with the server's error, and the client keeps its connection, its state and its transaction.
func bigStatement(t *testing.T, e *env) {
	big := "SELECT LENGTH('" + strings.Repeat("x", 2<<20) + "')"
	const want = "ERROR 1153 (08S01)"
	direct := conn(t, e.directPool(t, "test"))
	if got := rows(direct, big); got == "2097152\n" {
		t.Fatalf("directly: %q, want a refusal", got)
	}
	c := conn(t, e.proxyPool(t, "test"))
	rows(c, "SET @kept = 5")
	rows(c, "CREATE TABLE IF NOT EXISTS big_t (a INT)")
	rows(c, "BEGIN")
	rows(c, "INSERT INTO big_t VALUES (1)")
	for i := range 3 {
		if got := rows(c, big); got != want {
			t.Errorf("round %d: through the proxy %q, want %q", i, got, want)
		}
		if got := rows(c, "SELECT @kept, @@in_transaction"); got != "5|1\n" {
			t.Errorf("round %d: after the error: %q, want the connection with its state", i, got)
		}
	}
	rows(c, "ROLLBACK")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.PingContext(ctx); err != nil {
		t.Errorf("ping after: %v", err)
	}
}
