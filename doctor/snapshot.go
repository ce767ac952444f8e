package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Snapshot is what one server said, as read; Analyse turns it into a Report.
type Snapshot struct {
	Variables map[string]string // SHOW GLOBAL VARIABLES, names lower-cased
	Status    map[string]string // SHOW GLOBAL STATUS, names lower-cased
	Processes []Process         // SHOW PROCESSLIST
	SelfID    int64             // the doctor's own connection, left out of every count
	Account   string            // CURRENT_USER(): the account the doctor read the server as
	// Process is true when the account holds PROCESS (directly, or through ALL PRIVILEGES), so
	// SHOW PROCESSLIST lists every connection, not only the account's own.
	Process bool
}

// Process is one row of SHOW PROCESSLIST.
type Process struct {
	ID      int64
	User    string
	Host    string // as the server shows it: "host:port" for TCP, "localhost" for a socket
	Command string // "Sleep" for a connection waiting for its client
	Time    int64  // seconds in this state: for "Sleep", how long the connection has been idle
}

// maxRows bounds each result the doctor reads. The largest is the process list, which
// max_connections (at most 100000) bounds on the server side.
const maxRows = 200_000

// Gather reads the server's variables, status counters and process list over conn. It only
// runs SHOW and SELECT statements.
func Gather(ctx context.Context, conn *sql.Conn) (*Snapshot, error) {
	s := &Snapshot{}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID(), CURRENT_USER()").Scan(&s.SelfID, &s.Account); err != nil {
		return nil, err
	}
	var err error
	if s.Variables, err = readPairs(ctx, conn, "SHOW GLOBAL VARIABLES"); err != nil {
		return nil, err
	}
	if s.Status, err = readPairs(ctx, conn, "SHOW GLOBAL STATUS"); err != nil {
		return nil, err
	}
	if s.Processes, err = readProcesses(ctx, conn); err != nil {
		return nil, err
	}
	grants, err := readColumn(ctx, conn, "SHOW GRANTS")
	if err != nil {
		return nil, err
	}
	s.Process = holdsProcess(grants)
	return s, nil
}

// readPairs reads a two-column SHOW (name, value) into a map keyed by lower-cased name.
func readPairs(ctx context.Context, conn *sql.Conn, query string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	m := make(map[string]string)
	for rows.Next() {
		if len(m) >= maxRows {
			return nil, fmt.Errorf("%s: more than %d rows", query, maxRows)
		}
		var name string
		var value sql.NullString
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("%s: %w", query, err)
		}
		m[strings.ToLower(name)] = value.String
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	return m, nil
}

// readColumn reads the first column of every row.
func readColumn(ctx context.Context, conn *sql.Conn, query string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		if len(out) >= maxRows {
			return nil, fmt.Errorf("%s: more than %d rows", query, maxRows)
		}
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", query, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	return out, nil
}

// readProcesses reads SHOW PROCESSLIST by column name: MariaDB adds a Progress column, and
// the plain (not FULL) form keeps Info short, which the doctor does not read anyway.
func readProcesses(ctx context.Context, conn *sql.Conn) ([]Process, error) {
	const query = "SHOW PROCESSLIST"
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, c := range cols {
		idx[strings.ToLower(c)] = i
	}
	for _, want := range []string{"id", "user", "host", "command", "time"} {
		if _, ok := idx[want]; !ok {
			return nil, fmt.Errorf("%s: no %s column in %v", query, want, cols)
		}
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []Process
	for rows.Next() {
		if len(out) >= maxRows {
			return nil, fmt.Errorf("%s: more than %d rows", query, maxRows)
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("%s: %w", query, err)
		}
		id, _ := strconv.ParseInt(vals[idx["id"]].String, 10, 64)
		secs, _ := strconv.ParseInt(vals[idx["time"]].String, 10, 64)
		out = append(out, Process{
			ID:      id,
			User:    vals[idx["user"]].String,
			Host:    vals[idx["host"]].String,
			Command: vals[idx["command"]].String,
			Time:    secs,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	return out, nil
}

// globalGrant matches the privilege list of a GRANT on *.*, as SHOW GRANTS prints it.
var globalGrant = regexp.MustCompile(`(?i)^GRANT (.*) ON \*\.\* TO `)

// holdsProcess reports whether the SHOW GRANTS lines give PROCESS on every database. Grants
// through roles are not followed: the report then says the process list may be partial.
func holdsProcess(grants []string) bool {
	for _, g := range grants {
		m := globalGrant.FindStringSubmatch(g)
		if m == nil {
			continue
		}
		for p := range strings.SplitSeq(m[1], ",") {
			switch strings.ToUpper(strings.TrimSpace(p)) {
			case "ALL PRIVILEGES", "ALL", "PROCESS":
				return true
			}
		}
	}
	return false
}
