package proxy

import "strings"

// PinReason is a set of reasons that keep a session on one backend connection. A session with
// any reason set keeps its connection between statements; with none, it gives it back after each.
type PinReason uint32

// The reasons. Transaction and AutocommitOff follow the server's status flags after every
// response; the others are set by the classifier.
const (
	PinTransaction    PinReason = 1 << iota // SERVER_STATUS_IN_TRANS: a transaction is open
	PinAutocommitOff                        // autocommit=0: every statement opens a transaction
	PinSet                                  // SET of session state not yet tracked
	PinUserVariable                         // user variables (@x)
	PinTempTable                            // CREATE TEMPORARY TABLE
	PinLockTables                           // LOCK TABLES / FLUSH TABLES WITH READ LOCK
	PinGetLock                              // GET_LOCK()
	PinPrepare                              // text-protocol PREPARE / EXECUTE / DEALLOCATE
	PinStatement                            // binary-protocol prepared statements are open
	PinCall                                 // CALL of a stored procedure
	PinMultiStatement                       // several statements in one COM_QUERY
	PinFoundRows                            // SQL_CALC_FOUND_ROWS
	PinOther                                // a statement or command the router cannot prove harmless
)

var pinNames = [...]string{"transaction", "autocommit_off", "set", "user_variable", "temp_table",
	"lock_tables", "get_lock", "prepare", "prepared_statement", "call", "multi_statement",
	"found_rows", "other"}

// String lists the reasons by name, e.g. "transaction,user_variable"; "" for none.
func (p PinReason) String() string {
	if p == 0 {
		return ""
	}
	var parts []string
	for i, n := range pinNames {
		if p&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// canRelease is the one place that decides whether a session may give its connection back.
func canRelease(p PinReason) bool { return p == 0 }
