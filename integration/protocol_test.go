package integration

import (
	"bytes"
	"context"
	"database/sql"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// TestUseDatabaseKept: `USE test2` changes DATABASE() for that client only, and it stays so
// across statements although, with cap 1, the one backend connection goes back and forth between
// it and a client using `test`.
func TestUseDatabaseKept(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "")
	mustExec(t, direct, "DROP TABLE IF EXISTS test.use_where")
	mustExec(t, direct, "DROP TABLE IF EXISTS test2.use_where")
	mustExec(t, direct, "CREATE TABLE test.use_where (name VARCHAR(10))")
	mustExec(t, direct, "CREATE TABLE test2.use_where (name VARCHAR(10))")
	mustExec(t, direct, "INSERT INTO test.use_where VALUES ('test')")
	mustExec(t, direct, "INSERT INTO test2.use_where VALUES ('test2')")

	cfg := proxytest.Config(db, 1)
	cfg.Pool.AcquireTimeout.Duration = 2 * time.Second // a session that kept the connection shows fast
	in := proxytest.Start(t, cfg)
	a := holdConn(t, proxyClient(t, in, "test"))
	b := holdConn(t, proxyClient(t, in, "test"))
	none := holdConn(t, proxyClient(t, in, ""))

	mustExec(t, a, "USE test2")
	for i := range 5 {
		step := "round " + strconv.Itoa(i)
		if got := mustString(t, a, "SELECT DATABASE()"); got != "test2" {
			t.Errorf("%s: A's DATABASE() = %q, want test2", step, got)
		}
		if got := mustString(t, b, "SELECT DATABASE()"); got != "test" {
			t.Errorf("%s: B's DATABASE() = %q, want test", step, got)
		}
		if got := mustString(t, a, "SELECT name FROM use_where"); got != "test2" {
			t.Errorf("%s: A's unqualified table is %s.use_where, want test2", step, got)
		}
		if got := mustString(t, b, "SELECT name FROM use_where"); got != "test" {
			t.Errorf("%s: B's unqualified table is %s.use_where, want test", step, got)
		}
		if got := mustString(t, none, "SELECT DATABASE()"); got != "<NULL>" {
			t.Errorf("%s: DATABASE() of a client that named none = %q, want NULL", step, got)
		}
	}
	// Back again, and to a database that does not exist (the error as from the server, nothing
	// changes).
	mustExec(t, a, "USE test")
	mustExec(t, b, "USE test2")
	_, err := a.ExecContext(context.Background(), "USE no_such_db_mysqlmux")
	wantServerError(t, "USE of a missing database", err, 1049, "42000")
	for range 3 {
		if got := mustString(t, a, "SELECT DATABASE()"); got != "test" {
			t.Errorf("after USE test: A's DATABASE() = %q", got)
		}
		if got := mustString(t, b, "SELECT DATABASE()"); got != "test2" {
			t.Errorf("after USE test2: B's DATABASE() = %q", got)
		}
	}
}

// TestCommentedMixedCaseQueries: statements with comments and in any case are forwarded as such.
func TestCommentedMixedCaseQueries(t *testing.T) {
	mariadbtest.Need(t, db)
	in := proxytest.Start(t, proxytest.Config(db, 1))
	c := holdConn(t, proxyClient(t, in, "test"))
	cases := []struct {
		q    string
		want int64
	}{
		{"/* hi */ select 1", 1},
		{"SeLeCt 2", 2},
		{"  \n\tselect /* in between */ 3 -- trailing", 3},
		{"# hash comment\nselect 4", 4},
		{"-- dash comment\nSELECT 5", 5},
		{"/*!40101 SELECT 6 */", 6},
		{"/*M!100100 select 7 */", 7},
		{"(select 8)", 8},
		{"select '/* not a comment */', 9", 9},
	}
	for _, tc := range cases {
		rows, err := c.QueryContext(context.Background(), tc.q)
		if err != nil {
			t.Errorf("%q: %s", tc.q, describeErr(err))
			continue
		}
		var got int64
		for rows.Next() {
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			for i := range vals {
				vals[i] = new(sql.RawBytes)
			}
			if err := rows.Scan(vals...); err != nil {
				t.Errorf("%q: scan: %v", tc.q, err)
				break
			}
			got, _ = strconv.ParseInt(string(*vals[len(vals)-1].(*sql.RawBytes)), 10, 64)
		}
		if err := rows.Close(); err != nil {
			t.Errorf("%q: %v", tc.q, err)
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%q: %s", tc.q, describeErr(err))
		}
		if got != tc.want {
			t.Errorf("%q = %d, want %d", tc.q, got, tc.want)
		}
	}
	mustWork(t, "after the commented queries", c)
}

// TestCallTwoResultSets: a stored procedure returning two result sets is read fully, and the
// connection works afterwards.
func TestCallTwoResultSets(t *testing.T) {
	mariadbtest.Need(t, db)
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP PROCEDURE IF EXISTS two_results")
	mustExec(t, direct, `CREATE PROCEDURE two_results(IN n INT)
BEGIN
	SELECT n AS a, 'first' AS b;
	SELECT seq AS c, CONCAT('row', seq) AS d FROM seq_1_to_1000 WHERE seq <= n;
END`)

	in := proxytest.Start(t, proxytest.Config(db, 1))
	c := holdConn(t, proxyClient(t, in, "test"))
	for _, n := range []int{3, 500} {
		sets, err := readAllResultSets(c, "CALL two_results(?)", n)
		if err != nil {
			t.Fatalf("CALL two_results(%d): %s", n, describeErr(err))
		}
		if len(sets) != 2 {
			t.Fatalf("CALL two_results(%d): %d result sets, want 2: %q", n, len(sets), sets)
		}
		if want := [][]string{{strconv.Itoa(n), "first"}}; !equalRows(sets[0], want) {
			t.Errorf("first result set = %q, want %q", sets[0], want)
		}
		if len(sets[1]) != n {
			t.Errorf("second result set has %d rows, want %d", len(sets[1]), n)
		} else if last := sets[1][n-1]; last[0] != strconv.Itoa(n) || last[1] != "row"+strconv.Itoa(n) {
			t.Errorf("last row of the second result set = %q", last)
		}
		mustWork(t, "after CALL", c)
	}
	// Compared with a direct client.
	dsets, err := readAllResultSets(holdConn(t, direct), "CALL two_results(?)", 4)
	if err != nil {
		t.Fatal(err)
	}
	psets, err := readAllResultSets(c, "CALL two_results(?)", 4)
	if err != nil {
		t.Fatalf("CALL through the proxy: %s", describeErr(err))
	}
	if len(dsets) != len(psets) {
		t.Fatalf("through the proxy %d result sets, direct %d", len(psets), len(dsets))
	}
	for i := range dsets {
		if !equalRows(dsets[i], psets[i]) {
			t.Errorf("result set %d: through the proxy %q, direct %q", i, psets[i], dsets[i])
		}
	}
	mustWork(t, "after the last CALL", c)
}

// readAllResultSets runs q and returns every result set as strings.
func readAllResultSets(c execer, q string, args ...any) ([][][]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sets [][][]string
	for {
		cols, err := rows.Columns()
		if err != nil {
			return sets, err
		}
		var set [][]string
		for rows.Next() {
			raw := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range raw {
				ptrs[i] = &raw[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return sets, err
			}
			row := make([]string, len(cols))
			for i := range raw {
				row[i] = string(raw[i])
			}
			set = append(set, row)
		}
		if err := rows.Err(); err != nil {
			return sets, err
		}
		sets = append(sets, set)
		if !rows.NextResultSet() {
			break
		}
	}
	return sets, rows.Err()
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// TestLargeRows: a 2 MB LONGTEXT and values larger than 16 MiB (rows of several protocol
// packets) come back byte-identical, written and read with the text protocol and with prepared
// statements. Some blobs are cut so that a row's continuation packet is short and starts with
// 0xFE or 0xFF: a proxy that classified continuation packets would take it for an EOF or ERR.
func TestLargeRows(t *testing.T) {
	mariadbtest.Need(t, db)
	root, err := db.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	old := mustInt(t, root, "SELECT @@GLOBAL.max_allowed_packet")
	mustExec(t, root, "SET GLOBAL max_allowed_packet = 64*1024*1024")
	t.Cleanup(func() { _ = db.Exec("SET GLOBAL max_allowed_packet = " + strconv.FormatInt(old, 10)) })

	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS large_rows")
	mustExec(t, direct, "CREATE TABLE large_rows (id INT PRIMARY KEY, v LONGTEXT CHARACTER SET utf8mb4, b LONGBLOB) ENGINE=InnoDB")

	in := proxytest.Start(t, proxytest.Config(db, 1)) // backend connections made after the SET GLOBAL
	text := holdConn(t, openPool(t, clientDSN(in.Addr(), "test", func(c *mysql.Config) { c.MaxAllowedPacket = 0 })))
	prepared := holdConn(t, openPool(t, clientDSN(in.Addr(), "test", func(c *mysql.Config) {
		c.MaxAllowedPacket = 0
		c.InterpolateParams = false
	})))
	if got := mustInt(t, text, "SELECT @@max_allowed_packet"); got != 64<<20 {
		t.Fatalf("max_allowed_packet seen through the proxy = %d, want %d", got, 64<<20)
	}

	const maxPayload = 1<<24 - 1
	// A 2^24-1 byte value has a 4-byte length prefix: in a text-protocol row its continuation
	// packet is the last 4 bytes (from maxPayload-4), in a binary row (0x00 header, NULL bitmap)
	// the last 6 (from maxPayload-6). Both are shorter than 9 bytes, like an EOF.
	edgy := func(rng *rand.ChaCha8, first byte) []byte {
		b := randomBytes(rng, maxPayload)
		b[maxPayload-4], b[maxPayload-6] = first, first
		return b
	}
	rng := rand.NewChaCha8([32]byte{1})
	values := []struct {
		id     int
		col    string
		data   []byte
		writer *sql.Conn
	}{
		{1, "v", randomText(rng, 2<<20), text},
		{2, "v", randomText(rng, 16<<20+4321), text},
		{3, "b", edgy(rng, 0xFE), text},
		{4, "b", edgy(rng, 0xFF), prepared},
		{5, "b", randomBytes(rng, 10<<20), prepared},
	}
	for _, v := range values {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		var arg any = v.data
		if v.col == "v" {
			arg = string(v.data)
		}
		// Three more parameters make go-sql-driver send values over maxAllowedPacket/7 (9.1 MiB)
		// with COM_STMT_SEND_LONG_DATA.
		_, err := v.writer.ExecContext(ctx, "INSERT INTO large_rows (id, "+v.col+") SELECT ?, ? FROM DUAL WHERE ? = ? AND ? = 1",
			v.id, arg, 1, 1, 1)
		cancel()
		if err != nil {
			t.Fatalf("inserting %d bytes (id %d): %s", len(v.data), v.id, describeErr(err))
		}
	}
	for _, v := range values {
		for _, r := range []struct {
			name string
			c    *sql.Conn
		}{{"text protocol", text}, {"prepared statement", prepared}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var got []byte
			err := r.c.QueryRowContext(ctx, "SELECT "+v.col+" FROM large_rows WHERE id = ?", v.id).Scan(&got)
			cancel()
			if err != nil { // the client connection is out of step or gone: nothing more to learn
				t.Fatalf("reading %d bytes (id %d) over the %s: %s", len(v.data), v.id, r.name, describeErr(err))
			}
			if !bytes.Equal(got, v.data) {
				t.Errorf("id %d over the %s: got %d bytes, want %d, first difference at %d",
					v.id, r.name, len(got), len(v.data), firstDiff(got, v.data))
			}
		}
	}
	// Checked against the server itself.
	for _, v := range values {
		q := "SELECT LENGTH(" + v.col + "), MD5(" + v.col + ") FROM large_rows WHERE id = ?"
		var n int
		var sum, psum string
		if err := direct.QueryRow(q, v.id).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != len(v.data) {
			t.Errorf("id %d: stored %d bytes, want %d", v.id, n, len(v.data))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := text.QueryRowContext(ctx, q, v.id).Scan(&n, &psum)
		cancel()
		if err != nil {
			t.Errorf("MD5 through the proxy: %s", describeErr(err))
		} else if psum != sum {
			t.Errorf("id %d: MD5 through the proxy %s, direct %s", v.id, psum, sum)
		}
	}
	mustWork(t, "text client after the large rows", text)
	mustWork(t, "prepared-statement client after the large rows", prepared)
}

// randomText returns n bytes of UTF-8 text: random printable ASCII (quotes and backslashes
// included) copied in blocks from a random base (a byte-by-byte loop over megabytes is slow under
// the race detector), with multi-byte characters sprinkled over it.
func randomText(src *rand.ChaCha8, n int) []byte {
	rng := rand.New(src)
	base := randomBytes(src, 1<<20)
	for i, c := range base {
		base[i] = ' ' + c%95
	}
	b := make([]byte, 0, n)
	for len(b) < n {
		off := rng.IntN(len(base) / 2)
		b = append(b, base[off:off+min(len(base)/2, n-len(b))]...)
	}
	multi := []string{"é", "€", "ß", "日本", "😀"}
	for range n / 512 {
		m := multi[rng.IntN(len(multi))]
		at := rng.IntN(n - len(m))
		if bytes.IndexFunc(b[at:at+len(m)], func(r rune) bool { return r >= 0x80 }) < 0 {
			copy(b[at:], m)
		}
	}
	return b
}

// randomBytes returns n random bytes, every value possible.
func randomBytes(src *rand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	_, _ = src.Read(b)
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
