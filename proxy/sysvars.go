package proxy

import (
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mysqlmux/mysqlmux/backend"
)

// Which session variables a backend can have written back is the server's to say, not a list
// of ours: a server with the binary log on reports last_gtid through session tracking, and
// `SET last_gtid = …` on another connection fails with ERROR 1238. Each backend's catalog is
// read from information_schema.SYSTEM_VARIABLES on its first connection, and again when the
// server's version changes (an upgrade behind the proxy).

// varKind is what the proxy may do with a tracked variable.
type varKind uint8

const (
	varReplay   varKind = iota // a settable session variable: recorded and replayed
	varReadOnly                // the server maintains it (last_gtid, warning_count, …): never written back
	varPin                     // settable, but its value cannot move to another connection: pins
)

// varCatalog is one server's session variables.
type varCatalog struct {
	version string
	// readOnly: lower-case name → READ_ONLY, for session-scope variables; nil when the server
	// has no catalog to read (the fallback rules apply).
	readOnly map[string]bool
	// fresh: lower-case name → value on a connection as the pool lends it fresh (after login or
	// a reset), e.g. the server's default sql_mode, which decides how a statement is lexed.
	fresh map[string]string
	// maxPacket is the server's max_allowed_packet (0: unknown).
	maxPacket int
	// globals: the global values of the character set variables (freshCharset's names) and of
	// sql_mode, which a session the server reset to its own defaults gets (a refused
	// COM_CHANGE_USER; COM_RESET_CONNECTION drops a login's IGNORE_SPACE).
	globals map[string]string
}

// catalogSQL lists the variables a session can have. MySQL has no such table (its
// performance_schema.variables_info says nothing of read-only): there the fallback rules apply.
const catalogSQL = "SELECT LOWER(VARIABLE_NAME), READ_ONLY, SESSION_VALUE, GLOBAL_VALUE FROM information_schema.SYSTEM_VARIABLES " +
	"WHERE VARIABLE_SCOPE <> 'GLOBAL'"

// readCatalog reads the catalog of c's server. An error is a broken connection.
func readCatalog(c *backend.Conn) (*varCatalog, error) {
	cat := &varCatalog{version: c.Version, readOnly: make(map[string]bool, 512), fresh: make(map[string]string, 512)}
	err := c.QueryRows(catalogSQL, func(row []*string) error {
		if len(row) == 4 && row[0] != nil && row[1] != nil {
			cat.readOnly[*row[0]] = *row[1] == "YES"
			if row[2] != nil {
				cat.fresh[*row[0]] = *row[2]
			}
			if _, ok := freshCharset[*row[0]]; (ok || *row[0] == "sql_mode") && row[3] != nil {
				if cat.globals == nil {
					cat.globals = make(map[string]string, len(freshCharset)+1)
				}
				cat.globals[*row[0]] = *row[3]
			}
		}
		return nil
	})
	if err != nil {
		if isServerError(err) {
			return &varCatalog{version: c.Version}, nil // no such table (MySQL): fall back
		}
		return nil, err
	}
	cat.maxPacket, _ = strconv.Atoi(cat.fresh["max_allowed_packet"])
	return cat, nil
}

// fallbackReadOnly are the session variables MariaDB and MySQL maintain themselves, for a server
// whose catalog could not be read.
var fallbackReadOnly = map[string]bool{
	"last_gtid": true, "in_transaction": true, "warning_count": true, "error_count": true,
	"external_user": true, "proxy_user": true,
}

// kind classifies a tracked variable. Settable variables whose value belongs to one connection
// or one statement (unreplayable) pin; a variable the catalog does not know (a plugin loaded
// after it was read) pins too: nothing unknown is replayed.
func (cat *varCatalog) kind(name string) varKind {
	if unreplayable(name) {
		return varPin
	}
	if cat == nil || cat.readOnly == nil {
		if fallbackReadOnly[name] {
			return varReadOnly
		}
		return varReplay
	}
	ro, ok := cat.readOnly[name]
	switch {
	case !ok:
		return varPin
	case ro:
		return varReadOnly
	}
	return varReplay
}

// freshValue is a variable's value on a fresh connection ("" if unknown).
func (cat *varCatalog) freshValue(name string) string {
	if cat == nil {
		return ""
	}
	return cat.fresh[name]
}

// global returns the global value of a variable in globals ("", false: unknown).
func (cat *varCatalog) global(name string) (string, bool) {
	if cat == nil {
		return "", false
	}
	v, ok := cat.globals[name]
	return v, ok
}

// catalogs holds the catalog of each backend, by address: read on every statement that needs
// one, written once per server version, so copied on write.
type catalogs struct {
	mu sync.Mutex // orders writers
	m  atomic.Pointer[map[string]*varCatalog]
}

// get returns addr's catalog (nil: unknown, the fallback rules apply).
func (cs *catalogs) get(addr string) *varCatalog {
	if m := cs.m.Load(); m != nil {
		return (*m)[addr]
	}
	return nil
}

// observe reads the catalog of addr's server on the new connection c, unless one for the same
// server version is held, and reports whether it read one. An error is a broken connection.
func (cs *catalogs) observe(addr string, c *backend.Conn) (bool, error) {
	if cur := cs.get(addr); cur != nil && cur.version == c.Version {
		return false, nil
	}
	cat, err := readCatalog(c)
	if err != nil {
		return false, err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	m := make(map[string]*varCatalog)
	if old := cs.m.Load(); old != nil {
		maps.Copy(m, *old)
	}
	m[addr] = cat
	cs.m.Store(&m)
	return true, nil
}
