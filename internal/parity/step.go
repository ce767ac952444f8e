package parity

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op is the kind of a step.
type Op uint8

// The steps a client (or an observer) can take.
const (
	OpQuery      Op = iota + 1 // COM_QUERY of SQL (one or several statements)
	OpPrepare                  // COM_STMT_PREPARE of SQL as handle Stmt
	OpExecute                  // COM_STMT_EXECUTE of handle Stmt with Args
	OpClose                    // COM_STMT_CLOSE of handle Stmt
	OpReset                    // COM_RESET_CONNECTION
	OpChangeUser               // COM_CHANGE_USER to User/Password/DB
	OpInitDB                   // COM_INIT_DB of DB
	OpSetOption                // COM_SET_OPTION: multi-statements On
	OpPing                     // COM_PING
	OpIdle                     // no command for Idle
	OpDrop                     // the client closes its socket (no COM_QUIT); its script ends
	OpQuit                     // COM_QUIT; the script ends
	OpKill                     // another connection KILLs the client (On: by COM_PROCESS_KILL); its script ends
	OpProbe                    // an observer's probe for foreign state (observers only)
	OpDeepProbe                // an observer's per-name probes (handlers, prepared names, writes)
	OpConnect                  // the session logs in (recorded first; a replay logs in there)
)

var opNames = map[Op]string{
	OpQuery: "query", OpPrepare: "prepare", OpExecute: "execute", OpClose: "close", OpReset: "reset",
	OpChangeUser: "changeuser", OpInitDB: "initdb", OpSetOption: "setoption", OpPing: "ping",
	OpIdle: "idle", OpDrop: "drop", OpQuit: "quit", OpKill: "kill", OpProbe: "probe", OpDeepProbe: "deepprobe", OpConnect: "connect",
}

func (o Op) String() string { return opNames[o] }

// Step is one thing a client does.
type Step struct {
	Op   Op
	SQL  string
	Stmt int   // client-side handle of a binary prepared statement
	Args []any // int64, float64, string or nil
	User string
	Pass string
	DB   string
	On   bool
	Idle time.Duration
}

// ends reports whether the client's script ends with this step.
func (s Step) ends() bool { return s.Op == OpDrop || s.Op == OpKill || s.Op == OpQuit }

// statement reports whether the step sends a command (and counts as a statement).
func (s Step) statement() bool {
	return s.Op != OpIdle && s.Op != OpDrop && s.Op != OpQuit && s.Op != OpConnect
}

// String renders the step in the line format of regression cases (see ParseStep).
func (s Step) String() string {
	switch s.Op {
	case OpQuery:
		return "query " + escapeLine(s.SQL)
	case OpPrepare:
		return fmt.Sprintf("prepare %d %s", s.Stmt, escapeLine(s.SQL))
	case OpExecute:
		parts := []string{"execute", strconv.Itoa(s.Stmt)}
		for _, a := range s.Args {
			parts = append(parts, formatArg(a))
		}
		return strings.Join(parts, " ")
	case OpClose:
		return fmt.Sprintf("close %d", s.Stmt)
	case OpChangeUser:
		return fmt.Sprintf("changeuser %s %s %s", s.User, s.Pass, dbWord(s.DB))
	case OpInitDB:
		return "initdb " + s.DB
	case OpSetOption:
		if s.On {
			return "setoption on"
		}
		return "setoption off"
	case OpIdle:
		return "idle " + s.Idle.String()
	case OpKill:
		if s.On {
			return "kill command"
		}
	}
	return s.Op.String()
}

func dbWord(db string) string {
	if db == "" {
		return "-"
	}
	return db
}

func formatArg(a any) string {
	switch v := a.(type) {
	case nil:
		return "null"
	case int64:
		return "int:" + strconv.FormatInt(v, 10)
	case float64:
		return "float:" + strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return "str:" + strconv.Quote(v)
	}
	return fmt.Sprintf("?%T", a)
}

// escapeLine keeps a statement on one line: newlines and backslashes are escaped.
func escapeLine(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(s)
}

func unescapeLine(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ParseStep reads a step written by Step.String.
func ParseStep(line string) (Step, error) {
	word, rest, _ := strings.Cut(line, " ")
	var s Step
	for op, name := range opNames {
		if name == word {
			s.Op = op
		}
	}
	var err error
	switch s.Op {
	case 0:
		return s, fmt.Errorf("unknown step %q", word)
	case OpQuery:
		s.SQL = unescapeLine(rest)
	case OpPrepare:
		h, sql, _ := strings.Cut(rest, " ")
		s.Stmt, err = strconv.Atoi(h)
		s.SQL = unescapeLine(sql)
	case OpExecute:
		fields := splitArgs(rest)
		if len(fields) == 0 {
			return s, errors.New("execute without a handle")
		}
		if s.Stmt, err = strconv.Atoi(fields[0]); err != nil {
			return s, err
		}
		for _, f := range fields[1:] {
			a, aerr := parseArg(f)
			if aerr != nil {
				return s, aerr
			}
			s.Args = append(s.Args, a)
		}
	case OpClose:
		s.Stmt, err = strconv.Atoi(rest)
	case OpChangeUser:
		f := strings.Fields(rest)
		if len(f) != 3 {
			return s, fmt.Errorf("changeuser wants user, password and database: %q", rest)
		}
		s.User, s.Pass, s.DB = f[0], f[1], f[2]
		if s.DB == "-" {
			s.DB = ""
		}
	case OpInitDB:
		s.DB = rest
	case OpSetOption:
		s.On = rest == "on"
	case OpKill:
		s.On = rest == "command"
	case OpIdle:
		s.Idle, err = time.ParseDuration(rest)
	}
	return s, err
}

// splitArgs splits on spaces outside double-quoted strings.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inStr := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inStr && ch == '\\' && i+1 < len(s):
			cur.WriteByte(ch)
			i++
			cur.WriteByte(s[i])
			continue
		case ch == '"':
			inStr = !inStr
		case ch == ' ' && !inStr:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteByte(ch)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func parseArg(f string) (any, error) {
	switch {
	case f == "null":
		return nil, nil
	case strings.HasPrefix(f, "int:"):
		return strconv.ParseInt(f[4:], 10, 64)
	case strings.HasPrefix(f, "float:"):
		return strconv.ParseFloat(f[6:], 64)
	case strings.HasPrefix(f, "str:"):
		return strconv.Unquote(f[4:])
	}
	return nil, fmt.Errorf("bad argument %q", f)
}
