package shapes

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

func init() {
	addCheck("last_gtid", lastGTID, "binlog-row-gtid-strict", "binlog-mixed")
}

// lastGTID is issue 14's reproduction: two clients through cap 2 take turns writing, setting a
// user variable and reading it with @@last_gtid. On a server with the binary log, session
// tracking reports last_gtid after each write; it is read-only, so it must never be replayed
// (ERROR 1238), and each client must read the GTID of its own last write, as directly.
func lastGTID(t *testing.T, e *env) {
	p := e.proxyPool(t, "test")
	clients := [2]*sql.Conn{conn(t, p), conn(t, p)}
	root := conn(t, e.directPool(t, "test"))
	if s := rows(clients[0], "CREATE TABLE IF NOT EXISTS gtid_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)"); s != "" {
		t.Fatal(s)
	}
	var last [2]string
	for round := range 10 {
		for i, c := range clients {
			if s := rows(c, "INSERT INTO gtid_t (v) VALUES (1)"); s != "" {
				t.Fatalf("round %d client %d: INSERT: %s", round, i, s)
			}
			// Nothing else writes: the server's newest GTID is this client's.
			last[i] = rows(root, "SELECT @@gtid_binlog_pos")
			if s := rows(c, fmt.Sprintf("SET @x = %d", round*10+i)); s != "" {
				t.Fatalf("round %d client %d: SET @x: %s", round, i, s)
			}
		}
		for i, c := range clients {
			want := fmt.Sprintf("%d|%s", round*10+i, strings.TrimSpace(last[i]))
			if got := rows(c, "SELECT @x, @@last_gtid"); got != want+"\n" {
				t.Errorf("round %d client %d: SELECT @x, @@last_gtid = %q, want %q", round, i, got, want)
			}
			// The binary protocol: go-sql-driver prepares a statement with an argument.
			if got := rows(c, "SELECT @x, @@last_gtid, ?", "p"); got != want+"|p\n" {
				t.Errorf("round %d client %d: prepared SELECT @x, @@last_gtid = %q, want %q", round, i, got, want+"|p\n")
			}
		}
	}
}
