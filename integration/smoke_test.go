package integration

import (
	"database/sql"
	"testing"

	_ "github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

func TestSmoke(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 2))
	c, err := sql.Open("mysql", proxytest.DSN(in.Addr(), "app", "secret", "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.QueryRow("SELECT 1+1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("got %d, %v", n, err)
	}
	if _, err := c.Exec("CREATE TABLE IF NOT EXISTS smoke (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Exec("INSERT INTO smoke (v) VALUES (?)", "x")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	var v string
	if err := c.QueryRow("SELECT v FROM smoke WHERE id = ?", id).Scan(&v); err != nil || v != "x" {
		t.Fatalf("got %q, %v", v, err)
	}
	var dbname string
	if err := c.QueryRow("SELECT DATABASE()").Scan(&dbname); err != nil || dbname != "test" {
		t.Fatalf("got %q, %v", dbname, err)
	}
}
