package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// LOAD DATA LOCAL INFILE streams the client's file through the proxy; a client that did not
// enable local files is refused as by the server, and the connection keeps working.
func TestLoadDataLocalInfile(t *testing.T) {
	mariadbtest.Need(t, db)
	if err := db.Exec("SET GLOBAL local_infile = 1"); err != nil {
		t.Fatal(err)
	}
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS infile_t")
	mustExec(t, direct, "CREATE TABLE infile_t (id INT PRIMARY KEY, v VARCHAR(64))")
	var b strings.Builder
	const rows = 20000 // ~500 KB: several packets
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "%d\tvalue-%d-%s\n", i, i, strings.Repeat("x", 10))
	}
	path := filepath.Join(t.TempDir(), "rows.tsv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	in := proxytest.Start(t, proxytest.Config(db, 2))
	p := openPool(t, clientDSN(in.Addr(), "test", func(c *mysql.Config) { c.AllowAllFiles = true }))
	c := holdConn(t, p)
	mustExec(t, c, fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE infile_t", path))
	if n := mustInt(t, direct, "SELECT COUNT(*) FROM infile_t"); n != rows {
		t.Fatalf("%d rows loaded, want %d", n, rows)
	}
	if v := mustString(t, c, "SELECT v FROM infile_t WHERE id = 777"); v != "value-777-xxxxxxxxxx" {
		t.Fatalf("row 777: %q", v)
	}
	wantNoPins(t, in, "after LOAD DATA LOCAL INFILE")

	_, err := c.ExecContext(t.Context(), "LOAD DATA LOCAL INFILE '/nonexistent/file' INTO TABLE infile_t")
	if err == nil {
		t.Fatal("loading a missing file succeeded")
	}
	mustWork(t, "after a failed LOAD DATA", c)

	// A client that did not enable local files is refused with 1148, like by a server that
	// does not allow them, and goes on working.
	raw, err := client.Connect(in.Addr(), "app", "secret", "test", func(c *client.Conn) error {
		c.UnsetCapability(gomysql.CLIENT_LOCAL_FILES)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.Execute(fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE infile_t", path))
	var me *gomysql.MyError
	if !errors.As(err, &me) || me.Code != 1148 {
		t.Fatalf("without local files: got %v, want ERROR 1148", err)
	}
	if r, err := raw.Execute("SELECT 1"); err != nil || r.RowNumber() != 1 {
		t.Fatalf("after the refusal: %v", err)
	}
}
