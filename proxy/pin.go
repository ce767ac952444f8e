package proxy

import "strings"

// PinReason is a set of reasons that keep a session on one backend connection. A session with
// any reason set keeps its connection between statements; with none, it gives it back after each.
// Every reason ends when its cause does (noted per reason); "until reset" ones end with
// COM_RESET_CONNECTION, COM_CHANGE_USER or the end of the client connection.
type PinReason uint32

// The reasons.
const (
	PinTransaction       PinReason = 1 << iota // SERVER_STATUS_IN_TRANS; ends with the transaction
	PinTxCharacteristics                       // SET TRANSACTION (one-shot); ends with the next transaction
	PinSet                                     // a SET the parser could not read; until reset
	PinUserVariable                            // a user variable set from an expression; until reset
	PinTempTable                               // temporary tables exist; until the last is dropped
	PinLockTables                              // LOCK TABLES / FLUSH ... WITH READ LOCK; until UNLOCK TABLES
	PinGetLock                                 // GET_LOCK() held; until the locks are released
	PinPrepare                                 // text PREPARE; until DEALLOCATE
	PinXA                                      // XA transaction; until XA COMMIT / ROLLBACK
	PinUntracked                               // state the server reports changed that cannot be replayed; until reset
	PinWarnings                                // the last statement left warnings or an error; through the next statement
	PinFoundRows                               // SQL_CALC_FOUND_ROWS; through the next statement
	PinOther                                   // a command the router cannot prove harmless; until reset
)

var pinNames = [...]string{"transaction", "transaction_characteristics", "set", "user_variable",
	"temp_table", "lock_tables", "get_lock", "prepare", "xa", "untracked_state",
	"warnings", "found_rows", "other"}

// nextStatementPins last through the next statement only. While a session holds its connection
// only for these, it gives it back after a short idle grace (softPinGrace) rather than hold it
// while the client sleeps.
const nextStatementPins = PinWarnings | PinFoundRows

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
