package proxy

import (
	"slices"
	"testing"
)

func TestBodyEffects(t *testing.T) {
	var ps parsers
	for _, c := range []struct {
		body     string
		pins     PinReason
		assigned []string
		vars     []string
		calls    []string
	}{
		{body: "BEGIN SET o = 5; SET io = io + 1; END"},
		{body: "SELECT 1"},
		{body: "BEGIN SET @fv = 9; RETURN 1; END", vars: []string{"fv"}},
		{body: "BEGIN SELECT COUNT(*) INTO @n FROM t; SELECT c INTO x FROM t LIMIT 1; END", assigned: []string{"n"}},
		{body: "BEGIN DO GET_LOCK('k', 0); END", pins: PinGetLock},
		{body: "BEGIN CREATE TEMPORARY TABLE tt (a INT); END", pins: PinTempTable},
		{body: "BEGIN IF x > 0 THEN INSERT INTO t VALUES (1); ELSEIF x < 0 THEN SET @neg = 1; ELSE CALL other(x); END IF; END",
			vars: []string{"neg"}, calls: []string{"other"}, pins: PinRoutine},
		{body: "BEGIN DECLARE done INT DEFAULT 0; DECLARE c CURSOR FOR SELECT a FROM t; " +
			"DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1; OPEN c; l: LOOP FETCH c INTO x; " +
			"IF done THEN LEAVE l; END IF; UPDATE t SET a = a + 1 WHERE a = x; END LOOP l; CLOSE c; END"},
		{body: "BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END; START TRANSACTION; INSERT INTO t VALUES (1); COMMIT; END"},
		{body: "BEGIN WHILE i < 3 DO SET i = i + 1; END WHILE; REPEAT SET i = i - 1; UNTIL i = 0 END REPEAT; END"},
		{body: "BEGIN CASE x WHEN 1 THEN SET @one = 1; ELSE SELECT myfn(x); END CASE; END",
			vars: []string{"one"}, calls: []string{"myfn"}, pins: PinRoutine},
		{body: "BEGIN PREPARE s FROM @q; EXECUTE s; END", pins: PinPrepare | PinUnknown},
		{body: "BEGIN LOCK TABLES t READ; END", pins: PinLockTables},
		{body: "RETURN (SELECT NEXTVAL(seq))", pins: PinSequence},
	} {
		e := ps.bodyEffects(&routine{body: []byte(c.body)}, "test")
		var vars []string
		for k := range e.userVars {
			vars = append(vars, k)
		}
		slices.Sort(vars)
		if e.pins != c.pins || !slices.Equal(e.assigned, c.assigned) || !slices.Equal(vars, c.vars) || !slices.Equal(e.calls, c.calls) {
			t.Errorf("%s:\n pins %q assigned %q vars %q calls %q\n want %q %q %q %q", c.body, e.pins, e.assigned, vars, e.calls,
				c.pins, c.assigned, c.vars, c.calls)
		}
	}
}

func TestPlanCallArgs(t *testing.T) {
	var ps parsers
	e := ps.effectsOf([]byte("CALL db1.p(@a, 1 + @b, @`C`, CONCAT(@d), @e)"), testCtx())
	want := []callArg{{"db1.p", "a", 0}, {"db1.p", "c", 2}, {"db1.p", "e", 4}}
	if !slices.Equal(e.callArgs, want) || !slices.Contains(e.calls, "db1.p") {
		t.Errorf("call args %v calls %q, want %v", e.callArgs, e.calls, want)
	}
}
