package integration

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// Issue 5, must-show 3: statement ids are the session's own. Two clients both get id 1 for
// different statements (and for the same one), on one backend connection or several, and each
// runs its own statement with its own parameter types. go-mysql's client shows the ids.

// TestStmtSameClientIDs (must-show 3): two clients each get statement id 1 (and 2) for different
// statements, and each always gets its own statement's results, whether both run on the one
// backend connection (cap 1) or interleave over several (cap 3 with background clients whose
// statements also have id 1). CONNECTION_ID() in the results shows where each execution ran.
func TestStmtSameClientIDs(t *testing.T) {
	mariadbtest.Need(t, db)
	const (
		textA = "SELECT 'A' AS who, ? + 1 AS v, CONNECTION_ID() AS conn"
		textB = "SELECT CONCAT('B-', ?) AS who, CONNECTION_ID() AS conn"
	)
	for _, tc := range []struct {
		name       string
		capConns   int
		background int
		rounds     int
	}{
		{"cap1_same_backend", 1, 0, 40},
		{"cap3_different_backends", 3, 4, 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := proxytest.Config(db, tc.capConns)
			cfg.Pool.AcquireTimeout.Duration = 20 * time.Second
			in := proxytest.Start(t, cfg)
			a := rawPSConnect(t, in.Addr())
			b := rawPSConnect(t, in.Addr())

			prepare := func(who string, c *client.Conn, text string, wantID uint32, params, cols int) *client.Stmt {
				t.Helper()
				st, err := c.Prepare(text)
				if err != nil {
					t.Fatalf("%s: prepare %q: %v", who, text, err)
				}
				t.Cleanup(func() { _ = st.Close() })
				if st.ID != wantID || st.ParamNum() != params || st.ColumnNum() != cols {
					t.Fatalf("%s: prepare %q: id %d, %d params, %d columns; want id %d, %d params, %d columns",
						who, text, st.ID, st.ParamNum(), st.ColumnNum(), wantID, params, cols)
				}
				return st
			}
			a1 := prepare("A", a, textA, 1, 1, 3)
			b1 := prepare("B", b, textB, 1, 1, 2)
			a2 := prepare("A", a, textB, 2, 1, 2) // A's id 2 is B's id 1, and the other way round
			b2 := prepare("B", b, textA, 2, 1, 3)

			var bg *background
			if tc.background > 0 {
				// Background clients whose own statement (id 1 in each session) runs with a short
				// sleep, so A and B get whichever connection comes free.
				bg = startBackground(t, psClient(t, in, "test", nil), tc.background, func(ctx context.Context, c *sql.Conn, i int) error {
					var s string
					var slept int
					if err := c.QueryRowContext(ctx, "SELECT CONCAT('bg-', ?), SLEEP(0.002)", i).Scan(&s, &slept); err != nil {
						return err
					}
					if s != fmt.Sprintf("bg-%d", i) {
						return fmt.Errorf("background client %d got %q", i, s)
					}
					return nil
				})
			}

			ranOn := map[string]map[string]int{"A": {}, "B": {}}
			check := func(who string, st *client.Stmt, arg any, want ...string) {
				t.Helper()
				row, _, err := rawStmtRow(st, arg)
				if err != nil {
					t.Fatalf("%s: execute statement %d (%v): %v", who, st.ID, arg, err)
				}
				if len(row) != len(want)+1 || !slices.Equal(row[:len(want)], want) {
					t.Fatalf("%s: statement %d (%v) = %q, want %q and a connection id", who, st.ID, arg, row, want)
				}
				ranOn[who][row[len(row)-1]]++
			}
			for r := range tc.rounds {
				check("A", a1, int64(r), "A", fmt.Sprint(r+1))
				check("B", b1, fmt.Sprintf("x%d", r), fmt.Sprintf("B-x%d", r))
				check("B", b2, int64(r*10), "A", fmt.Sprint(r*10+1))
				check("A", a2, fmt.Sprintf("y%d", r), fmt.Sprintf("B-y%d", r))
			}
			if bg != nil {
				bg.stop()
			}
			t.Logf("backend connection ids (executions): A %v, B %v", ranOn["A"], ranOn["B"])
			all := map[string]bool{}
			for _, m := range ranOn {
				for id := range m {
					all[id] = true
				}
			}
			if tc.capConns == 1 && len(all) != 1 {
				t.Errorf("cap 1, yet the statements ran on %d backend connections", len(all))
			}
			if tc.capConns > 1 && (len(ranOn["A"]) < 2 || len(ranOn["B"]) < 2) {
				t.Errorf("cap %d with background clients, yet A ran on %d and B on %d backend connections: "+
					"different backends not exercised", tc.capConns, len(ranOn["A"]), len(ranOn["B"]))
			}
			wantNoPins(t, in, "after the rounds")
		})
	}
}

// rawExecute sends COM_STMT_EXECUTE for statement id with one parameter: with its type when
// bound (new-params-bound-flag 1), else without ("same types as the last EXECUTE of this
// statement", as libmysqlclient sends after the first execution), and returns the one
// one-column row's value as a string.
func rawExecute(c *client.Conn, id uint32, bound bool, typ byte, value []byte) (string, error) {
	pkt := []byte{0, 0, 0, 0, gomysql.COM_STMT_EXECUTE}
	pkt = binary.LittleEndian.AppendUint32(pkt, id)
	pkt = append(pkt, 0, 1, 0, 0, 0, 0) // no cursor, iteration count 1, NULL bitmap
	if bound {
		pkt = append(pkt, 1, typ, 0)
	} else {
		pkt = append(pkt, 0)
	}
	pkt = append(pkt, value...)
	c.ResetSequence()
	if err := c.WritePacket(pkt); err != nil {
		return "", err
	}
	p, err := c.ReadPacket()
	if err != nil {
		return "", err
	}
	switch p[0] {
	case gomysql.ERR_HEADER:
		return "", c.HandleErrorPacket(p)
	case gomysql.OK_HEADER:
		return "", errors.New("an OK, not a result set")
	}
	cols := int(p[0])
	for range cols {
		if _, err := c.ReadPacket(); err != nil {
			return "", err
		}
	}
	if !c.HasCapability(gomysql.CLIENT_DEPRECATE_EOF) {
		if _, err := c.ReadPacket(); err != nil {
			return "", err
		}
	}
	var rows []string
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return "", err
		}
		if p[0] == gomysql.EOF_HEADER && len(p) < 0xffffff {
			break
		}
		if p[0] == gomysql.ERR_HEADER {
			return "", c.HandleErrorPacket(p)
		}
		// Binary row: 0x00, NULL bitmap (columns + 2 bits), the values.
		v := p[1+(cols+7+2)/8:]
		n, _, size := gomysql.LengthEncodedInt(v)
		if cols != 1 || int(n) > len(v)-size {
			return "", fmt.Errorf("unexpected row %q for %d columns", p, cols)
		}
		rows = append(rows, string(v[size:size+int(n)]))
	}
	if len(rows) != 1 {
		return "", fmt.Errorf("%d rows, want 1", len(rows))
	}
	return rows[0], nil
}

// TestStmtTypesRebound (must-show 3, continued): two clients prepare the same text, both get id 1
// and share the backend statement, one binding an integer, the other a string. Their later
// EXECUTEs say "types as before": each must run with its own types, not the ones the other
// client bound last on that backend statement, on one backend connection (cap 1) or on
// connections that prepare the statement lazily (cap 3 with background clients).
func TestStmtTypesRebound(t *testing.T) {
	mariadbtest.Need(t, db)
	const text = "SELECT CONCAT('T:', ?)"
	longlong := func(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
	str := func(s string) []byte { return append(gomysql.PutLengthEncodedInt(uint64(len(s))), s...) }
	for _, tc := range []struct {
		name       string
		capConns   int
		background int
	}{{"cap1", 1, 0}, {"cap3", 3, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := proxytest.Config(db, tc.capConns)
			cfg.Pool.AcquireTimeout.Duration = 20 * time.Second
			in := proxytest.Start(t, cfg)
			a := rawPSConnect(t, in.Addr())
			b := rawPSConnect(t, in.Addr())
			if a.HasCapability(gomysql.CLIENT_QUERY_ATTRIBUTES) {
				t.Fatal("the proxy negotiated CLIENT_QUERY_ATTRIBUTES: rawExecute does not send them")
			}
			sa, err := a.Prepare(text)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.Prepare(text)
			if err != nil {
				t.Fatal(err)
			}
			if sa.ID != 1 || sb.ID != 1 {
				t.Fatalf("statement ids %d and %d, want 1 and 1", sa.ID, sb.ID)
			}
			var bg *background
			if tc.background > 0 {
				bg = startBackground(t, psClient(t, in, "test", nil), tc.background, func(ctx context.Context, c *sql.Conn, i int) error {
					var s string
					var slept int
					return c.QueryRowContext(ctx, "SELECT CONCAT('bg-', ?), SLEEP(0.002)", i).Scan(&s, &slept)
				})
			}
			run := func(who string, c *client.Conn, id uint32, bound bool, typ byte, value []byte, want string) {
				t.Helper()
				got, err := rawExecute(c, id, bound, typ, value)
				if err != nil {
					t.Fatalf("%s: EXECUTE (types bound: %v): %v", who, bound, err)
				}
				if got != want {
					t.Fatalf("%s: EXECUTE (types bound: %v) = %q, want %q", who, bound, got, want)
				}
			}
			run("A", a, sa.ID, true, gomysql.MYSQL_TYPE_LONGLONG, longlong(42), "T:42")
			run("B", b, sb.ID, true, gomysql.MYSQL_TYPE_VAR_STRING, str("hello"), "T:hello")
			for r := range 40 {
				run("A", a, sa.ID, false, 0, longlong(int64(1000+r)), fmt.Sprintf("T:%d", 1000+r))
				run("B", b, sb.ID, false, 0, str(fmt.Sprintf("s%d", r)), fmt.Sprintf("T:s%d", r))
			}
			if bg != nil {
				bg.stop()
			}
		})
	}
}
