package parity

import (
	"fmt"
	"strconv"
	"strings"
)

// Observers are fresh clients that never set any state. Each probe borrows whatever backend
// connection is free (at a cap of 1 or 2, one a client just used) and reads every kind of
// per-connection state a client can leave: its direct twin, a fresh connection that only ever
// probed, is the reference. A difference is a foreign-state sighting, named by what differed.

// probeQuery is one probe statement; columns name the kinds of state its columns show, kind the
// kind of a statement that shows one.
type probeQuery struct {
	sql     string
	columns []string
	kind    string
	errOnly bool // only whether it fails (and how) tells: the rest may differ for other reasons
}

// differs reports whether a probe's outcomes show foreign state.
func (q probeQuery) differs(po, do Outcome) bool {
	if q.errOnly {
		return (po.Lost != "") != (do.Lost != "") || errCode(po) != errCode(do)
	}
	return Diff(po, do) != ""
}

func errCode(o Outcome) uint16 {
	if o.Err == nil {
		return 0
	}
	return o.Err.Code
}

// probeColumns are the state the one-statement probe reads, as (kind, expression).
var probeColumns = [][2]string{
	{"user_variables", "(SELECT GROUP_CONCAT(VARIABLE_NAME ORDER BY VARIABLE_NAME) FROM information_schema.USER_VARIABLES)"},
	{"transaction", "@@in_transaction"},
	{"temporary_tables", dbMain + ".probe_tmp()"},
	{"last_insert_id", "LAST_INSERT_ID()"},
	{"lock_tables", "(SELECT v FROM " + dbMain + ".probe WHERE k = 1)"},
	{"database", "DATABASE()"},
	{"sql_mode", "@@sql_mode"},
	{"time_zone", "@@time_zone"},
	{"character_set", "CONCAT_WS(',', @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection)"},
	{"autocommit", "@@autocommit"},
	{"isolation", "CONCAT_WS(',', @@tx_isolation, @@tx_read_only)"},
	{"session_variables", "CONCAT_WS(',', @@max_heap_table_size, @@sql_select_limit, @@div_precision_increment, " +
		"@@group_concat_max_len, @@lc_time_names, @@sql_auto_is_null, @@foreign_key_checks, @@unique_checks, " +
		"@@sql_safe_updates, @@net_write_timeout, @@wait_timeout, @@sql_notes, @@sql_big_selects, @@max_sort_length)"},
	{"insert_id", "@@insert_id"},
	{"timestamp", "@@timestamp = 1000000000"},
}

// probes builds the probe statements for the clients with the given ids (their lock and handler
// names). The shallow probe is one statement; the deep one tries every name that only a failing
// statement can show (handlers, prepared statements), writes (a global read lock or LOCK TABLES
// makes it fail) and reads the warnings.
func probes(op Op, ids []int, incl Features) []probeQuery {
	if op == OpDeepProbe {
		return deepProbes(ids)
	}
	cols := append([][2]string(nil), probeColumns...)
	var locks []string
	for _, id := range ids {
		n := namesFor(id)
		for _, k := range []string{n.K1, n.K2} {
			locks = append(locks, fmt.Sprintf("IF(IS_USED_LOCK('%s') = CONNECTION_ID(), '%s', NULL)", k, k))
		}
	}
	if len(locks) > 0 {
		cols = append(cols, [2]string{"named_locks", "CONCAT_WS(',', " + strings.Join(locks, ", ") + ")"})
	}
	cols = append(cols, [2]string{"found_rows", "FOUND_ROWS()"})
	if incl.Has(FeatLateDiagnostics) {
		cols = append(cols, [2]string{"warnings", "@@warning_count"})
	}
	q := probeQuery{kind: "probe"}
	var exprs []string
	for _, c := range cols {
		q.columns = append(q.columns, c[0])
		exprs = append(exprs, c[1])
	}
	q.sql = "SELECT " + strings.Join(exprs, ", ")
	return []probeQuery{q}
}

func deepProbes(ids []int) []probeQuery {
	var qs []probeQuery
	handlers := []string{"h1", "h2"}
	for _, id := range ids {
		handlers = append(handlers, namesFor(id).T)
	}
	for _, h := range handlers {
		qs = append(qs, probeQuery{sql: "HANDLER " + h + " READ FIRST", kind: "handler", errOnly: true})
	}
	for _, s := range []string{"s1", "s2", "s3"} {
		qs = append(qs, probeQuery{sql: "DEALLOCATE PREPARE " + s, kind: "prepared_statement", errOnly: true})
	}
	qs = append(qs,
		probeQuery{sql: "UPDATE " + dbMain + ".probe_w SET n = n + 1", kind: "table_lock", errOnly: true},
		probeQuery{sql: "SHOW WARNINGS", kind: "warnings"})
	return qs
}

// kindOf names the kind of foreign state a differing probe outcome shows: the first column that
// differs, or the kind of the statement.
func (q probeQuery) kindOf(po, do Outcome) string {
	if q.kind == "table_lock" && po.Err != nil {
		switch po.Err.Code {
		case 1223:
			return "global_read_lock"
		case 1100:
			return "lock_tables"
		}
	}
	if q.columns == nil {
		return q.kind
	}
	if po.Err != nil && po.Err.Code == 1100 {
		return "lock_tables" // the probe read a table another client's LOCK TABLES left out
	}
	if len(po.Results) != 1 || len(do.Results) != 1 || len(po.Results[0].Rows) != 1 || len(do.Results[0].Rows) != 1 {
		return q.kind
	}
	pv, dv := splitRow(po.Results[0].Rows[0]), splitRow(do.Results[0].Rows[0])
	for i, name := range q.columns {
		if i < len(pv) && i < len(dv) && pv[i] != dv[i] {
			return name
		}
	}
	return q.kind
}

// splitRow splits a row rendered by renderText into its values.
func splitRow(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(row, "("), ")")
	var out []string
	for row != "" {
		if strings.HasPrefix(row, "NULL") {
			out = append(out, "NULL")
			row = row[4:]
		} else {
			q, err := strconv.QuotedPrefix(row)
			if err != nil {
				return append(out, row)
			}
			v, _ := strconv.Unquote(q)
			out = append(out, v)
			row = row[len(q):]
		}
		row = strings.TrimPrefix(row, ",")
	}
	return out
}
