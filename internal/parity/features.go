package parity

import (
	"fmt"
	"slices"
	"strings"
)

// Features are parts of the grammar the proxy documents as not supported yet (README, "What is
// not supported yet"). They are left out unless included; once the proxy handles one, include it
// (Options.Include, or MYSQLMUX_PARITY_INCLUDE) so the fuzzer checks it too.
//
// Never generated (documented differences of a proxy by design, not fidelity gaps):
// CONNECTION_ID(), SHOW PROCESSLIST and other thread ids; @@session_track_* (the proxy's own
// setting); cursors (COM_STMT_FETCH); tables altered outside the proxy.
type Features uint32

const (
	// FeatLateDiagnostics: SHOW COUNT(*) WARNINGS, @@warning_count, @@error_count and SHOW
	// WARNINGS read after an idle gap over 250 ms, or after a statement that used no table and
	// raised nothing (on MariaDB such a statement keeps the diagnostics area of the one before).
	// Left out, readers come only right after a statement that reset the diagnostics area.
	FeatLateDiagnostics Features = 1 << iota
)

var featureNames = map[Features]string{FeatLateDiagnostics: "late_diagnostics"}

// Has reports whether f includes all of g.
func (f Features) Has(g Features) bool { return f&g == g }

func (f Features) String() string {
	var names []string
	for bit, name := range featureNames {
		if f.Has(bit) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// ParseFeatures reads a comma-separated list of feature names ("all" for every one).
func ParseFeatures(s string) (Features, error) {
	var f Features
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "all" {
			for bit := range featureNames {
				f |= bit
			}
			continue
		}
		found := false
		for bit, n := range featureNames {
			if n == name {
				f |= bit
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("parity: unknown feature %q (known: late_diagnostics, all)", name)
		}
	}
	return f, nil
}
