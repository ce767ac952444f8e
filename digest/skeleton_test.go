package digest

import (
	"math/rand/v2"
	"testing"

	"github.com/pingcap/tidb/pkg/parser"
)

func TestSkeleton(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = ?"},
		{"SELECT 'it''s', \"a\\\"b\", 1.5, -3", "SELECT ?, ?, ?, -?"},
		{"INSERT INTO t1 VALUES (1,'x'),(2,'y')", "INSERT INTO t1 VALUES (?,?),(?,?)"},
		// Kept: names with digits, exponent and hex forms, column and variable names, positions.
		{"SELECT t2.c3, 1e5, 0x1F, t.1, @1, 2. FROM db9.t", "SELECT t2.c3, 1e5, 0x1F, t.1, @1, 2. FROM db9.t"},
		{"SELECT a FROM t WHERE b = 7 ORDER BY 1 LIMIT 10", "SELECT a FROM t WHERE b = ? ORDER BY 1 LIMIT 10"},
		// Comments and quoted names pass as they are.
		{"/*!40101 SET x = 1 */ SELECT `a 1` -- 5\n, 6 # 7", "/*!40101 SET x = 1 */ SELECT `a 1` -- 5\n, ? # 7"},
	} {
		got, ok := skeleton(nil, []byte(tc.in))
		if !ok || string(got) != tc.want {
			t.Errorf("skeleton(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"SELECT 'open", "SELECT `open", "SELECT /* open"} {
		if _, ok := skeleton(nil, []byte(bad)); ok {
			t.Errorf("skeleton(%q) ok, want not", bad)
		}
	}
}

// FuzzSkeletonDigest checks what the worker's cache relies on: two statements with the same
// skeleton have the same digest. The second statement is the first with some of its letters and
// digits changed; when that leaves the skeleton as it was (only literals changed), the digests
// must agree.
func FuzzSkeletonDigest(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t WHERE id = 1", "SELECT a FROM t ORDER BY 1, 2", "SELECT a FROM t GROUP BY (1, 2)",
		"SELECT a FROM t ORDER BY a, 1", "SELECT 'a\\'b', \"c\", 'd''e'", "INSERT INTO t VALUES (1,'a'),(2,'b')",
		"SELECT t.1, @1, 1e5, 0x1F, x'0F', b'01', _utf8mb4'z', N'q'", "SELECT -1, +2, 3 - 4, (5)",
		"/*!50000 SELECT 1 */", "SELECT 1 -- 2\n+ 3", "SELECT a IN (1, 2, 3) FROM t LIMIT 5 OFFSET 6",
		"SELECT 1.5, .5, 5., 1.e5", "UPDATE t SET a = 'x' WHERE b IN ('y', 'z')",
	} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, sql string, seed uint64) {
		if len(sql) > MaxText {
			return
		}
		a := []byte(sql)
		b := mutate(a, seed)
		ska, oka := skeleton(nil, a)
		skb, okb := skeleton(nil, b)
		if !oka || !okb || string(ska) != string(skb) {
			return
		}
		_, da := parser.NormalizeDigest(string(a))
		_, db := parser.NormalizeDigest(string(b))
		if da.String() != db.String() {
			t.Fatalf("same skeleton %q, different digests:\n%q\n%q", ska, a, b)
		}
	})
}

// mutate changes some letters and digits of s into others of the same kind.
func mutate(s []byte, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed>>32|1))
	out := append([]byte(nil), s...)
	for i, c := range out {
		if r.IntN(3) != 0 {
			continue
		}
		switch {
		case isDigit(c):
			out[i] = byte('0' + r.IntN(10))
		case c >= 'a' && c <= 'z':
			out[i] = byte('a' + r.IntN(26))
		case c >= 'A' && c <= 'Z':
			out[i] = byte('A' + r.IntN(26))
		}
	}
	return out
}
