package parity

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// scripts generates n generations of each of clients clients, as a run with seed would.
func scripts(seed uint64, clients, n int, incl Features, drops bool) [][]Step {
	var out [][]Step
	for id := 1; id <= clients; id++ {
		for gen := range n {
			g := newGen(seed, specFor(seed, id, gen), gen, grammar{incl: incl, drops: drops, longIdle: defaultLongIdles})
			out = append(out, g.script(30+g.pick(scriptSteps-30)))
		}
	}
	return out
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, b := scripts(42, 3, 2, 0, true), scripts(42, 3, 2, 0, true)
	if !slices.EqualFunc(a, b, func(x, y []Step) bool {
		return slices.EqualFunc(x, y, func(s, u Step) bool { return s.String() == u.String() })
	}) {
		t.Fatal("the same seed gave two different sets of scripts")
	}
	if c := scripts(43, 3, 2, 0, true); c[0][0].String() == a[0][0].String() && c[0][1].String() == a[0][1].String() &&
		c[0][2].String() == a[0][2].String() {
		t.Fatal("seeds 42 and 43 start alike")
	}
}

// TestGrammarCoversTheStateKinds checks that the general rules produce every kind of session
// state the issue lists (and the ordinary statements), each in the form it names.
func TestGrammarCoversTheStateKinds(t *testing.T) {
	var lines []string
	var ops = map[Op]bool{}
	longIdle := false
	for _, script := range scripts(7, 8, 40, 0, true) {
		for _, s := range script {
			ops[s.Op] = true
			lines = append(lines, s.String())
			if s.Op == OpIdle && s.Idle > 250*time.Millisecond {
				longIdle = true
			}
		}
	}
	text := strings.Join(lines, "\n")
	kinds := map[string]string{
		"EXECUTE IMMEDIATE SET @v":         `EXECUTE IMMEDIATE 'SET @\w+ =`,
		"EXECUTE IMMEDIATE temp table":     `EXECUTE IMMEDIATE '[^\n]*CREATE TEMPORARY TABLE`,
		"EXECUTE IMMEDIATE GET_LOCK":       `EXECUTE IMMEDIATE '[^\n]*GET_LOCK`,
		"EXECUTE IMMEDIATE HANDLER OPEN":   `EXECUTE IMMEDIATE 'HANDLER \w+ OPEN`,
		"EXECUTE IMMEDIATE LOCK TABLES":    `EXECUTE IMMEDIATE 'LOCK TABLES`,
		"PREPARE SELECT INTO @pv":          `PREPARE s\d FROM 'SELECT 7 INTO @pv'`,
		"PREPARE of a temporary table":     `PREPARE s\d FROM 'CREATE TEMPORARY TABLE`,
		"multi-statement BEGIN then error": `(BEGIN|START TRANSACTION)[^\n]*;[^\n]*(nosuchcol|nosuchtable|SELEKT)`,
		"multi-statement GET_LOCK":         `;[^\n]*GET_LOCK\(`,
		"multi-statement LOCK TABLES":      `;\s*LOCK TABLES`,
		"multi-statement HANDLER OPEN":     `;\s*HANDLER \w+ OPEN`,
		"multi-statement FTWRL":            `;\s*FLUSH TABLES WITH READ LOCK`,
		"multi-statement FOR EXPORT":       `;\s*FLUSH TABLES \w+ FOR EXPORT`,
		"SET STATEMENT FOR SELECT INTO @v": `SET STATEMENT [^\n]* FOR SELECT [^\n]*INTO[^\n]*@`,
		"SET STATEMENT FOR temp table":     `SET STATEMENT [^\n]* FOR CREATE TEMPORARY TABLE`,
		"SET STATEMENT FOR LOCK TABLES":    `SET STATEMENT [^\n]* FOR LOCK TABLES`,
		"SET STATEMENT FOR HANDLER":        `SET STATEMENT [^\n]* FOR HANDLER`,
		"CALL with OUT and INOUT":          `CALL p_out\(@o, @io\)`,
		"function setting @fv in a SELECT": `SELECT [^\n]*f_set\(`,
		"procedure calling GET_LOCK":       `CALL p_lock\(`,
		"SELECT INTO /*c*/ @v":             `INTO /\*c\*/ @`,
		"@v := expr":                       `@\w+ := `,
		"SQL_CALC_FOUND_ROWS":              `SQL_CALC_FOUND_ROWS`,
		"FOUND_ROWS()":                     `FOUND_ROWS\(\)`,
		"LAST_INSERT_ID(n)":                `LAST_INSERT_ID\(5\d\)`,
		"insert with an explicit id":       `INSERT INTO t\d+ \(id, v, s\)`,
		"CALL of a procedure that inserts": `CALL pi\d+\(\)`,
		"SHOW WARNINGS":                    `query SHOW WARNINGS`,
		"SHOW COUNT(*) WARNINGS":           `SHOW COUNT\(\*\) WARNINGS`,
		"@@warning_count prepared":         `prepare \d+ SELECT @@warning_count`,
		"NO_BACKSLASH_ESCAPES":             `NO_BACKSLASH_ESCAPES`,
		"backslash literal":                `'a\\\\nb\\\\\\\\c'`,
		"_latin1 introducer":               `_latin1'abc'`,
		"autocommit=0":                     `SET autocommit = 0`,
		"change user, wrong password":      `changeuser \w+ wrong`,
		"change user, unknown database":    `changeuser \w+ \w+ nosuchdb`,
		"reset connection":                 `(?m)^reset$`,
		"SAVEPOINT":                        `SAVEPOINT sp`,
		"XA":                               `XA START`,
		"names":                            `SET NAMES`,
		"time_zone":                        `SET time_zone`,
		"isolation":                        `SET SESSION TRANSACTION ISOLATION LEVEL`,
		"max_heap_table_size":              `SET max_heap_table_size`,
		"USE":                              `USE parity`,
		"RELEASE_LOCK":                     `RELEASE_LOCK\(`,
		"UNLOCK TABLES":                    `UNLOCK TABLES`,
		"REPLACE":                          `REPLACE INTO`,
		"UPDATE":                           `UPDATE u\d+ SET`,
		"DELETE":                           `DELETE FROM`,
		"comment between tokens":           `/\* x; y \*/`,
		"executable comment":               `/\*!40101 `,
	}
	for kind, re := range kinds {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("the grammar never produced %s (%s)", kind, re)
		}
	}
	for _, op := range []Op{OpPrepare, OpExecute, OpClose, OpReset, OpChangeUser, OpInitDB, OpSetOption, OpPing, OpDrop, OpKill, OpQuit} {
		if !ops[op] {
			t.Errorf("the grammar never produced a %s step", op)
		}
	}
	if !longIdle {
		t.Error("no idle gap over 250 ms")
	}
}

var (
	textPrepare = regexp.MustCompile(`^PREPARE (s\d) FROM`)
	textExecute = regexp.MustCompile(`^EXECUTE (s\d)`)
)

// TestGrammarKeepsOutExcludedFeatures checks that, with no feature included, a diagnostics
// reader only comes right after a statement that reset the diagnostics area; and that
// CONNECTION_ID() and session_track never come.
func TestGrammarKeepsOutExcludedFeatures(t *testing.T) {
	for _, script := range scripts(11, 8, 30, 0, false) {
		prepared, named := map[int]string{}, map[string]string{}
		for i, s := range script {
			if s.Op == OpPrepare {
				prepared[s.Stmt] = s.SQL
			}
			if m := textPrepare.FindStringSubmatch(s.SQL); m != nil {
				named[m[1]] = s.SQL
			}
			q := s.SQL
			if strings.Contains(q, "CONNECTION_ID") || strings.Contains(q, "session_track") || strings.Contains(q, "PROCESSLIST") {
				t.Fatalf("excluded feature generated: %s", s)
			}
			if i == 0 || !(s.Op == OpQuery || s.Op == OpPrepare) {
				continue
			}
			// a short idle gap leaves what the previous statement left
			j := i - 1
			for j > 0 && script[j].Op == OpIdle && script[j].Idle < 100*time.Millisecond {
				j--
			}
			prev := script[j]
			prevSQL := prev.SQL
			if prev.Op == OpExecute {
				prevSQL = prepared[prev.Stmt]
			}
			if m := textExecute.FindStringSubmatch(prevSQL); m != nil {
				prevSQL = named[m[1]]
			}
			if prev.Op == OpIdle && prev.Idle > 250*time.Millisecond && (strings.HasPrefix(q, "SHOW COUNT") || strings.Contains(q, "@@warning_count")) {
				t.Errorf("%q right after an idle gap over 250 ms", s)
			}
		}
	}
}
