package proxy

import "testing"

func TestClassify(t *testing.T) {
	cases := []struct {
		q    string
		kw   keyword
		pins PinReason
	}{
		{"SELECT 1", kwSelect, 0},
		{"  select c from sbtest1 where id=5", kwSelect, 0},
		{"/* hi */ SeLeCt 1", kwSelect, 0},
		{"-- comment\nSELECT 1", kwSelect, 0},
		{"# comment\nINSERT INTO t VALUES (1)", kwInsert, 0},
		{"(SELECT 1) UNION (SELECT 2)", kwSelect, 0},
		{"WITH x AS (SELECT 1) SELECT * FROM x", kwWith, 0},
		{"INSERT INTO users (email) VALUES ('a@b.com')", kwInsert, 0},
		{"SELECT 'it''s @x; SET @y=1'", kwSelect, 0},
		{`SELECT "a\"@b"`, kwSelect, 0},
		{"SELECT `weird@col` FROM t", kwSelect, 0},
		{"SELECT @@session.sql_mode, @@tx_isolation", kwSelect, 0},
		{"SELECT 1;", kwSelect, 0},
		{"SELECT 1; -- trailing", kwSelect, 0},
		{"BEGIN", kwBegin, 0},
		{"START TRANSACTION READ ONLY", kwStart, 0},
		{"COMMIT", kwCommit, 0},
		{"SET NAMES utf8mb4", kwSet, PinSet},
		{"set @x = 1", kwSet, PinSet | PinUserVariable},
		{"SELECT @x", kwSelect, PinUserVariable},
		{"SELECT c INTO @v FROM t", kwSelect, PinUserVariable},
		{"SELECT 1; CREATE TEMPORARY TABLE t (a int)", kwSelect, PinMultiStatement},
		{"CREATE TEMPORARY TABLE t (a int)", kwCreate, PinTempTable},
		{"CREATE TABLE t (a int)", kwCreate, 0},
		{"LOCK TABLES t WRITE", kwLock, PinLockTables},
		{"UNLOCK TABLES", kwUnlock, PinLockTables},
		{"FLUSH TABLES WITH READ LOCK", kwFlush, PinLockTables},
		{"SELECT GET_LOCK('k', 0)", kwSelect, PinGetLock},
		{"SELECT get_lock ('k', 0)", kwSelect, PinGetLock},
		{"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", kwSelect, PinFoundRows},
		{"PREPARE s FROM 'SELECT 1'", kwPrepare, PinPrepare},
		{"CALL p()", kwCall, PinCall},
		{"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", kwSet, PinSet | PinUserVariable},
		{"/*M!100100 SET sql_mode='' */", kwSet, PinSet},
		{"HANDLER t OPEN", kwHandler, PinOther},
		{"XA START 'x'", kwXA, PinOther},
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE t", kwLoad, PinOther},
		{"FOOBAR", kwOther, PinOther},
		{"", kwOther, PinOther},
		{"/* unterminated", kwOther, PinOther},
	}
	for _, c := range cases {
		info := classify([]byte(c.q))
		if info.kw != c.kw || pinsFor(info) != c.pins {
			t.Errorf("%q: keyword %d pins %q, want %d %q", c.q, info.kw, pinsFor(info), c.kw, c.pins)
		}
	}
	if !classify([]byte("SELECT LAST_INSERT_ID()")).has(featLastInsertID) {
		t.Error("LAST_INSERT_ID not seen")
	}
}

func TestPinReasonString(t *testing.T) {
	if s := (PinTransaction | PinTempTable).String(); s != "transaction,temp_table" {
		t.Fatal(s)
	}
	if s := PinReason(0).String(); s != "" {
		t.Fatal(s)
	}
}

func BenchmarkClassify(b *testing.B) {
	for _, q := range []string{
		"SELECT c FROM sbtest1 WHERE id=5021",
		"INSERT INTO sbtest1 (k, c, pad) VALUES (5021, '68487932199-96439406143-93774651418-41631865787', '22195207048-70116052123')",
		"SET NAMES utf8mb4",
	} {
		b.Run(q[:10], func(b *testing.B) {
			p := []byte(q)
			b.ReportAllocs()
			for b.Loop() {
				classify(p)
			}
		})
	}
}
