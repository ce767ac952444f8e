package proxy

import "bytes"

// keyword is the first keyword of a statement, as far as the router cares.
type keyword uint8

const (
	kwOther keyword = iota
	kwSelect
	kwInsert
	kwUpdate
	kwDelete
	kwReplace
	kwWith
	kwShow
	kwDescribe
	kwExplain
	kwBegin
	kwStart
	kwCommit
	kwRollback
	kwSavepoint
	kwRelease
	kwSet
	kwUse
	kwCreate
	kwDrop
	kwAlter
	kwTruncate
	kwRename
	kwLock
	kwUnlock
	kwPrepare
	kwExecute
	kwDeallocate
	kwCall
	kwDo
	kwHandler
	kwXA
	kwLoad
	kwFlush
	kwGrant
	kwRevoke
	kwAnalyze
	kwOptimize
	kwCheck
	kwRepair
	kwKill
	kwValues
	kwTable
	kwGet
)

var keywords = map[string]keyword{
	"SELECT": kwSelect, "INSERT": kwInsert, "UPDATE": kwUpdate, "DELETE": kwDelete,
	"REPLACE": kwReplace, "WITH": kwWith, "SHOW": kwShow, "DESCRIBE": kwDescribe, "DESC": kwDescribe,
	"EXPLAIN": kwExplain, "BEGIN": kwBegin, "START": kwStart, "COMMIT": kwCommit,
	"ROLLBACK": kwRollback, "SAVEPOINT": kwSavepoint, "RELEASE": kwRelease, "SET": kwSet,
	"USE": kwUse, "CREATE": kwCreate, "DROP": kwDrop, "ALTER": kwAlter, "TRUNCATE": kwTruncate,
	"RENAME": kwRename, "LOCK": kwLock, "UNLOCK": kwUnlock, "PREPARE": kwPrepare,
	"EXECUTE": kwExecute, "DEALLOCATE": kwDeallocate, "CALL": kwCall, "DO": kwDo,
	"HANDLER": kwHandler, "XA": kwXA, "LOAD": kwLoad, "FLUSH": kwFlush, "GRANT": kwGrant,
	"REVOKE": kwRevoke, "ANALYZE": kwAnalyze, "OPTIMIZE": kwOptimize, "CHECK": kwCheck,
	"REPAIR": kwRepair, "KILL": kwKill, "VALUES": kwValues, "TABLE": kwTable, "GET": kwGet,
}

// Features of a statement found anywhere in its text (outside strings and comments).
const (
	featUserVar         uint32 = 1 << iota // @name (not @@system_variable)
	featMulti                              // a second statement after ';'
	featGetLock                            // GET_LOCK(
	featReleaseLock                        // RELEASE_LOCK( / RELEASE_ALL_LOCKS(
	featCalcFoundRows                      // SQL_CALC_FOUND_ROWS
	featFoundRows                          // FOUND_ROWS(
	featLastInsertID                       // LAST_INSERT_ID(
	featTemporary                          // TEMPORARY
	featLock                               // LOCK as a word (FLUSH TABLES WITH READ LOCK)
	featAssignVar                          // a user variable written outside SET: ":=", or INTO @x
	featSetLastInsertID                    // LAST_INSERT_ID(expr): sets the value
	featDiagnostics                        // reads the previous statement's diagnostics
	featKill                               // KILL as a word
)

// featureWord returns the feature a word (upper-cased) marks, 0 for most words. A switch on the
// length first keeps the common words (FROM, WHERE, column names) to one comparison or none.
func featureWord(w []byte) uint32 {
	switch len(w) {
	case 4:
		switch string(w) {
		case "LOCK":
			return featLock
		case "KILL":
			return featKill
		}
	case 6:
		if string(w) == "ERRORS" {
			return featDiagnostics
		}
	case 8:
		switch string(w) {
		case "GET_LOCK":
			return featGetLock
		case "WARNINGS":
			return featDiagnostics
		}
	case 9:
		if string(w) == "TEMPORARY" {
			return featTemporary
		}
	case 10:
		if string(w) == "FOUND_ROWS" {
			return featFoundRows
		}
	case 11:
		if string(w) == "ERROR_COUNT" || string(w) == "DIAGNOSTICS" {
			return featDiagnostics
		}
	case 12:
		if string(w) == "RELEASE_LOCK" {
			return featReleaseLock
		}
	case 13:
		if string(w) == "WARNING_COUNT" {
			return featDiagnostics
		}
	case 14:
		if string(w) == "LAST_INSERT_ID" {
			return featLastInsertID
		}
	case 17:
		if string(w) == "RELEASE_ALL_LOCKS" {
			return featReleaseLock
		}
	case 19:
		if string(w) == "SQL_CALC_FOUND_ROWS" {
			return featCalcFoundRows
		}
	}
	return 0
}

// stmtInfo is what one lexical pass over a COM_QUERY tells the router.
type stmtInfo struct {
	kw    keyword
	feats uint32
}

func (i stmtInfo) has(f uint32) bool { return i.feats&f != 0 }

// maxWord is the longest word looked up; longer words cannot be keywords.
const maxWord = 20

// classify scans a query once, without allocating: the first keyword and the features above.
// It skips string literals, quoted identifiers and comments, but enters executable comments
// (/*! ... */, /*M! ... */), whose content the server runs. Not a parser: it errs towards
// reporting a feature (which pins) rather than missing one.
func classify(q []byte) stmtInfo {
	var info stmtInfo
	first := true
	ended := false // a ';' has been seen; any further word is a second statement
	into := false  // the last word was INTO
	var up [maxWord]byte
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			if ended {
				info.feats |= featMulti
			}
			i = skipQuoted(q, i)
		case c == '#' || (c == '-' && i+2 < len(q) && q[i+1] == '-' && (q[i+2] == ' ' || q[i+2] == '\t' || q[i+2] == '\n' || q[i+2] == '\r')) ||
			(c == '-' && i+2 == len(q) && q[i+1] == '-'):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			if i+2 < len(q) && q[i+2] == '!' {
				i += 3
				for i < len(q) && q[i] >= '0' && q[i] <= '9' {
					i++
				}
				continue
			}
			if i+3 < len(q) && (q[i+2] == 'M' || q[i+2] == 'm') && q[i+3] == '!' {
				i += 4
				for i < len(q) && q[i] >= '0' && q[i] <= '9' {
					i++
				}
				continue
			}
			end := indexComment(q, i+2)
			if end < 0 {
				return info
			}
			i = end + 2
		case c == '*' && i+1 < len(q) && q[i+1] == '/':
			i += 2 // end of an executable comment
		case c == ';':
			ended = true
			i++
		case c == ':' && i+1 < len(q) && q[i+1] == '=':
			info.feats |= featAssignVar
			i += 2
		case c == '@':
			if ended {
				info.feats |= featMulti
			}
			if i+1 < len(q) && q[i+1] == '@' {
				i += 2
				start := i
				for i < len(q) && isWordByte(q[i]) || (i < len(q) && q[i] == '.') {
					i++
				}
				// @@last_insert_id and @@identity read what LAST_INSERT_ID() does.
				name := q[start:i]
				if j := bytes.LastIndexByte(name, '.'); j >= 0 {
					name = name[j+1:]
				}
				if bytes.EqualFold(name, []byte("last_insert_id")) || bytes.EqualFold(name, []byte("identity")) {
					info.feats |= featLastInsertID
				}
			} else {
				info.feats |= featUserVar
				if into {
					info.feats |= featAssignVar
				}
				i++
			}
		case isWordByte(c):
			start := i
			for i < len(q) && isWordByte(q[i]) {
				i++
			}
			if ended {
				info.feats |= featMulti
			}
			n := i - start
			into = n == 4 && (q[start]|0x20) == 'i' && (q[start+1]|0x20) == 'n' && (q[start+2]|0x20) == 't' && (q[start+3]|0x20) == 'o'
			if into {
				continue
			}
			if n > maxWord || (c >= '0' && c <= '9') {
				first = false
				continue
			}
			for j := 0; j < n; j++ {
				b := q[start+j]
				if b >= 'a' && b <= 'z' {
					b -= 'a' - 'A'
				}
				up[j] = b
			}
			w := up[:n]
			if first {
				info.kw = keywords[string(w)] // no allocation: the compiler converts in place
				first = false
			}
			if f := featureWord(w); f != 0 {
				info.feats |= f
				if f == featLastInsertID && setsValue(q, i) {
					info.feats |= featSetLastInsertID
				}
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		default:
			i++
		}
		into = false
	}
	return info
}

// setsValue reports whether the call at q[i:] has an argument: "(expr)" rather than "()".
func setsValue(q []byte, i int) bool {
	for i < len(q) && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r') {
		i++
	}
	if i >= len(q) || q[i] != '(' {
		return false
	}
	for i++; i < len(q) && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r'); i++ {
	}
	return i < len(q) && q[i] != ')'
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// skipQuoted returns the index after the quoted run starting at q[i], honouring doubled quotes
// and backslash escapes (the latter not in backticks).
func skipQuoted(q []byte, i int) int {
	quote := q[i]
	for i++; i < len(q); i++ {
		switch q[i] {
		case '\\':
			if quote != '`' {
				i++
			}
		case quote:
			if i+1 < len(q) && q[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(q)
}

func indexComment(q []byte, from int) int {
	for i := from; i+1 < len(q); i++ {
		if q[i] == '*' && q[i+1] == '/' {
			return i
		}
	}
	return -1
}
