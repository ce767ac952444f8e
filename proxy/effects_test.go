package proxy

import (
	"slices"
	"testing"
)

func testCtx() *analysisCtx {
	return &analysisCtx{db: "test", clientCharset: "utf8mb4", charset: "utf8mb4", collation: "utf8mb4_general_ci"}
}

func TestEffectsPins(t *testing.T) {
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
		{"WITH RECURSIVE x (n) AS (SELECT 1 UNION ALL SELECT n+1 FROM x WHERE n < 3) SELECT * FROM x", kwWith, 0},
		{"WITH a (x) AS (SELECT 1), b (y) AS (SELECT 2) SELECT * FROM a, b", kwWith, 0},
		{"INSERT INTO users (email) VALUES ('a@b.com')", kwInsert, 0},
		{"INSERT INTO test.users (email) VALUES (CONCAT('a', NOW()))", kwInsert, 0},
		{"INSERT IGNORE users (email) VALUES ('x')", kwInsert, 0},
		{"REPLACE INTO t (a) SELECT a FROM u", kwReplace, 0},
		{"UPDATE t SET a = a + 1, b = UPPER(b) WHERE id IN (1, 2)", kwUpdate, 0},
		{"SELECT CAST(a AS DECIMAL(10,2)), CONVERT(b, CHAR(3)) FROM t", kwSelect, 0},
		{"SELECT COUNT(*), MAX(a) OVER (PARTITION BY b) FROM t GROUP BY b", kwSelect, 0},
		{"SELECT * FROM t WHERE EXISTS (SELECT 1) AND a IN (SELECT b FROM u)", kwSelect, 0},
		{"SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a INT PATH '$')) AS j", kwSelect, 0},
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
		{"SET @m = @@sql_mode", kwSet, 0}, // read back
		{"SET @f = myfunc()", kwSet, PinRoutine},
		{"SET insert_id = 5", kwSet, PinUntracked},
		{"SET session_track_system_variables = ''", kwSet, PinUntracked},
		{"SET ROLE r1", kwSet, PinUnknown},
		{"SET STATEMENT max_statement_time=1 FOR SELECT 1", kwSet, 0},
		{"SET STATEMENT sql_mode='' FOR LOCK TABLES t READ", kwSet, PinLockTables},
		{"SET STATEMENT sql_mode='' FOR CREATE TEMPORARY TABLE tt (a int)", kwSet, PinTempTable},
		{"SET STATEMENT sql_mode='' FOR HANDLER t OPEN", kwSet, PinHandler},
		{"SELECT @x", kwSelect, 0},
		{"INSERT INTO t VALUES (@x)", kwInsert, 0},
		{"CREATE TEMPORARY TABLE t (a int)", kwCreate, PinTempTable},
		{"CREATE TABLE t (a int DEFAULT 0, KEY k (a))", kwCreate, 0},
		{"CREATE TABLE t2 AS SELECT myfunc(a) FROM t", kwCreate, PinRoutine},
		{"CREATE PROCEDURE p() BEGIN SET @x = 1; SELECT GET_LOCK('k', 0); END", kwCreate, 0},
		{"CREATE DEFINER=`app`@`%` FUNCTION f() RETURNS INT BEGIN DECLARE x INT; SET x = 1; RETURN x; END", kwCreate, 0},
		{"CREATE PROCEDURE p() BEGIN SELECT 1; END; SELECT GET_LOCK('k', 0)", kwCreate, PinGetLock},
		{"CREATE VIEW v (a) AS SELECT myfunc(1)", kwCreate, 0},
		{"CREATE INDEX i ON t (a, b)", kwCreate, 0},
		{"LOCK TABLES t WRITE", kwLock, PinLockTables},
		{"UNLOCK TABLES", kwUnlock, 0},
		{"FLUSH TABLES WITH READ LOCK", kwFlush, PinLockTables},
		{"FLUSH TABLES t FOR EXPORT", kwFlush, PinLockTables},
		{"FLUSH PRIVILEGES", kwFlush, 0},
		{"SELECT GET_LOCK('k', 0)", kwSelect, PinGetLock},
		{"SELECT get_lock ('k', 0)", kwSelect, PinGetLock},
		{"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", kwSelect, 0},
		{"SELECT LAST_INSERT_ID()", kwSelect, 0},
		{"UPDATE t SET id = LAST_INSERT_ID(id + 1)", kwUpdate, 0},
		{"PREPARE s FROM 'SELECT 1'", kwPrepare, 0}, // the name pins, through the session's set
		{"CALL p()", kwCall, PinRoutine},
		{"CALL p(@o, @io)", kwCall, PinRoutine},
		{"SELECT myfunc(1)", kwSelect, PinRoutine},
		{"SELECT test.f(1) FROM t", kwSelect, PinRoutine},
		{"SELECT `f`(1)", kwSelect, PinRoutine},
		{"DO f()", kwDo, PinRoutine},
		{"SELECT NEXTVAL(s)", kwSelect, PinSequence},
		{"SELECT NEXT VALUE FOR s", kwSelect, PinSequence},
		{"SELECT PREVIOUS VALUE FOR s", kwSelect, PinSequence},
		{"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", kwSet, 0},
		{"/*M!100100 SET sql_mode='' */", kwSet, 0},
		{"HANDLER t OPEN", kwHandler, PinHandler},
		{"HANDLER t READ FIRST", kwHandler, 0},
		{"XA START 'x'", kwXA, PinXA},
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE t", kwLoad, 0},
		{"EXECUTE IMMEDIATE 'SET @v = 42'", kwExecute, 0},
		{"EXECUTE IMMEDIATE 'CREATE TEMPORARY TABLE t (a int)'", kwExecute, PinTempTable},
		{"EXECUTE IMMEDIATE 'SELECT GET_LOCK(''k'', 0)'", kwExecute, PinGetLock},
		{"EXECUTE IMMEDIATE 'HANDLER t OPEN'", kwExecute, PinHandler},
		{"EXECUTE IMMEDIATE 'LOCK TABLES t READ'", kwExecute, PinLockTables},
		{"EXECUTE IMMEDIATE CONCAT('SELECT ', 1)", kwExecute, PinUnknown},
		{"EXECUTE IMMEDIATE @sql", kwExecute, PinUnknown},
		{"EXECUTE s", kwExecute, PinUnknown},
		{"BEGIN NOT ATOMIC SELECT 1; END", kwBegin, PinRoutine},
		{"SELECT GET_LOCK('k',0); SELECT 1", kwSelect, PinGetLock},
		{"LOCK TABLES t READ; SELECT 1", kwLock, PinLockTables},
		{"HANDLER t OPEN; SELECT 1", kwHandler, PinHandler},
		{"FLUSH TABLES WITH READ LOCK; SELECT 1", kwFlush, PinLockTables},
		{"SELECT 1; CREATE TEMPORARY TABLE t (a int)", kwSelect, PinTempTable},
		{"BINLOG 'abc'", kwOther, PinUnknown},
		{"BACKUP STAGE START", kwOther, PinUnknown},
		{"FOOBAR", kwOther, PinUnknown},
		{"SHOW WARNINGS", kwShow, 0},
		{"HELP 'select'", kwHarmless, 0},
		{"", kwOther, 0},
		{";", kwOther, 0},
		{"/* unterminated", kwOther, 0},
	}
	var ps parsers
	for _, c := range cases {
		e := ps.effectsOf([]byte(c.q), testCtx())
		if e.kw != c.kw || e.pins != c.pins {
			t.Errorf("%q: keyword %d pins %q, want %d %q", c.q, e.kw, e.pins, c.kw, c.pins)
		}
	}
}

func TestEffectsAssigned(t *testing.T) {
	var ps parsers
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"SELECT c INTO @v FROM t", []string{"v"}},
		{"SELECT 5 INTO /*c*/ @v", []string{"v"}},
		{"SELECT 1, 2 INTO @a, @`B c`", []string{"a", "b c"}},
		{"SELECT @v := 1, @w:=2", []string{"v", "w"}},
		{"SET @m = @@sql_mode, @n = 1", []string{"m"}},
		{"SELECT 1 INTO OUTFILE '/tmp/x'", nil},
		{"SET STATEMENT sql_mode='' FOR SELECT 8 INTO @v", []string{"v"}},
		{"EXECUTE IMMEDIATE 'SELECT 9 INTO @x'", []string{"x"}},
		{"GET DIAGNOSTICS @n = NUMBER", []string{"n"}},
		{"SET NAMES latin1, @l = 'x'", []string{"l"}}, // read in a character set the statement changes
	} {
		e := ps.effectsOf([]byte(c.q), testCtx())
		if !slices.Equal(e.assigned, c.want) {
			t.Errorf("%q: assigned %q, want %q", c.q, e.assigned, c.want)
		}
	}
}

func TestEffectsFoundRows(t *testing.T) {
	var ps parsers
	for _, c := range []struct {
		q    string
		want foundRowsEffect
	}{
		{"SELECT id FROM t WHERE id > 3 LIMIT 1", frRows},
		{"WITH c AS (SELECT 1) SELECT * FROM c", frRows},
		{"SELECT id FROM t LIMIT 2, 2", frUnknown},
		{"SELECT id FROM t LIMIT ?, ?", frUnknown},
		{"SELECT id FROM t LIMIT 2 OFFSET 4", frUnknown},
		{"SELECT id FROM t UNION SELECT 1 LIMIT 3", frUnknown},
		{"SELECT a, COUNT(*) FROM t GROUP BY a WITH ROLLUP", frUnknown},
		{"SELECT SQL_CALC_FOUND_ROWS id FROM t LIMIT 1", frUnknown},
		{"SELECT id INTO @x FROM t LIMIT 1", frUnknown},
		{"SELECT 1; SELECT 2", frUnknown},
		{"SHOW TABLES", frUnknown},
		{"SHOW WARNINGS LIMIT 2", frNone},
		{"SHOW COUNT(*) ERRORS", frRows},
		{"INSERT INTO t (a) VALUES (1)", frNone},
		{"INSERT INTO t (a) SELECT a FROM u", frUnknown},
		{"UPDATE t SET a = 1, b = 2 WHERE id = 3", frNone},
		{"UPDATE t, u SET t.a = u.a WHERE t.id = u.id", frUnknown},
		{"UPDATE t JOIN u ON u.id = t.id SET t.a = 1", frUnknown},
		{"UPDATE t SET a = 1 WHERE id IN (SELECT id FROM u)", frUnknown},
		{"DELETE FROM t WHERE id = 1", frNone},
		{"DELETE t FROM t, u WHERE t.id = u.id", frUnknown},
		{"DELETE FROM t USING t JOIN u ON u.id = t.id", frUnknown},
		{"SET @a = 1, sql_mode = ''", frNone},
		{"SET @a = (SELECT MAX(id) FROM t)", frUnknown},
		{"SET STATEMENT max_statement_time = 1 FOR UPDATE t SET a = 1", frUnknown},
		{"CREATE TABLE t2 (a INT)", frNone},
		{"CREATE TABLE t2 AS SELECT 1", frUnknown},
		{"CALL p()", frUnknown},
		{"EXECUTE s", frUnknown},
	} {
		e := ps.effectsOf([]byte(c.q), testCtx())
		if got := e.foundRows(); got != c.want {
			t.Errorf("%q: foundRows %d, want %d", c.q, got, c.want)
		}
	}
}

func TestEffectsUserVarsExact(t *testing.T) {
	var ps parsers
	e := ps.effectsOf([]byte(`SET @a = 'x''y', @b := -5, @c = NULL, @d = _latin1'abc', @e = X'00ff', @f = 1.50, @g = 'a\nb', @h = _latin1 X'E9', @i = _utf8mb4 0x41 COLLATE utf8mb4_bin, @j = _binary 'a'`), testCtx())
	want := map[string]string{
		"a": "_utf8mb4 X'782779' COLLATE `utf8mb4_general_ci`",
		"b": "-5",
		"d": "_latin1 X'616263'",
		"e": "X'00ff'",
		"f": "1.50",
		"g": "_utf8mb4 X'610a62' COLLATE `utf8mb4_general_ci`",
		// A hex literal with an introducer is a string of that character set, not binary.
		"h": "_latin1 X'e9'",
		"i": "_utf8mb4 X'41' COLLATE `utf8mb4_bin`",
		"j": "_binary X'61'",
	}
	for k, v := range want {
		if e.userVars[k] != v {
			t.Errorf("@%s = %q, want %q", k, e.userVars[k], v)
		}
	}
	// NULL keeps the type the variable had: read back, not recorded.
	if _, ok := e.userVars["c"]; ok || !slices.Contains(e.assigned, "c") {
		t.Errorf("@c = NULL: recorded as %q, assigned %q; want it read back", e.userVars["c"], e.assigned)
	}
	// Under NO_BACKSLASH_ESCAPES a backslash is a character of the string.
	ctx := testCtx()
	ctx.sqlMode, ctx.mode = "NO_BACKSLASH_ESCAPES", lexMode{noBackslash: true}
	e = ps.effectsOf([]byte(`SET @nb = 'a\nb\\c'`), ctx)
	if got := e.userVars["nb"]; got != "_utf8mb4 X'615c6e625c5c63' COLLATE `utf8mb4_general_ci`" {
		t.Errorf("@nb = %q", got)
	}
	// A client writing latin1 to a utf8mb4 connection: converted as the server converts it.
	ctx = testCtx()
	ctx.clientCharset = "latin1"
	e = ps.effectsOf([]byte(`SET @l = 'x'`), ctx)
	if got := e.userVars["l"]; got != "CONVERT(_latin1 X'78' USING utf8mb4) COLLATE `utf8mb4_general_ci`" {
		t.Errorf("@l = %q", got)
	}
}

func TestEffectsNames(t *testing.T) {
	var ps parsers
	if e := ps.effectsOf([]byte("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"), testCtx()); e.collation != "utf8mb4_unicode_ci" {
		t.Errorf("collation %q", e.collation)
	}
	if e := ps.effectsOf([]byte("CREATE TEMPORARY TABLE IF NOT EXISTS tmp1 (a int)"), testCtx()); !slices.Equal(e.tempCreate, []string{"test.tmp1"}) {
		t.Errorf("temp create %q", e.tempCreate)
	}
	ctx := testCtx()
	ctx.hasTemp = true
	if e := ps.effectsOf([]byte("DROP TABLE tmp1, other.T2"), ctx); !slices.Equal(e.tempDrop, []string{"test.tmp1", "other.T2"}) {
		t.Errorf("temp drop %q", e.tempDrop)
	}
	ctx.foldNames = true
	if e := ps.effectsOf([]byte("DROP TEMPORARY TABLE IF EXISTS `Tmp1`"), ctx); !slices.Equal(e.tempDrop, []string{"test.tmp1"}) {
		t.Errorf("folded temp drop %q", e.tempDrop)
	}
	if e := ps.effectsOf([]byte("SELECT GET_LOCK('a', 1), GET_LOCK('b''c', 1)"), testCtx()); !slices.Equal(e.lockNames, []string{"a", "b'c"}) || e.lockUnknown {
		t.Errorf("locks %q unknown=%v", e.lockNames, e.lockUnknown)
	}
	if e := ps.effectsOf([]byte("SELECT GET_LOCK(CONCAT('a', id), 1) FROM t"), testCtx()); !e.lockUnknown {
		t.Error("a computed lock name must be unknown")
	}
	if e := ps.effectsOf([]byte("DEALLOCATE PREPARE S1"), testCtx()); e.deallocate != "s1" {
		t.Errorf("deallocate %q", e.deallocate)
	}
	e := ps.effectsOf([]byte("PREPARE s FROM 'SELECT 7 INTO @pv'"), testCtx())
	if e.prepare != "s" || e.prepared == nil || !slices.Equal(e.prepared.assigned, []string{"pv"}) {
		t.Errorf("prepare %q %+v", e.prepare, e.prepared)
	}
	if e := ps.effectsOf([]byte("PREPARE s FROM @q"), testCtx()); e.prepare != "s" || e.prepared != nil {
		t.Errorf("prepare from a variable: %q %+v", e.prepare, e.prepared)
	}
	if e := ps.effectsOf([]byte("HANDLER test.t OPEN AS h"), testCtx()); !slices.Equal(e.handlerOpen, []string{"h"}) {
		t.Errorf("handler open %q", e.handlerOpen)
	}
	if e := ps.effectsOf([]byte("COMMIT RELEASE"), testCtx()); !e.release {
		t.Error("COMMIT RELEASE ends the connection")
	}
	if e := ps.effectsOf([]byte("COMMIT AND NO CHAIN NO RELEASE"), testCtx()); e.release {
		t.Error("NO RELEASE does not")
	}
	if e := ps.effectsOf([]byte("SELECT 1; SELECT 2"), testCtx()); !e.multi {
		t.Error("two statements are a multi-statement")
	}
	if e := ps.effectsOf([]byte("SHOW WARNINGS"), testCtx()); !e.diagOnly {
		t.Error("SHOW WARNINGS only reads the diagnostics area")
	}
	if e := ps.effectsOf([]byte("SELECT @@warning_count"), testCtx()); !e.diagOnly {
		t.Error("SELECT @@warning_count only reads the diagnostics area")
	}
}

func TestEffectsNoBackslashLexing(t *testing.T) {
	// Under NO_BACKSLASH_ESCAPES, 'a\' is a whole string: what follows is a second statement.
	var ps parsers
	ctx := testCtx()
	ctx.sqlMode, ctx.mode = "NO_BACKSLASH_ESCAPES", lexMode{noBackslash: true}
	e := ps.effectsOf([]byte(`SELECT 'a\'; SELECT GET_LOCK('k', 0) -- '`), ctx)
	if !e.multi || e.pins&PinGetLock == 0 {
		t.Errorf("multi %v pins %q", e.multi, e.pins)
	}
	// Under ANSI_QUOTES, "f"(1) calls a function named f.
	ctx = testCtx()
	ctx.sqlMode, ctx.mode = "ANSI_QUOTES", lexMode{ansiQuotes: true}
	if e := ps.effectsOf([]byte(`SELECT "f"(1)`), ctx); e.pins&PinRoutine == 0 {
		t.Errorf("pins %q", e.pins)
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

func BenchmarkEffects(b *testing.B) {
	var ps parsers
	ctx := testCtx()
	for _, q := range []string{
		"SELECT c FROM sbtest1 WHERE id=5021",
		"INSERT INTO sbtest1 (k, c, pad) VALUES (5021, '68487932199-96439406143-93774651418-41631865787', '22195207048-70116052123')",
		"SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 5021 AND 5120 ORDER BY c",
		"SET NAMES utf8mb4",
	} {
		b.Run(q[:10], func(b *testing.B) {
			p := []byte(q)
			b.ReportAllocs()
			for b.Loop() {
				ps.effectsOf(p, ctx)
			}
		})
	}
}

func TestEffectsTwoPreparesPinUntilReset(t *testing.T) {
	var ps parsers
	for _, q := range []string{
		"PREPARE s2 FROM 'SELECT 7 INTO @pv'; PREPARE s3 FROM 'SELECT 1'",
		"DEALLOCATE PREPARE s2; PREPARE s2 FROM 'SELECT 1'",
		"PREPARE s2 FROM 'SELECT 1'; DROP PREPARE s2",
	} {
		if e := ps.effectsOf([]byte(q), testCtx()); e.pins&(PinPrepare|PinUnknown) != PinPrepare|PinUnknown {
			t.Errorf("%q: pins %v, want prepared_statement and unknown_statement", q, e.pins)
		}
	}
	if e := ps.effectsOf([]byte("PREPARE s2 FROM 'SELECT 1'"), testCtx()); e.pins&PinUnknown != 0 || e.prepare != "s2" {
		t.Errorf("one PREPARE: pins %v, prepare %q", e.pins, e.prepare)
	}
}

// TestUsesTablesPrepareExecuteFlush: PREPARE, EXECUTE and EXECUTE IMMEDIATE start a new diagnostics
// area only when the text they prepare or run uses a table, FLUSH only when it names tables
// (MariaDB 10.11).
func TestUsesTablesPrepareExecuteFlush(t *testing.T) {
	var ps parsers
	ctx := testCtx()
	texts := map[string]*effects{}
	ctx.prepared = func(name string) *effects { return texts[name] }
	nt, wt := ps.effectsOf([]byte("SELECT HEX(@v)"), ctx), ps.effectsOf([]byte("SELECT v FROM t WHERE id = 1"), ctx)
	texts["nt"], texts["wt"] = &nt, &wt
	for q, want := range map[string]bool{
		"PREPARE s FROM 'SELECT 7 INTO @pv'": false,
		"PREPARE s FROM 'SELECT v FROM t'":   true,
		"PREPARE s FROM @q":                  true,
		"EXECUTE nt":                         false,
		"EXECUTE wt":                         true,
		"EXECUTE unknown":                    true,
		"EXECUTE IMMEDIATE 'SELECT 1'":       false,
		"SET STATEMENT sql_mode = '' FOR EXECUTE IMMEDIATE 'DO 1'": false,
		"EXECUTE IMMEDIATE 'FLUSH TABLES WITH READ LOCK'":          false,
		"EXECUTE IMMEDIATE 'SELECT v FROM t'":                      true,
		"SET STATEMENT sql_mode = '' FOR EXECUTE nt":               false,
		"SET STATEMENT sql_mode = '' FOR EXECUTE wt":               true,
		"PREPARE s FROM 'SELECT 1'; SELECT 1":                      true,
		"DEALLOCATE PREPARE nt":                                    false,
		"FLUSH TABLES WITH READ LOCK":                              false,
		"FLUSH /*c*/ LOCAL TABLES WITH READ LOCK":                  false,
		"FLUSH STATUS":                         false,
		"FLUSH TABLES":                         false,
		"FLUSH TABLES t WITH READ LOCK":        true,
		"FLUSH TABLE `t` FOR EXPORT":           true,
		"FLUSH NO_WRITE_TO_BINLOG TABLES t, u": true,
	} {
		if e := ps.effectsOf([]byte(q), ctx); e.usesTables() != want {
			t.Errorf("%q: usesTables %v, want %v", q, !want, want)
		}
	}
}
