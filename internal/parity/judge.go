package parity

import (
	"fmt"
	"regexp"
	"strings"
)

// Failure is a difference between a client and its direct twin, or a foreign-state sighting by
// an observer, with the schedule that led to it.
type Failure struct {
	Foreign bool   // a sighting (else a difference)
	Key     string // two failures with the same key are taken for the same bug
	Detail  string // the step and what each side saw
	Case    *Case  // the schedule to replay; minimal when Minimal
	// Reproduced: replaying Case one step at a time showed the failure again. Minimal: no
	// event (or client) of Case can go without losing it.
	Reproduced, Minimal bool

	seq int64 // the failing event in the run's recording
}

var (
	numbers = regexp.MustCompile(`\b\d+\b`)
	strs    = regexp.MustCompile(`'(?:[^']|'')*'`)
)

// shape is a statement with its literals blanked, so failures of one rule group together.
func shape(s Step) string {
	sql := strings.Join(strings.Fields(s.SQL), " ")
	sql = numbers.ReplaceAllString(strs.ReplaceAllString(sql, "'S'"), "N")
	if len(sql) > 80 {
		sql = sql[:80] + "…"
	}
	if sql == "" {
		return s.Op.String()
	}
	return s.Op.String() + " " + sql
}

// judgeStep compares a client's step through the proxy with its direct twin.
func judgeStep(label string, s Step, po, do Outcome) *Failure {
	cat, d := compare(po, do)
	if d == "" {
		return nil
	}
	key := "difference in " + cat
	switch {
	case po.Err != nil && po.Err.Code == 9001:
		// whatever the statement: a connection that never came back
		key = "difference in error: ERROR 9001 through the proxy"
	case cat == "connection":
	case !strings.HasPrefix(cat, "status flag") && cat != "info" && !strings.Contains(cat, "column"):
		// what a row or an error shows depends on the statement; flags, info and column
		// metadata are wrong the same way whatever the statement
		key += " after " + shape(s)
	}
	return &Failure{Key: key,
		Detail: fmt.Sprintf("%s %s\n  %s\n  proxy:  %s\n  direct: %s", label, s, d, po.Short(), do.Short())}
}

// judgeProbe reports an observer's sighting of kind, nil if kind is empty.
func judgeProbe(label string, s Step, kind string, po, do Outcome) *Failure {
	if kind == "" {
		return nil
	}
	return &Failure{Foreign: true, Key: "foreign state: " + kind,
		Detail: fmt.Sprintf("%s %s saw %s\n  %s\n  proxy:  %s\n  fresh:  %s", label, s, kind, Diff(po, do), po.Short(), do.Short())}
}
