package integration

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// Issue 4, must-show 6: COM_RESET_CONNECTION and COM_CHANGE_USER clear what the session set
// (system and user variables, temporary tables, locks) and unpin it. go-sql-driver sends neither
// command, so these tests speak them with go-mysql's client over its packet connection, and run
// the same steps on a direct connection to MariaDB for the expected results.

// rawConnect logs in with go-mysql's client (closed at cleanup).
func rawConnect(t testing.TB, addr, user, password, dbName string) *client.Conn {
	t.Helper()
	c, err := client.ConnectWithTimeout(addr, user, password, dbName, 5*time.Second)
	if err != nil {
		t.Fatalf("raw connect to %s as %s: %v", addr, user, err)
	}
	c.ReadTimeout, c.WriteTimeout = 10*time.Second, 10*time.Second
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawValues runs a one-row query on c and returns its columns as strings (NULL as "<NULL>").
func rawValues(c *client.Conn, q string) ([]string, error) {
	r, err := c.Execute(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer r.Close()
	if r.Resultset == nil || r.RowNumber() != 1 {
		return nil, fmt.Errorf("%s: not one row", q)
	}
	out := make([]string, r.ColumnNumber())
	for i := range out {
		if null, _ := r.IsNull(0, i); null {
			out[i] = "<NULL>"
			continue
		}
		if out[i], err = r.GetString(0, i); err != nil {
			return nil, fmt.Errorf("%s: column %d: %w", q, i, err)
		}
	}
	return out, nil
}

func mustRawValues(t testing.TB, c *client.Conn, q string) []string {
	t.Helper()
	v, err := rawValues(c, q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustRawExec(t testing.TB, c *client.Conn, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		r, err := c.Execute(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		r.Close()
	}
}

// rawErrorCode runs q and returns the server error code it fails with (0: no error).
func rawErrorCode(c *client.Conn, q string) (uint16, error) {
	r, err := c.Execute(q)
	if err == nil {
		r.Close()
		return 0, nil
	}
	var me *gomysql.MyError
	if errors.As(err, &me) {
		return me.Code, nil
	}
	return 0, err
}

// resetConnection sends COM_RESET_CONNECTION and reads the answer.
func resetConnection(c *client.Conn) error {
	c.ResetSequence()
	if err := c.WritePacket([]byte{0, 0, 0, 0, gomysql.COM_RESET_CONNECTION}); err != nil {
		return err
	}
	_, err := c.ReadOKPacket()
	return err
}

// negotiated returns the capability flags and the login scramble of c (go-mysql keeps them
// unexported; a COM_CHANGE_USER needs both).
func negotiated(c *client.Conn) (caps uint32, salt []byte) {
	v := reflect.ValueOf(c).Elem()
	return uint32(v.FieldByName("capability").Uint()), bytes.Clone(v.FieldByName("salt").Bytes())
}

// changeUser sends COM_CHANGE_USER for user/password/dbName with collation utf8mb4_general_ci
// and runs the authentication exchange (an auth switch to mysql_native_password included).
func changeUser(c *client.Conn, user, password, dbName string) error {
	caps, salt := negotiated(c)
	if len(salt) > 20 {
		salt = salt[:20]
	}
	p := []byte{0, 0, 0, 0, gomysql.COM_CHANGE_USER}
	p = append(append(p, user...), 0)
	auth := gomysql.CalcNativePassword(salt, []byte(password))
	p = append(append(p, byte(len(auth))), auth...)
	p = append(append(p, dbName...), 0)
	p = append(p, 45, 0) // utf8mb4_general_ci
	if caps&gomysql.CLIENT_PLUGIN_AUTH != 0 {
		p = append(append(p, gomysql.AUTH_NATIVE_PASSWORD...), 0)
	}
	if caps&gomysql.CLIENT_CONNECT_ATTRS != 0 {
		p = append(p, 0) // no attributes
	}
	c.ResetSequence()
	if err := c.WritePacket(p); err != nil {
		return err
	}
	for range 3 {
		data, err := c.ReadPacket()
		if err != nil {
			return err
		}
		switch data[0] {
		case gomysql.OK_HEADER:
			_ = c.HandleOKPacket(data)
			return nil
		case gomysql.ERR_HEADER:
			return c.HandleErrorPacket(data)
		case gomysql.EOF_HEADER: // auth switch request: plugin name, NUL, scramble
			i := bytes.IndexByte(data[1:], 0)
			if i < 0 {
				return fmt.Errorf("change user: malformed auth switch request %q", data)
			}
			plugin, scramble := string(data[1:1+i]), bytes.TrimRight(data[2+i:], "\x00")
			if plugin != gomysql.AUTH_NATIVE_PASSWORD {
				return fmt.Errorf("change user: auth switch to %q", plugin)
			}
			if err := c.WritePacket(append([]byte{0, 0, 0, 0}, gomysql.CalcNativePassword(scramble, []byte(password))...)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("change user: unexpected packet %q", data)
		}
	}
	return errors.New("change user: no answer after three packets")
}

const (
	resetLock = "mysqlmux_state_reset"
	// resetRead reads what the reset tests set.
	resetRead = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), DATABASE(), @@session.sql_mode, @@session.time_zone, @@session.wait_timeout, @u, @e"
)

// dirtySession sets, on c, system and user variables (a literal and one from an expression), a
// temporary table and a named lock.
func dirtySession(t testing.TB, c *client.Conn) {
	t.Helper()
	mustRawExec(t, c, "SET @u = 7", "SET @e = CONCAT('x', @u)", "SET SESSION sql_mode = 'ANSI_QUOTES'",
		"SET time_zone = '+05:00'", "SET SESSION wait_timeout = 77", "CREATE TEMPORARY TABLE state_rst (a INT)",
		"INSERT INTO state_rst VALUES (1)")
	if v := mustRawValues(t, c, "SELECT GET_LOCK('"+resetLock+"', 0)"); v[0] != "1" {
		t.Fatalf("GET_LOCK = %s, want 1", v[0])
	}
}

// afterReset checks what c sees after a reset: the table and the lock are gone, the rest as
// want (resetRead's columns).
func afterReset(t testing.TB, step string, c *client.Conn, free *sql.Conn, want []string) {
	t.Helper()
	for r := range 5 {
		got, err := rawValues(c, resetRead)
		if err != nil {
			t.Errorf("%s: %v", step, err)
			return
		}
		if !equalStrings(got, want) {
			t.Errorf("%s, read %d: (user, DATABASE(), sql_mode, time_zone, wait_timeout, @u, @e) = %q, want %q", step, r, got, want)
		}
	}
	code, err := rawErrorCode(c, "SELECT COUNT(*) FROM test.state_rst")
	if err != nil || code != 1146 {
		t.Errorf("%s: the temporary table: error code %d, %v; want 1146 (gone)", step, code, err)
	}
	if n := mustInt(t, free, "SELECT IS_FREE_LOCK(?)", resetLock); n != 1 {
		t.Errorf("%s: lock %q still held", step, resetLock)
	}
	mustRawExec(t, c, "DO 1") // a clean last statement: no warnings pin from the error above
}

// expectedAfter runs dirtySession then do on a direct connection and returns resetRead's values.
func expectedAfter(t *testing.T, do func(c *client.Conn) error) []string {
	t.Helper()
	c := rawConnect(t, db.Addr, mariadbtest.AppUser, mariadbtest.AppPassword, "test")
	dirtySession(t, c)
	if err := do(c); err != nil {
		t.Fatalf("on a direct connection: %v", err)
	}
	want := mustRawValues(t, c, resetRead)
	mustRawExec(t, c, "DO RELEASE_ALL_LOCKS()")
	_ = c.Close()
	return want
}

// TestStateResetConnection: COM_RESET_CONNECTION through the proxy clears everything the client
// set, frees its lock and temporary table, and unpins it; then the client's state is again what
// a fresh session has, on every later statement.
func TestStateResetConnection(t *testing.T) {
	mariadbtest.Need(t, db)
	want := expectedAfter(t, resetConnection)
	in, p := stateProxy(t, 2)
	free := holdConn(t, directClient(t, "test"))
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		return wantStrings(ctx, c, "SELECT @u, @e, @@session.time_zone", "<NULL>", "<NULL>", "SYSTEM")
	})
	c := rawConnect(t, in.Addr(), mariadbtest.AppUser, mariadbtest.AppPassword, "test")
	dirtySession(t, c)
	if v := mustRawValues(t, c, "SELECT @u, @e, @@session.time_zone, COUNT(*) FROM state_rst"); !equalStrings(v, []string{"7", "x7", "+05:00", "1"}) {
		t.Errorf("before the reset: %q", v)
	}
	wantPinned(t, in, "before the reset", "temp_table", 1)
	wantPinned(t, in, "before the reset", "get_lock", 1)
	if err := resetConnection(c); err != nil {
		t.Fatalf("COM_RESET_CONNECTION: %v", err)
	}
	afterReset(t, "after COM_RESET_CONNECTION", c, free, want)
	bg.stop()
	wantNoPins(t, in, "after COM_RESET_CONNECTION")
}

// TestStateChangeUser: COM_CHANGE_USER through the proxy switches the user and database and
// clears the session as a reset does; a wrong password is refused with 1045.
func TestStateChangeUser(t *testing.T) {
	mariadbtest.Need(t, db)
	want := expectedAfter(t, func(c *client.Conn) error {
		return changeUser(c, mariadbtest.OtherUser, mariadbtest.OtherPassword, "test2")
	})
	if want[0] != mariadbtest.OtherUser || want[1] != "test2" {
		t.Fatalf("on a direct connection after COM_CHANGE_USER: user, database = %q, %q", want[0], want[1])
	}
	in, p := stateProxy(t, 2)
	free := holdConn(t, directClient(t, "test"))
	bg := startBackground(t, p, 10, func(ctx context.Context, c *sql.Conn, i int) error {
		return wantStrings(ctx, c, "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), @u, @@session.time_zone", mariadbtest.AppUser, "<NULL>", "SYSTEM")
	})
	c := rawConnect(t, in.Addr(), mariadbtest.AppUser, mariadbtest.AppPassword, "test")
	dirtySession(t, c)
	wantPinned(t, in, "before COM_CHANGE_USER", "temp_table", 1)
	if err := changeUser(c, mariadbtest.OtherUser, mariadbtest.OtherPassword, "test2"); err != nil {
		t.Fatalf("COM_CHANGE_USER to %s: %v", mariadbtest.OtherUser, err)
	}
	afterReset(t, "after COM_CHANGE_USER", c, free, want)
	bg.stop()
	wantNoPins(t, in, "after COM_CHANGE_USER")
	users := map[string]int{}
	for _, ci := range in.Router().Sessions() {
		users[ci.User+"/"+ci.Database]++
	}
	if users[mariadbtest.OtherUser+"/test2"] != 1 {
		t.Errorf("sessions by user/database after COM_CHANGE_USER: %v, want one %s/test2", users, mariadbtest.OtherUser)
	}

	// A wrong password is refused.
	d := rawConnect(t, in.Addr(), mariadbtest.AppUser, mariadbtest.AppPassword, "test")
	err := changeUser(d, mariadbtest.OtherUser, "wrong", "test")
	var me *gomysql.MyError
	if !errors.As(err, &me) || me.Code != 1045 {
		t.Errorf("COM_CHANGE_USER with a wrong password: %v, want ERROR 1045", err)
	}
}

// TestStateChangeUserRefusedKeepsConnection: a COM_CHANGE_USER refused for a wrong password or
// an unknown database leaves the client connected, its session as MariaDB leaves it (issue 8);
// it used to be closed by the proxy.
func TestStateChangeUserRefusedKeepsConnection(t *testing.T) {
	mariadbtest.Need(t, db)
	in, _ := stateProxy(t, 2)
	const read = "SELECT CURRENT_USER(), DATABASE(), @u, @@session.time_zone"
	for _, c := range []struct {
		user, password, db string
		code               uint16
	}{
		{mariadbtest.OtherUser, "wrong", "test", 1045},
		{mariadbtest.OtherUser, mariadbtest.OtherPassword, "no_such_db", 1049},
	} {
		var answers [2][]string
		for i, addr := range []string{db.Addr, in.Addr()} {
			conn := rawConnect(t, addr, mariadbtest.AppUser, mariadbtest.AppPassword, "test")
			mustRawExec(t, conn, "SET @u = 7", "SET time_zone = '+05:00'")
			err := changeUser(conn, c.user, c.password, c.db)
			var me *gomysql.MyError
			if !errors.As(err, &me) || me.Code != c.code {
				t.Fatalf("%s: COM_CHANGE_USER(%s, db %s): %v, want ERROR %d", addr, c.user, c.db, err, c.code)
			}
			v, err := rawValues(conn, read)
			if err != nil {
				t.Fatalf("%s (direct: %v): after the refused COM_CHANGE_USER: %v", addr, i == 0, err)
			}
			answers[i] = v
		}
		if !slices.Equal(answers[0], answers[1]) {
			t.Errorf("after COM_CHANGE_USER(%s, db %s) was refused: through the proxy %q, directly %q", c.user, c.db, answers[1], answers[0])
		}
	}
}
