package parity

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Outcome is everything a client saw of one command: its results (several for a multi-statement
// or a CALL), the error that ended it, or the loss of the connection. Two outcomes are compared
// field by field (see Diff); the list of what is normalised is in normalizedStatus and Diff.
type Outcome struct {
	Results []Result
	Err     *wire.Error // the ERR packet that ended the response; nil if none
	Lost    string      // non-empty: the connection broke (the I/O error, for the report)
	Prep    *Prepared   // the answer to a COM_STMT_PREPARE that succeeded
	NoReply bool        // a command without a response (COM_STMT_CLOSE)
}

// Result is one OK packet or one result set.
type Result struct {
	Set      bool // a result set (columns and rows); else an OK packet
	Affected uint64
	InsertID uint64
	Status   wire.Status
	Warnings uint16
	Info     string
	Columns  []string // column definitions, rendered
	Rows     []string // the first keptRows rows, rendered
	NRows    int
	RowHash  uint64 // of every row, so a long result is compared whole without being kept
}

// Prepared is the answer to COM_STMT_PREPARE, without the statement id (the proxy numbers
// statements itself).
type Prepared struct {
	Params, Columns int
	Warnings        uint16
	Defs            []string // parameter then column definitions, rendered
}

// keptRows bounds the rows an outcome keeps for the report; the rest only count and hash.
const keptRows = 20

// ignoredStatus are the flags never compared: QUERY_WAS_SLOW depends on timing.
const ignoredStatus wire.Status = 0x0800

// Diff describes the first difference between got (through the proxy) and want (direct), or ""
// when they agree. Statement ids of prepared statements are never compared; a connection lost on
// both sides agrees whatever the I/O error said.
func Diff(got, want Outcome) string {
	_, text := compare(got, want)
	return text
}

// compare returns the category of the first difference (what kind of field differs, for grouping
// failures) and its description; both "" when the outcomes agree.
func compare(got, want Outcome) (category, text string) {
	if (got.Lost != "") != (want.Lost != "") {
		return "connection", fmt.Sprintf("connection: proxy %s, direct %s", lostText(got), lostText(want))
	}
	if !sameErr(got.Err, want.Err) {
		return "error", fmt.Sprintf("error: proxy %s, direct %s", errText(got.Err), errText(want.Err))
	}
	if (got.Prep == nil) != (want.Prep == nil) {
		return "prepare", fmt.Sprintf("prepare: proxy %v, direct %v", got.Prep != nil, want.Prep != nil)
	}
	if got.Prep != nil {
		if cat, d := diffStrings("column", got.Prep.render(), want.Prep.render()); d != "" {
			return "prepare " + cat, "prepare: " + d
		}
	}
	if len(got.Results) != len(want.Results) {
		return "result count", fmt.Sprintf("result count: proxy %d, direct %d (proxy %s; direct %s)",
			len(got.Results), len(want.Results), got.Short(), want.Short())
	}
	for i := range got.Results {
		if cat, d := got.Results[i].diff(&want.Results[i]); d != "" {
			return cat, fmt.Sprintf("result %d: %s", i+1, d)
		}
	}
	return "", ""
}

func lostText(o Outcome) string {
	if o.Lost != "" {
		return "lost (" + o.Lost + ")"
	}
	return "alive"
}

func sameErr(got, want *wire.Error) bool {
	if got == nil || want == nil {
		return got == want
	}
	return got.Code == want.Code && got.SQLState == want.SQLState && normalMessage(got) == normalMessage(want)
}

// stmtHandler is the statement id in ERROR 1243 for a binary statement: ids differ by design (the
// proxy numbers statements itself).
var stmtHandler = regexp.MustCompile(`handler \(\d+\) given to mysqld_stmt_`)

func normalMessage(e *wire.Error) string {
	if e.Code == 1243 {
		return normalHandler(e.Message)
	}
	return e.Message
}

func normalHandler(s string) string {
	return stmtHandler.ReplaceAllString(s, "handler (ID) given to mysqld_stmt_")
}

func errText(e *wire.Error) string {
	if e == nil {
		return "none"
	}
	return e.Error()
}

func (r *Result) diff(w *Result) (category, text string) {
	if r.Set != w.Set {
		return "result kind", fmt.Sprintf("proxy %s, direct %s", r.short(), w.short())
	}
	gs, ws := r.Status&^ignoredStatus, w.Status&^ignoredStatus
	if r.Set && gs&wire.StatusSessionStateChange == 0 {
		// The EOF that ends a result set says nothing of what changed, so the proxy cannot tell
		// a change the server's default tracking flags (a stored function of another database
		// switching the default one) from one only its own tracking sees: it clears the flag,
		// and a flag the server set may be missing. One the server did not set is a failure.
		ws &^= wire.StatusSessionStateChange
	}
	switch {
	case r.Affected != w.Affected:
		return "affected rows", fmt.Sprintf("affected rows: proxy %d, direct %d", r.Affected, w.Affected)
	case r.InsertID != w.InsertID:
		return "last insert id", fmt.Sprintf("last insert id: proxy %d, direct %d", r.InsertID, w.InsertID)
	case gs != ws:
		cat := "status flag"
		if extra := gs &^ ws; extra != 0 {
			cat += " +" + extra.String()
		}
		if missing := ws &^ gs; missing != 0 {
			cat += " -" + missing.String()
		}
		return cat, fmt.Sprintf("status: proxy %s, direct %s", gs, ws)
	case r.Warnings != w.Warnings:
		return "warning count", fmt.Sprintf("warnings: proxy %d, direct %d", r.Warnings, w.Warnings)
	case r.Info != w.Info:
		return "info", fmt.Sprintf("info: proxy %q, direct %q", r.Info, w.Info)
	}
	if cat, d := diffStrings("column", r.Columns, w.Columns); d != "" {
		return cat, d
	}
	if _, d := diffStrings("row", r.Rows, w.Rows); d != "" {
		return "rows", d
	}
	if r.NRows != w.NRows || r.RowHash != w.RowHash {
		return "rows", fmt.Sprintf("rows: proxy %d (hash %x), direct %d (hash %x)", r.NRows, r.RowHash, w.NRows, w.RowHash)
	}
	return "", ""
}

// diffStrings compares rendered definitions or rows; a column's category names the attributes
// that differ (e.g. "column cs" when only the character set does).
func diffStrings(what string, got, want []string) (category, text string) {
	for i := range max(len(got), len(want)) {
		g, w := "(none)", "(none)"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return what + attrDiff(g, w), fmt.Sprintf("%s %d: proxy %s, direct %s", what, i+1, g, w)
		}
	}
	return "", ""
}

// attrDiff names the "key=value" attributes that differ between two rendered definitions.
func attrDiff(g, w string) string {
	gf, wf := strings.Fields(g), strings.Fields(w)
	if len(gf) != len(wf) {
		return ""
	}
	var names []string
	for i := range gf {
		if gf[i] != wf[i] {
			name, _, ok := strings.Cut(gf[i], "=")
			if !ok {
				name = "name"
			}
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " " + strings.Join(names, ",")
}

func (p *Prepared) render() []string {
	return append([]string{fmt.Sprintf("params=%d columns=%d warnings=%d", p.Params, p.Columns, p.Warnings)}, p.Defs...)
}

// Short renders an outcome on one line for reports.
func (o Outcome) Short() string {
	var parts []string
	for i := range o.Results {
		parts = append(parts, o.Results[i].short())
	}
	if o.Prep != nil {
		parts = append(parts, fmt.Sprintf("prepared(params=%d, columns=%d)", o.Prep.Params, o.Prep.Columns))
	}
	if o.Err != nil {
		parts = append(parts, o.Err.Error())
	}
	if o.Lost != "" {
		parts = append(parts, "connection lost: "+o.Lost)
	}
	if o.NoReply {
		parts = append(parts, "no reply")
	}
	return strings.Join(parts, "; ")
}

func (r *Result) short() string {
	if !r.Set {
		return fmt.Sprintf("OK(affected=%d id=%d warnings=%d status=%s)", r.Affected, r.InsertID, r.Warnings, r.Status&^ignoredStatus)
	}
	rows := strings.Join(r.Rows, " ")
	if r.NRows > len(r.Rows) {
		rows += " …"
	}
	return fmt.Sprintf("%d rows [%s] (warnings=%d status=%s)", r.NRows, rows, r.Warnings, r.Status&^ignoredStatus)
}

// addRow counts a row, keeps it if there is room, and folds it into the hash.
func (r *Result) addRow(rendered string) {
	r.NRows++
	if len(r.Rows) < keptRows {
		r.Rows = append(r.Rows, rendered)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.FormatUint(r.RowHash, 16)))
	_, _ = h.Write([]byte(rendered))
	r.RowHash = h.Sum64()
}

// renderText renders a text-protocol row: each value quoted, NULL as NULL.
func renderText(p []byte) (string, error) {
	var b strings.Builder
	b.WriteByte('(')
	for len(p) > 0 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		if p[0] == 0xfb {
			b.WriteString("NULL")
			p = p[1:]
			continue
		}
		v, n, err := wire.ReadLenencString(p)
		if err != nil {
			return "", err
		}
		text := string(v)
		if strings.Contains(text, "mysqld_stmt_") {
			text = normalHandler(text) // SHOW WARNINGS after ERROR 1243
		}
		b.WriteString(strconv.Quote(text))
		p = p[n:]
	}
	b.WriteByte(')')
	return b.String(), nil
}

// renderColumn renders a column definition: schema, table, original table, name, original name,
// character set, length, type, flags, decimals.
func renderColumn(p []byte) (string, error) {
	var parts []string
	pos := 0
	for range 6 { // catalog, schema, table, org_table, name, org_name
		s, n, err := wire.ReadLenencString(p[pos:])
		if err != nil {
			return "", err
		}
		parts = append(parts, string(s))
		pos += n
	}
	_, n, err := wire.ReadLenenc(p[pos:]) // length of the fixed fields
	if err != nil {
		return "", err
	}
	pos += n
	if len(p) < pos+10 {
		return "", wire.ErrMalformed
	}
	f := p[pos:]
	charset := uint16(f[0]) | uint16(f[1])<<8
	length := uint32(f[2]) | uint32(f[3])<<8 | uint32(f[4])<<16 | uint32(f[5])<<24
	flags := uint16(f[7]) | uint16(f[8])<<8
	return fmt.Sprintf("%s.%s(%s) %s(%s) cs=%d len=%d type=%d flags=%#x dec=%d",
		parts[1], parts[2], parts[3], parts[4], parts[5], charset, length, f[6], flags, f[9]), nil
}
