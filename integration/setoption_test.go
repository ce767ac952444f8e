package integration

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// COM_SET_OPTION (what PHP's mysqli::multi_query sends) is replayed like a variable: the client
// that switched multi-statements on keeps them on any connection, no pin, and another client
// sharing the connection keeps them off.
func TestSetOptionMultiStatements(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 1))
	connect := func() *client.Conn {
		c, err := client.Connect(in.Addr(), "app", "secret", "test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	setOption := func(c *client.Conn, on bool) {
		t.Helper()
		opt := byte(1)
		if on {
			opt = 0
		}
		c.ResetSequence()
		if err := c.WritePacket([]byte{0, 0, 0, 0, 0x1b, opt, 0}); err != nil {
			t.Fatal(err)
		}
		p, err := c.ReadPacket()
		if err != nil || (p[0] != 0xfe && p[0] != 0x00) {
			t.Fatalf("COM_SET_OPTION: %x, %v", p, err)
		}
	}
	multi := func(c *client.Conn) error {
		n := 0
		_, err := c.ExecuteMultiple("SELECT 1; SELECT 2", func(r *gomysql.Result, err error) {
			if err == nil {
				n++
			}
		})
		if err == nil && n != 2 {
			t.Fatalf("%d result sets, want 2", n)
		}
		return err
	}
	a, b := connect(), connect()
	setOption(a, true)
	for i := 0; i < 3; i++ {
		if err := multi(a); err != nil {
			t.Fatalf("round %d: A's multi-statement after COM_SET_OPTION ON: %v", i, err)
		}
		if _, err := b.Execute("SELECT 1; SELECT 2"); err == nil {
			t.Fatalf("round %d: B, which never switched multi-statements on, ran one", i)
		}
		if r, err := b.Execute("SELECT 3"); err != nil || r.RowNumber() != 1 {
			t.Fatalf("round %d: B after its refused multi-statement: %v", i, err)
		}
	}
	wantNoPins(t, in, "after COM_SET_OPTION")
	setOption(a, false)
	if _, err := a.Execute("SELECT 1; SELECT 2"); err == nil {
		t.Fatal("A ran a multi-statement after switching them off")
	}
}
