package parity

import (
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

const sampleCase = `# a comment
cap 2
include late_diagnostics
client c1 id=3 collation=224 caps=FOUND_ROWS|MULTI_STATEMENTS db=parity
client c2 id=3 collation=8 caps=0 db=-
observer o1
c1 connect
c1 query SELECT 'a\\nb', '\n'; SELECT 2
c1 prepare 1 SELECT ?, ?
c1 execute 1 int:-5 str:"x y \"z\"" null float:2.5
c1 close 1
c1 idle 300ms
c1 changeuser other secret2 -
c1 initdb parity2
c1 setoption off
c1 reset
c1 ping
c1 quit
c2 kill
c2 kill command
o1 probe
o1 deepprobe
`

func TestCaseRoundTrip(t *testing.T) {
	c, err := ParseCase(sampleCase)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.String(); got != sampleCase {
		t.Fatalf("round trip changed the case:\n%s\nwant:\n%s", got, sampleCase)
	}
	if c.Cap != 2 || !c.Include.Has(FeatLateDiagnostics) || len(c.Clients) != 3 || len(c.Events) != 16 {
		t.Fatalf("parsed %+v", c)
	}
	q := c.Events[1].Step
	if q.SQL != "SELECT 'a\\nb', '\n'; SELECT 2" {
		t.Errorf("query read as %q", q.SQL)
	}
	ex := c.Events[3].Step
	if len(ex.Args) != 4 || ex.Args[0] != int64(-5) || ex.Args[1] != `x y "z"` || ex.Args[2] != nil || ex.Args[3] != 2.5 {
		t.Errorf("arguments read as %#v", ex.Args)
	}
	if c.Events[5].Step.Idle != 300*time.Millisecond || c.Clients[1].Spec.DB != "" ||
		c.Clients[0].Spec.Caps != wire.ClientFoundRows|wire.ClientMultiStatements {
		t.Errorf("parsed %+v / %+v", c.Events[5], c.Clients)
	}
}

func TestParseCaseRejects(t *testing.T) {
	for _, bad := range []string{"c1 query SELECT 1", "client c1 colour=red", "cap x", "include nothing", "client c1\nc1 frobnicate", "client c1\nc1 idle soon"} {
		if _, err := ParseCase(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseCase: whatever the text, parsing does not panic, and a parsed case reads back the same.
func FuzzParseCase(f *testing.F) {
	f.Add(sampleCase)
	f.Add("client c1\nc1 execute 1 str:\"\\\"\" int:1")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCase(text)
		if err != nil {
			return
		}
		again, err := ParseCase(c.String())
		if err != nil {
			t.Fatalf("re-parse of\n%s: %v", c, err)
		}
		if again.String() != c.String() {
			t.Fatalf("unstable:\n%s\nthen:\n%s", c, again)
		}
	})
}

func TestDiff(t *testing.T) {
	row := func(rows ...string) Outcome {
		r := Result{Set: true, Columns: []string{"col"}, Status: wire.StatusAutocommit}
		for _, x := range rows {
			r.addRow(x)
		}
		return Outcome{Results: []Result{r}}
	}
	same := []struct{ a, b Outcome }{
		{row(`("1")`), row(`("1")`)},
		{Outcome{Lost: "EOF"}, Outcome{Lost: "reset by peer"}},
		{Outcome{Err: &wire.Error{Code: 1243, SQLState: "HY000", Message: "Unknown prepared statement handler (7) given to mysqld_stmt_execute"}},
			Outcome{Err: &wire.Error{Code: 1243, SQLState: "HY000", Message: "Unknown prepared statement handler (12) given to mysqld_stmt_execute"}}},
		{Outcome{Results: []Result{{Status: wire.StatusAutocommit | 0x0800}}}, Outcome{Results: []Result{{Status: wire.StatusAutocommit}}}},
	}
	for _, c := range same {
		if d := Diff(c.a, c.b); d != "" {
			t.Errorf("%s vs %s: %s", c.a.Short(), c.b.Short(), d)
		}
	}
	differ := []struct {
		a, b Outcome
		cat  string
	}{
		{row(`("1")`), row(`("2")`), "rows"},
		{row(`("1")`), row(`("1")`, `("2")`), "rows"},
		{Outcome{Lost: "EOF"}, row(`("1")`), "connection"},
		{Outcome{Results: []Result{{Info: "a"}}}, Outcome{Results: []Result{{Info: "b"}}}, "info"},
		{Outcome{Results: []Result{{Status: wire.StatusInTrans}}}, Outcome{Results: []Result{{}}}, "status flag +IN_TRANS"},
		{Outcome{Results: []Result{{InsertID: 1}}}, Outcome{Results: []Result{{InsertID: 2}}}, "last insert id"},
		{Outcome{Results: []Result{{Affected: 1}}}, Outcome{Results: []Result{{Affected: 2}}}, "affected rows"},
		{Outcome{Results: []Result{{Warnings: 1}}}, Outcome{Results: []Result{{}}}, "warning count"},
		{Outcome{Err: &wire.Error{Code: 1054, SQLState: "42S22"}}, Outcome{}, "error"},
		{Outcome{Results: []Result{{Set: true, Columns: []string{"a cs=45 len=4"}}}}, Outcome{Results: []Result{{Set: true, Columns: []string{"a cs=224 len=4"}}}}, "column cs"},
	}
	for _, c := range differ {
		if cat, d := compare(c.a, c.b); cat != c.cat || d == "" {
			t.Errorf("%s vs %s: category %q (%s), want %q", c.a.Short(), c.b.Short(), cat, d, c.cat)
		}
	}
}

func TestShapeGroupsLiterals(t *testing.T) {
	a := shape(Step{Op: OpQuery, SQL: "SELECT GET_LOCK('k1a', 0)"})
	b := shape(Step{Op: OpQuery, SQL: "SELECT   GET_LOCK('k7b', 1)"})
	if a != b || !strings.Contains(a, "GET_LOCK('S', N)") {
		t.Errorf("shapes %q and %q", a, b)
	}
}
