package admin

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// command is one admin console command.
type command struct {
	// words is the command in upper case, words separated by one space; an argument, if any,
	// follows in the statement (KILL CLIENT n).
	words string
	// arg names the argument in HELP ("" for none).
	arg  string
	help string
	run  func(h *handler, arg string) (*mysql.Result, error)
}

// commands returns every command, in HELP order. A function rather than a package variable: the
// table refers to (*handler).help, which lists the table.
func commands() []command {
	return []command{
		{"SHOW POOLS", "", "one row per backend pool: cap, connections open, in use, idle, waiters, counters", (*handler).showPools},
		{"SHOW CLIENTS", "", "one row per client connection: user, address, database, state, pin reason", (*handler).showClients},
		{"SHOW BACKENDS", "", "one row per backend: cap, connections open, up/down from recent dials", (*handler).showBackends},
		{"SHOW FLEET", "", "with [cluster]: one row per backend and fleet instance: grant, floor, demand, in use, waiting", (*handler).showFleet},
		{"SHOW STATS", "", "name/value counters: clients, queries, borrows, pins by reason, ...", (*handler).showStats},
		{"SHOW CONFIG", "", "key/value rows of the running configuration (passwords hidden)", (*handler).showConfig},
		{"SHOW DIGESTS", "", "statements by digest (literals replaced by ?): count, time, rows, errors", (*handler).showDigests},
		{"RESET DIGESTS", "", "empty the SHOW DIGESTS table", (*handler).resetDigests},
		{"SHOW VERSION", "", "mysqlmux's version and build", (*handler).showVersion},
		{"RELOAD", "", "re-read the configuration file and apply it (as SIGHUP)", (*handler).reload},
		{"SET", "name = value", "change a live setting: " + strings.Join(settings(), ", ") + " (RELOAD reads the file again)", (*handler).set},
		{"PAUSE", "", "hold statements that need a backend connection; waits until none is in use", (*handler).pause},
		{"RESUME", "", "end PAUSE", (*handler).resume},
		{"KILL CLIENT", "n", "close client connection n (the id of SHOW CLIENTS)", (*handler).kill},
		{"KILL IDLE CLIENTS OLDER THAN", "n [FORCE]", "close clients idle n seconds or more; pinned ones (a transaction, ...) only with FORCE", (*handler).killIdle},
		{"SHOW HELP", "", "this list (also HELP)", (*handler).help},
	}
}

// compatQuery answers what MySQL clients send on their own at connect (norm is normalised), so
// stock clients can use the console: the mariadb CLI asks for @@version_comment, connectors set
// the character set and autocommit (the console has no session state: those are ignored).
func (h *handler) compatQuery(norm string) (res *mysql.Result, ok bool, err error) {
	switch norm {
	case "SELECT @@VERSION_COMMENT LIMIT 1", "SELECT @@VERSION_COMMENT":
		res, err = resultset([]string{"@@version_comment"}, [][]any{{"mysqlmux admin console"}})
		return res, true, err
	case "SELECT DATABASE(), USER() LIMIT 1": // the mariadb CLI's "status"
		res, err = resultset([]string{"DATABASE()", "USER()"}, [][]any{{nil, h.s.creds.user}})
		return res, true, err
	}
	for _, p := range []string{"SET NAMES ", "SET CHARACTER SET ", "SET AUTOCOMMIT", "SET SESSION AUTOCOMMIT"} {
		if strings.HasPrefix(norm, p) {
			return nil, true, nil
		}
	}
	return nil, false, nil
}

// handler serves one console connection (go-mysql's server.Handler).
type handler struct {
	s *Server
}

// HandleQuery runs one admin command. Matching is case-insensitive and ignores surrounding
// whitespace, runs of spaces and trailing semicolons.
func (h *handler) HandleQuery(query string) (*mysql.Result, error) {
	norm := normalize(query)
	if norm == "HELP" {
		return h.help("")
	}
	if res, ok, err := h.compatQuery(norm); ok {
		return res, err
	}
	for _, c := range commands() {
		rest, ok := strings.CutPrefix(norm, c.words)
		if !ok || (rest != "" && rest[0] != ' ') {
			continue
		}
		rest = strings.TrimSpace(rest)
		if (c.arg == "") != (rest == "") {
			return nil, usageError(c)
		}
		h.s.log.Debug("admin command", "command", c.words, "arg", rest)
		return c.run(h, rest)
	}
	return nil, unknownCommand(query)
}

// normalize upper-cases q, drops trailing semicolons and collapses whitespace.
func normalize(q string) string {
	q = strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")
	return strings.ToUpper(strings.Join(strings.Fields(q), " "))
}

// commandList names every command, for error messages.
func commandList() string {
	cs := commands()
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		n := c.words
		if c.arg != "" {
			n += " " + c.arg
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

func unknownCommand(query string) error {
	q := strings.TrimSpace(query)
	if len(q) > 80 {
		q = q[:80] + "..."
	}
	return mysql.NewError(mysql.ER_PARSE_ERROR,
		fmt.Sprintf("unknown admin command %q; valid commands: %s", q, commandList()))
}

func usageError(c command) error {
	usage := c.words
	if c.arg != "" {
		usage += " " + c.arg
	}
	return mysql.NewError(mysql.ER_PARSE_ERROR, "usage: "+usage)
}

func (h *handler) help(string) (*mysql.Result, error) {
	cs := commands()
	rows := make([][]any, 0, len(cs))
	for _, c := range cs {
		n := c.words
		if c.arg != "" {
			n += " " + c.arg
		}
		rows = append(rows, []any{n, c.help})
	}
	return resultset([]string{"command", "description"}, rows)
}

func (h *handler) reload(string) (*mysql.Result, error) {
	if h.s.rt.Reload == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "RELOAD is not available: no reload function")
	}
	if err := h.s.rt.Reload(); err != nil {
		h.s.log.Error("admin RELOAD failed; keeping the running configuration", "err", err)
		// Joined validation errors are one per line; a MySQL error message reads better on one.
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "reload failed: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	h.s.log.Info("admin RELOAD applied")
	return nil, nil
}

func (h *handler) kill(arg string) (*mysql.Result, error) {
	id, err := strconv.ParseUint(arg, 10, 32)
	if err != nil {
		return nil, mysql.NewError(mysql.ER_PARSE_ERROR, fmt.Sprintf("KILL CLIENT: %q is not a client id", arg))
	}
	if !h.s.in.Router().Kill(uint32(id)) {
		return nil, mysql.NewError(mysql.ER_NO_SUCH_THREAD, fmt.Sprintf("Unknown client id: %d", id))
	}
	h.s.log.Info("admin KILL CLIENT", "id", id)
	return nil, nil
}

// resultset wraps a text result set. Empty strings go as empty values: go-mysql would send a
// zero-length string as NULL.
func resultset(names []string, rows [][]any) (*mysql.Result, error) {
	for _, row := range rows {
		for i, v := range row {
			if s, ok := v.(string); ok && s == "" {
				row[i] = []byte{}
			}
		}
	}
	rs, err := mysql.BuildSimpleTextResultset(names, rows)
	if err != nil {
		return nil, err
	}
	return mysql.NewResult(rs), nil
}

// UseDB accepts any database: the console has none, and a client that names one at connect
// should still get in.
func (h *handler) UseDB(string) error { return nil }

// HandleFieldList implements server.Handler; the console has no tables.
func (h *handler) HandleFieldList(string, string) ([]*mysql.Field, error) {
	return nil, mysql.NewError(mysql.ER_NOT_SUPPORTED_YET, "the admin console has no tables")
}

// HandleStmtPrepare implements server.Handler; commands take no parameters.
func (h *handler) HandleStmtPrepare(string) (int, int, any, error) {
	return 0, 0, nil, mysql.NewError(mysql.ER_NOT_SUPPORTED_YET, "the admin console takes plain queries only (no prepared statements)")
}

// HandleStmtExecute implements server.Handler; unreachable without a prepare.
func (h *handler) HandleStmtExecute(any, string, []any) (*mysql.Result, error) {
	return nil, mysql.NewError(mysql.ER_NOT_SUPPORTED_YET, "the admin console takes plain queries only (no prepared statements)")
}

// HandleStmtClose implements server.Handler.
func (h *handler) HandleStmtClose(any) error { return nil }

// comResetConnection is COM_RESET_CONNECTION, which connectors send before reusing a pooled
// connection; the console has no session state to reset.
const comResetConnection = 0x1f

// HandleOtherCommand implements server.Handler.
func (h *handler) HandleOtherCommand(cmd byte, _ []byte) error {
	if cmd == comResetConnection {
		return nil
	}
	return mysql.NewError(mysql.ER_UNKNOWN_COM_ERROR, fmt.Sprintf("command 0x%02x is not supported by the admin console", cmd))
}
