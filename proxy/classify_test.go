package proxy

import "testing"

func TestAnalyze(t *testing.T) {
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
		{"SET NAMES utf8mb4", kwSet, 0},
		{"SET SESSION sql_mode='ANSI', time_zone='+00:00'", kwSet, 0},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", kwSet, 0},
		{"SET GLOBAL max_connections=10", kwSet, 0},
		{"set @x = 1", kwSet, 0},
		{"SET @m = @@sql_mode", kwSet, PinUserVariable},
		{"SET insert_id = 5", kwSet, PinUntracked},
		{"SET session_track_system_variables = ''", kwSet, PinUntracked},
		{"SET ROLE r1", kwSet, PinSet},
		{"SET STATEMENT max_statement_time=1 FOR SELECT 1", kwSet, 0},
		{"SELECT @x", kwSelect, 0},
		{"INSERT INTO t VALUES (@x)", kwInsert, 0},
		{"SELECT c INTO @v FROM t", kwSelect, PinUserVariable},
		{"SELECT @v := 1", kwSelect, PinUserVariable},
		{"SELECT 1; CREATE TEMPORARY TABLE t (a int)", kwSelect, 0},
		{"CREATE TEMPORARY TABLE t (a int)", kwCreate, PinTempTable},
		{"CREATE TABLE t (a int)", kwCreate, 0},
		{"LOCK TABLES t WRITE", kwLock, PinLockTables},
		{"UNLOCK TABLES", kwUnlock, 0},
		{"FLUSH TABLES WITH READ LOCK", kwFlush, PinLockTables},
		{"SELECT GET_LOCK('k', 0)", kwSelect, PinGetLock},
		{"SELECT get_lock ('k', 0)", kwSelect, PinGetLock},
		{"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", kwSelect, 0},
		{"SELECT LAST_INSERT_ID()", kwSelect, 0},
		{"SELECT LAST_INSERT_ID(5)", kwSelect, PinUntracked},
		{"UPDATE t SET id = LAST_INSERT_ID(id + 1)", kwUpdate, 0},
		{"PREPARE s FROM 'SELECT 1'", kwPrepare, PinPrepare},
		{"CALL p()", kwCall, 0},
		{"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", kwSet, PinUserVariable},
		{"/*M!100100 SET sql_mode='' */", kwSet, 0},
		{"HANDLER t OPEN", kwHandler, PinOther},
		{"XA START 'x'", kwXA, PinXA},
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE t", kwLoad, 0},
		{"FOOBAR", kwOther, PinOther},
		{"", kwOther, PinOther},
		{"/* unterminated", kwOther, PinOther},
	}
	var ps parsers
	for _, c := range cases {
		pl := ps.analyze([]byte(c.q), "test", false)
		if pl.info.kw != c.kw || pl.pins != c.pins {
			t.Errorf("%q: keyword %d pins %q, want %d %q", c.q, pl.info.kw, pl.pins, c.kw, c.pins)
		}
	}
}

func TestAnalyzeEffects(t *testing.T) {
	var ps parsers
	pl := ps.analyze([]byte("SET @a = 'x''y', @b := -5, @c = NULL"), "test", false)
	if pl.userVars["a"] != "'x''y'" || pl.userVars["b"] != "-5" || pl.userVars["c"] != "NULL" {
		t.Errorf("user vars: %q", pl.userVars)
	}
	if pl = ps.analyze([]byte("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"), "test", false); pl.collation != "utf8mb4_unicode_ci" {
		t.Errorf("collation %q", pl.collation)
	}
	if pl = ps.analyze([]byte("CREATE TEMPORARY TABLE tmp1 (a int)"), "test", false); len(pl.tempCreate) != 1 || pl.tempCreate[0] != "test.tmp1" {
		t.Errorf("temp create %q", pl.tempCreate)
	}
	if pl = ps.analyze([]byte("DROP TABLE tmp1, other.t2"), "test", true); len(pl.tempDrop) != 2 || pl.tempDrop[1] != "other.t2" {
		t.Errorf("temp drop %q", pl.tempDrop)
	}
	if pl = ps.analyze([]byte("SELECT GET_LOCK('a', 1), GET_LOCK('b', 1)"), "test", false); len(pl.lockNames) != 2 || pl.unknownLock {
		t.Errorf("locks %q unknown=%v", pl.lockNames, pl.unknownLock)
	}
	if pl = ps.analyze([]byte("SELECT GET_LOCK(CONCAT('a', id), 1) FROM t"), "test", false); !pl.unknownLock {
		t.Error("a computed lock name must be unknown")
	}
	if pl = ps.analyze([]byte("DEALLOCATE PREPARE s1"), "test", false); pl.deallocate != "s1" {
		t.Errorf("deallocate %q", pl.deallocate)
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

// FuzzAnalyze: any query text is classified without panicking, and the lexer never reports a
// statement as harmless that the parser-backed analysis pins (a keyword it recognised).
func FuzzAnalyze(f *testing.F) {
	for _, q := range []string{"SELECT 1", "SET @x = 'a', NAMES utf8mb4", "/*!40101 SET @a=1*/;",
		"CREATE TEMPORARY TABLE t (a int)", "SELECT GET_LOCK('k', 1)", "SELECT 'unterminated",
		"DROP TABLE t1, t2", "PREPARE s FROM 'SELECT ?'", "XA START 'x'", "/*M!100100 SET sql_mode='' */"} {
		f.Add(q)
	}
	var ps parsers
	f.Fuzz(func(t *testing.T, q string) {
		pl := ps.analyze([]byte(q), "test", true)
		if again := ps.analyze([]byte(q), "test", true); again.pins != pl.pins || again.info != pl.info {
			t.Fatalf("%q analysed twice differently", q)
		}
	})
}

func TestParseKill(t *testing.T) {
	for _, c := range []struct {
		q     string
		query bool
		id    uint64
		ok    bool
	}{
		{"KILL 10001", false, 10001, true},
		{"kill connection 7;", false, 7, true},
		{"KILL QUERY 12", true, 12, true},
		{"KILL HARD QUERY 12", true, 12, true},
		{"KILL QUERY ID 12", false, 0, false},
		{"KILL USER app", false, 0, false},
		{"KILL 5; SELECT 1", false, 0, false},
	} {
		query, id, ok := parseKill([]byte(c.q))
		if query != c.query || id != c.id || ok != c.ok {
			t.Errorf("%q: %v %d %v", c.q, query, id, ok)
		}
	}
}

func TestLastInsertIDReads(t *testing.T) {
	for _, q := range []string{"SELECT LAST_INSERT_ID()", "SELECT @@session.last_insert_id", "SELECT @@IDENTITY",
		"INSERT INTO t2 VALUES (LAST_INSERT_ID())"} {
		if !classify([]byte(q)).has(featLastInsertID) {
			t.Errorf("%q: the read of the last insert id is not seen", q)
		}
	}
	if classify([]byte("SELECT @@session.sql_mode")).has(featLastInsertID) {
		t.Error("@@sql_mode taken for a last insert id read")
	}
}
