package proxy

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// sessionState is an immutable snapshot of the session state the proxy replays: system variables
// and literal user variables that differ from a fresh backend connection. A nil *sessionState is
// a fresh connection (what the backend has right after login or COM_RESET_CONNECTION). Snapshots
// are copied on write and interned, so sessions with the same settings share one pointer and the
// pool can hand them a connection that already has it, with no replay.
type sessionState struct {
	// vars: lower-case name → value as the server reports it through session tracking.
	vars map[string]string
	// userVars: lower-case name → SQL literal it was set to.
	userVars map[string]string
	key      string
}

// Fresh backend connections log in with utf8mb4_general_ci; these are their character set
// variables, which SET ... = DEFAULT would not restore (DEFAULT is the global value).
var freshCharset = map[string]string{
	"character_set_client":     "utf8mb4",
	"character_set_connection": "utf8mb4",
	"character_set_results":    "utf8mb4",
	"collation_connection":     "utf8mb4_general_ci",
}

// unreplayable names system variables whose value cannot be moved to another connection: one-shot
// values consumed by the next statement, values tied to the default database, and the tracking
// settings the proxy itself depends on. Changing one pins the session.
func unreplayable(name string) bool {
	switch name {
	case "insert_id", "last_insert_id", "identity", "timestamp", "rand_seed1", "rand_seed2",
		"gtid_seq_no", "character_set_database", "collation_database", "pseudo_slave_mode":
		return true
	}
	return strings.HasPrefix(name, "session_track_")
}

func (s *sessionState) varsMap() map[string]string {
	if s == nil {
		return nil
	}
	return s.vars
}

func (s *sessionState) userMap() map[string]string {
	if s == nil {
		return nil
	}
	return s.userVars
}

// varChange is one system variable change reported by the server.
type varChange struct{ name, value string }

// withVars returns the state after the server reported changes. A new character_set_connection
// resets the collation to that character set's default (the server does it and reports only the
// character set), so an explicit collation is dropped unless reported in the same batch.
func (s *sessionState) withVars(changes []varChange) *sessionState {
	vars := maps.Clone(s.varsMap())
	if vars == nil {
		vars = make(map[string]string, len(changes))
	}
	collationReported := false
	for _, ch := range changes {
		if ch.name == "collation_connection" {
			collationReported = true
		}
	}
	for _, ch := range changes {
		if ch.name == "character_set_connection" && !collationReported {
			delete(vars, "collation_connection")
		}
		vars[ch.name] = ch.value
	}
	return &sessionState{vars: vars, userVars: s.userMap()}
}

// withVar sets one entry (used for what tracking does not report, e.g. the collation of SET
// NAMES ... COLLATE); "" removes it.
func (s *sessionState) withVar(name, value string) *sessionState {
	vars := maps.Clone(s.varsMap())
	if vars == nil {
		vars = make(map[string]string, 1)
	}
	if value == "" {
		delete(vars, name)
	} else {
		vars[name] = value
	}
	return &sessionState{vars: vars, userVars: s.userMap()}
}

// withUserVars sets user variables to SQL values. A variable set to NULL is kept: the server
// keeps it too (information_schema.USER_VARIABLES lists it), so a connection is only in the
// session's state if it has exactly the session's variables.
func (s *sessionState) withUserVars(set map[string]string) *sessionState {
	uv := maps.Clone(s.userMap())
	if uv == nil {
		uv = make(map[string]string, len(set))
	}
	maps.Copy(uv, set)
	return &sessionState{vars: s.varsMap(), userVars: uv}
}

// dropsUserVars reports whether turning state have into want would remove a user variable,
// which only a reset of the connection can.
func dropsUserVars(have, want *sessionState) bool {
	wu := want.userMap()
	for k := range have.userMap() {
		if _, ok := wu[k]; !ok {
			return true
		}
	}
	return false
}

func (s *sessionState) empty() bool {
	return s == nil || (len(s.vars) == 0 && len(s.userVars) == 0)
}

// canonical is a stable text form of the state, the interning key.
func (s *sessionState) canonical() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(s.varsMap())) {
		b.WriteString(k + "=" + s.vars[k] + "\x00")
	}
	b.WriteByte('\x01')
	for _, k := range slices.Sorted(maps.Keys(s.userMap())) {
		b.WriteString(k + "=" + s.userVars[k] + "\x00")
	}
	return b.String()
}

// stateTable interns snapshots. Bounded: past maxInterned distinct states it stops interning
// (sessions still work, they just share less).
type stateTable struct {
	mu sync.Mutex
	m  map[string]*sessionState
}

const maxInterned = 4096

func (t *stateTable) intern(s *sessionState) *sessionState {
	if s.empty() {
		return nil
	}
	s.key = s.canonical()
	t.mu.Lock()
	defer t.mu.Unlock()
	if got, ok := t.m[s.key]; ok {
		return got
	}
	if t.m == nil {
		t.m = make(map[string]*sessionState)
	}
	if len(t.m) < maxInterned {
		t.m[s.key] = s
	}
	return s
}

// sameState reports whether two snapshots are equal (pointer equality after interning, text
// otherwise).
func sameState(a, b *sessionState) bool {
	if a == b {
		return true
	}
	if a.empty() || b.empty() {
		return a.empty() && b.empty()
	}
	return a.key == b.key
}

// parseVars is the part of st that decides how the server parses and types a statement it
// prepares: the character set variables, sql_mode, div_precision_increment. Only these are
// switched around a prepare (a SET autocommit = 1 there would commit the session's transaction).
func parseVars(st *sessionState) *sessionState {
	var vars map[string]string
	for k, v := range st.varsMap() {
		switch k {
		case "character_set_client", "character_set_connection", "character_set_results",
			"collation_connection", namesKey, clientKey, "sql_mode", "div_precision_increment":
			if vars == nil {
				vars = make(map[string]string)
			}
			vars[k] = v
		}
	}
	if vars == nil {
		return nil
	}
	return &sessionState{vars: vars}
}

// unknownCollations reports whether st records a collation as unknown.
func unknownCollations(st *sessionState) bool {
	vars := st.varsMap()
	return vars[namesKey] == unknownCollation || vars[clientKey] == unknownCollation
}

// replaySQL builds the statements that turn a connection in state have into state want: one SET
// for system variables, one for user variables. User variables are recorded as exact SQL
// (hex with character set and collation for strings), so their SET does not depend on the
// connection's character set or sql_mode. Either may be nil.
func replaySQL(have, want *sessionState, freshSQLMode string, ignoreSpace bool) (sys, user []byte) {
	hv, wv := have.varsMap(), want.varsMap()
	// The SET is lexed in the connection's sql_mode, as it is before the SET runs.
	mode, ok := hv["sql_mode"]
	if !ok {
		mode = freshSQLMode
	}
	noBackslash := strings.Contains(mode, "NO_BACKSLASH_ESCAPES")
	sys, hv = namesSQL(hv, wv, noBackslash)
	names := make([]string, 0, len(hv)+len(wv))
	for k := range wv {
		names = append(names, k)
	}
	for k := range hv {
		if _, ok := wv[k]; !ok {
			names = append(names, k)
		}
	}
	// Character sets before collation_connection: setting a character set resets the collation.
	slices.SortFunc(names, func(a, b string) int {
		ca, cb := a == "collation_connection", b == "collation_connection"
		if ca != cb {
			if ca {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, k := range names {
		w, wok := wv[k]
		h, hok := hv[k]
		if k == namesKey || k == clientKey || wok && hok && w == h {
			continue
		}
		if k == "collation_connection" && !wok {
			// Back to the default collation of the wanted character set.
			cs, ok := wv["character_set_connection"]
			if !ok {
				cs = freshCharset["character_set_connection"]
			}
			sys = appendAssign(sys, "character_set_connection", cs, noBackslash)
			continue
		}
		if !wok {
			if fresh, ok := freshCharset[k]; ok {
				sys = appendAssign(sys, k, fresh, noBackslash)
			} else if k == "sql_mode" && ignoreSpace {
				sys = appendRaw(sys, k, globalModeWithIgnoreSpace) // as a CLIENT_IGNORE_SPACE login has it
			} else {
				sys = appendRaw(sys, k, "DEFAULT")
			}
			continue
		}
		sys = appendAssign(sys, k, w, noBackslash)
	}
	hu, wu := have.userMap(), want.userMap()
	for _, k := range slices.Sorted(maps.Keys(wu)) {
		if hv, ok := hu[k]; !ok || hv != wu[k] {
			user = appendUser(user, k, wu[k])
		}
	}
	return sys, user
}

func appendRaw(b []byte, name, value string) []byte {
	if len(b) == 0 {
		b = append(b, "SET "...)
	} else {
		b = append(b, ", "...)
	}
	return append(append(append(b, '`'), name...), "` = "+value...)
}

// appendAssign quotes value unless it is a number (numeric variables reject strings).
func appendAssign(b []byte, name, value string, noBackslash bool) []byte {
	if name == "character_set_results" && value == "" {
		return appendRaw(b, name, "NULL")
	}
	if isNumber(value) {
		return appendRaw(b, name, value)
	}
	return appendRaw(b, name, quote(value, noBackslash))
}

func appendUser(b []byte, name, literal string) []byte {
	if len(b) == 0 {
		b = append(b, "SET "...)
	} else {
		b = append(b, ", "...)
	}
	return append(append(append(b, "@`"...), strings.ReplaceAll(name, "`", "``")...), "` = "+literal...)
}

func isNumber(v string) bool {
	if v == "" {
		return false
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil && strings.IndexFunc(v, func(r rune) bool { return r == 'e' || r == 'E' || r == 'x' || r == 'X' || r == '+' }) < 0
}

func quote(v string, noBackslash bool) string {
	v = strings.ReplaceAll(v, "'", "''")
	if !noBackslash {
		v = strings.ReplaceAll(v, `\`, `\\`)
	}
	return "'" + v + "'"
}

// globalModeWithIgnoreSpace is the sql_mode of a fresh connection that logged in with
// CLIENT_IGNORE_SPACE: the global one with IGNORE_SPACE.
const globalModeWithIgnoreSpace = "IF(FIND_IN_SET('IGNORE_SPACE', @@GLOBAL.sql_mode), @@GLOBAL.sql_mode, " +
	"CONCAT_WS(',', NULLIF(@@GLOBAL.sql_mode, ''), 'IGNORE_SPACE'))"

// namesKey is a state entry of the proxy's, not a server variable: the collation of the last SET
// NAMES ... COLLATE (or of the login), which the server keeps with character_set_results and
// reports as each string column's character set in result metadata. Session tracking reports
// only the character sets' names, so the proxy records it and replays it with SET NAMES.
const namesKey = "mysqlmux.names"

// clientKey is the other state entry of the proxy's: the collation of the last SET NAMES ...
// COLLATE (or of the login) that character_set_client still carries (SET character_set_client
// and SET CHARACTER SET put back the default). The server gives it to a prepared statement's
// string parameters.
const clientKey = "mysqlmux.client"

// unknownCollation stands in the record for a collation the server keeps but no variable shows
// (namesKey, clientKey) when code the proxy could not read (a routine's SET NAMES ... COLLATE, an
// EXECUTE of a text it does not know) may have changed it: the session is pinned until reset, and
// nothing is replayed to or from it.
const unknownCollation = "unknown"

// charsetVar is a character set variable of a state (the login's when it has none).
func charsetVar(vars map[string]string, k string) string {
	if v, ok := vars[k]; ok {
		return v
	}
	return freshCharset[k]
}

// namesSQL starts a replay with SET NAMES when a collation it records (that of
// character_set_results, that of character_set_client) changes, and returns the connection's
// variables as they are after it (the rest of the replay is the difference from those).
func namesSQL(hv, wv map[string]string, noBackslash bool) ([]byte, map[string]string) {
	hn, wn := hv[namesKey], wv[namesKey]
	hc, wc := hv[clientKey], wv[clientKey]
	if hn == wn && hc == wc {
		return nil, hv
	}
	after := maps.Clone(hv)
	if after == nil {
		after = make(map[string]string, 6)
	}
	var sql []byte
	base := wn
	if base == "" {
		base = wc
	}
	if base != "" {
		cs, _, _ := strings.Cut(base, "_")
		for _, k := range []string{"character_set_client", "character_set_results", "character_set_connection"} {
			after[k] = cs
		}
		after["collation_connection"], after[namesKey], after[clientKey] = base, base, base
		// SET NAMES x COLLATE y, then the others in the same statement (assigned left to right).
		sql = append(sql, "SET NAMES "+quote(cs, noBackslash)+" COLLATE "+quote(base, noBackslash)...)
	}
	// Back to the default collation of character_set_results, of character_set_client (SET
	// NAMES x COLLATE y gave them y, which @@ does not show but a result's and a parameter's
	// collation follow): assigned anew.
	for _, f := range []struct{ key, name string }{{namesKey, "character_set_results"}, {clientKey, "character_set_client"}} {
		if wv[f.key] == "" && after[f.key] != "" || base == "" {
			cs := charsetVar(wv, f.name)
			after[f.name] = cs
			delete(after, f.key)
			sql = appendAssign(sql, f.name, cs, noBackslash)
		}
	}
	return sql, after
}

// serverCharsetState is the state of a session the server reset to its own defaults (what a
// refused COM_CHANGE_USER leaves): the global character set variables of cat's server, or
// fallback when they are not known.
func serverCharsetState(cat *varCatalog, fallback *sessionState) *sessionState {
	g := make(map[string]string, len(freshCharset))
	for name := range freshCharset {
		v, ok := cat.global(name)
		if !ok {
			return fallback
		}
		g[name] = v
	}
	if maps.Equal(g, freshCharset) {
		return nil
	}
	vars := maps.Clone(g)
	if cs := g["character_set_client"]; cs == g["character_set_connection"] && cs == g["character_set_results"] {
		vars[namesKey], vars[clientKey] = g["collation_connection"], g["collation_connection"]
	}
	return &sessionState{vars: vars}
}

// stateForCollation is the state of a session that logged in with collation id: fresh if it is
// the backends' own login collation, else the four character set variables.
func stateForCollation(id uint8, cs, coll string) *sessionState {
	if cs == freshCharset["character_set_client"] && coll == freshCharset["collation_connection"] {
		return nil
	}
	return &sessionState{vars: map[string]string{
		"character_set_client": cs, "character_set_connection": cs, "character_set_results": cs,
		"collation_connection": coll, namesKey: coll, clientKey: coll,
	}}
}
