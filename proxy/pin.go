package proxy

import "strings"

// PinReason is a set of reasons that keep a session on one backend connection. A session with
// any reason set keeps its connection between statements; with none, it gives it back after each.
// Every reason ends when its cause does (noted per reason); "until reset" ones end with
// COM_RESET_CONNECTION, COM_CHANGE_USER or the end of the client connection. Only settle.go and
// the reset paths write pins.
type PinReason uint32

// The reasons.
const (
	PinTransaction       PinReason = 1 << iota // SERVER_STATUS_IN_TRANS; ends with the transaction
	PinTxCharacteristics                       // SET TRANSACTION (one-shot); ends with the next transaction
	PinStatusUnknown                           // an error ended the response, so no status said whether a transaction is open; ends with the next status
	PinUserVariable                            // a user variable whose value could not be read back exactly; until reset
	PinTempTable                               // temporary tables exist; until the last is dropped
	PinLockTables                              // LOCK TABLES, FLUSH ... WITH READ LOCK / FOR EXPORT; until UNLOCK TABLES
	PinGetLock                                 // GET_LOCK() held; until the locks are released
	PinHandler                                 // HANDLER ... OPEN; until each is closed
	PinPrepare                                 // text PREPARE; until DEALLOCATE
	PinXA                                      // XA transaction; until XA COMMIT / ROLLBACK
	PinSavepoint                               // SAVEPOINT with autocommit off and no transaction open: no status shows it; until COMMIT, ROLLBACK, a transaction or autocommit
	PinSequence                                // NEXTVAL/LASTVAL/SETVAL: values cached by the connection; until reset
	PinRoutine                                 // CALL, a stored function, a compound statement: effects unseen; until reset
	PinUnknown                                 // a statement the proxy does not understand; until reset
	PinUntracked                               // state the server reports changed that cannot be replayed; until reset
	PinWarnings                                // the last statement left warnings or an error; through the next statement
	PinFoundRows                               // SQL_CALC_FOUND_ROWS; through the next statement
)

var pinNames = [...]string{"transaction", "transaction_characteristics", "status_unknown",
	"user_variable", "temp_table", "lock_tables", "get_lock", "handler", "prepare", "xa",
	"savepoint", "sequence", "routine", "unknown_statement", "untracked_state", "warnings", "found_rows"}

// nextStatementPins last through the next statement only. While a session holds its connection
// only for these, it gives it back after a short idle grace (softPinGrace) rather than hold it
// while the client sleeps, keeping what the next statement would have read (see release.go).
const nextStatementPins = PinWarnings | PinFoundRows

// untilResetPins end only when the session starts over.
const untilResetPins = PinUserVariable | PinSequence | PinRoutine | PinUnknown | PinUntracked

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

// PinReasonNames lists every reason, in bit order.
func PinReasonNames() []string { return pinNames[:] }

// canRelease is the one place that decides whether a session may give its connection back.
func canRelease(p PinReason) bool { return p == 0 }
