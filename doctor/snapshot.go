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

// each runs query and calls row for every row it returns, at most maxRows of them.
func each(ctx context.Context, conn *sql.Conn, query string, row func(*sql.Rows) error) error {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	for n := 0; rows.Next(); n++ {
		if n == maxRows {
			return fmt.Errorf("%s: more than %d rows", query, maxRows)
		}
		if err := row(rows); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	return nil
}

// readPairs reads a two-column SHOW (name, value) into a map keyed by lower-cased name.
func readPairs(ctx context.Context, conn *sql.Conn, query string) (map[string]string, error) {
	m := make(map[string]string)
	err := each(ctx, conn, query, func(rows *sql.Rows) error {
		var name string
		var value sql.NullString
		if err := rows.Scan(&name, &value); err != nil {
			return err
		}
		m[strings.ToLower(name)] = value.String
		return nil
	})
	return m, err
}

// readColumn reads the first column of every row.
func readColumn(ctx context.Context, conn *sql.Conn, query string) ([]string, error) {
	var out []string
	err := each(ctx, conn, query, func(rows *sql.Rows) error {
		var v string
		err := rows.Scan(&v)
		out = append(out, v)
		return err
	})
	return out, err
}

// readProcesses reads SHOW PROCESSLIST by column name: MariaDB adds a Progress column. The
// plain (not FULL) form keeps Info short; the doctor does not read it anyway.
func readProcesses(ctx context.Context, conn *sql.Conn) ([]Process, error) {
	var out []Process
	var idx map[string]int
	var vals []sql.NullString
	var ptrs []any
	err := each(ctx, conn, "SHOW PROCESSLIST", func(rows *sql.Rows) error {
		if idx == nil {
			cols, err := rows.Columns()
			if err != nil {
				return err
			}
			idx = map[string]int{}
			for i, c := range cols {
				idx[strings.ToLower(c)] = i
			}
			for _, want := range []string{"id", "user", "host", "command", "time"} {
				if _, ok := idx[want]; !ok {
					return fmt.Errorf("no %s column in %v", want, cols)
				}
			}
			vals = make([]sql.NullString, len(cols))
			ptrs = make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
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
		return nil
	})
	return out, err
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
