package proxy

import "testing"

func TestRewriteReads(t *testing.T) {
	ans := func(k readKind) (string, bool) {
		switch k {
		case readLastGTID:
			return "'0-1-5'", true
		case readFoundRows:
			return "7", true
		case readRowCount:
			return "-1", true
		case readWarningCount:
			return "2", true
		}
		return "", false
	}
	for _, c := range []struct{ in, want string }{
		{"SELECT @@last_gtid", "SELECT '0-1-5' AS `@@last_gtid`"},
		{"SELECT @x, @@last_gtid", "SELECT @x, '0-1-5' AS `@@last_gtid`"},
		{"select @@LAST_GTID, 1 from dual", "select '0-1-5' AS `@@LAST_GTID`, 1 from dual"},
		{"SELECT @@session.last_gtid;", "SELECT '0-1-5' AS `@@session.last_gtid`;"},
		{"SELECT @@last_gtid AS g", "SELECT '0-1-5' AS g"},
		{"SELECT @@last_gtid g", "SELECT '0-1-5' g"},
		{"SELECT CONCAT(@@last_gtid, 'x')", "SELECT CONCAT('0-1-5', 'x')"},
		{"SELECT 1 FROM t WHERE g = @@last_gtid", "SELECT 1 FROM t WHERE g = '0-1-5'"},
		{"SET @g = @@last_gtid", "SET @g = '0-1-5'"},
		{"SELECT '@@last_gtid', @@last_gtid /* @@last_gtid */", "SELECT '@@last_gtid', '0-1-5' AS `@@last_gtid` /* @@last_gtid */"},
		{"SELECT (SELECT @@last_gtid)", "SELECT (SELECT '0-1-5' AS `@@last_gtid`)"},
		{"SELECT FOUND_ROWS()", "SELECT 7 AS `FOUND_ROWS()`"},
		{"SELECT found_rows( ), ROW_COUNT()", "SELECT 7 AS `found_rows( )`, -1 AS `ROW_COUNT()`"},
		{"SELECT @@warning_count", "SELECT 2 AS `@@warning_count`"},
		{"SELECT FOUND_ROWS(); SELECT FOUND_ROWS(), @@last_gtid", "SELECT 7 AS `FOUND_ROWS()`; SELECT FOUND_ROWS(), '0-1-5' AS `@@last_gtid`"},
		{"INSERT INTO t VALUES (1); SELECT @@last_gtid", ""},
		{"SELECT @@global.last_gtid", ""},
		{"SELECT @@last_gtid_x", ""},
		{"SELECT FOUND_ROWS", ""},
		{"SELECT 1", ""},
	} {
		got, ok := rewriteReads(nil, []byte(c.in), lexMode{}, ans)
		if c.want == "" {
			if ok {
				t.Errorf("%q: rewritten to %q, want untouched", c.in, got)
			}
			continue
		}
		if !ok || string(got) != c.want {
			t.Errorf("%q: got %q (%v), want %q", c.in, got, ok, c.want)
		}
	}
}
