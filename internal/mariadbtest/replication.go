package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Replication is a primary and its replicas, each a throwaway server, replicating with GTIDs
// over loopback. Every server writes a binary log (a replica can be promoted) and has the same
// accounts and databases; replicas start read-only.
type Replication struct {
	Primary  *Server
	Replicas []*Server
}

// replUser is the account replicas log in to the primary as.
const (
	replUser     = "repl"
	replPassword = "replsecret"
)

// replAccount creates the replication account; every server has it, so any can be promoted.
var replAccount = []string{
	"CREATE USER IF NOT EXISTS " + quote(replUser) + "@'%' IDENTIFIED BY " + quote(replPassword),
	"GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN ON *.* TO " + quote(replUser) + "@'%'",
}

// StartReplication starts a primary and n replicas (Options apply to each, server ids and the
// binary log added) and waits until every replica replicates. They stop in tb.Cleanup.
func StartReplication(tb testing.TB, n int, opts Options) *Replication {
	tb.Helper()
	withID := func(id int, readOnly bool) Options {
		o := opts
		o.ExtraArgs = append([]string{"--log-bin=bin", "--server-id=" + strconv.Itoa(id),
			"--binlog-format=ROW", "--log-slave-updates=ON", "--gtid-strict-mode=ON",
			"--read-only=" + strconv.FormatBool(readOnly)}, opts.ExtraArgs...)
		return o
	}
	r := &Replication{Primary: StartTB(tb, withID(1, false))}
	for _, q := range replAccount {
		if err := r.Primary.execNoBinlog(q); err != nil {
			tb.Fatalf("primary: %s: %v", q, err)
		}
	}
	for i := range n {
		rep := StartTB(tb, withID(2+i, true))
		for _, q := range replAccount {
			if err := rep.execNoBinlog(q); err != nil {
				tb.Fatalf("replica %d: %s: %v", i+1, q, err)
			}
		}
		if err := rep.ReplicateFrom(r.Primary); err != nil {
			tb.Fatalf("replica %d: %v", i+1, err)
		}
		r.Replicas = append(r.Replicas, rep)
	}
	return r
}

// execNoBinlog runs one statement as root without writing it to the binary log.
func (s *Server) execNoBinlog(q string) error {
	return s.noBinlog(func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, q)
		return err
	})
}

// ReplicateFrom points s at primary (GTID, from the primary's current position) and starts
// replication, waiting until both threads run.
func (s *Server) ReplicateFrom(primary *Server) error {
	host, port, _ := strings.Cut(primary.Addr, ":")
	for _, q := range []string{
		"STOP SLAVE",
		"RESET SLAVE ALL",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
			quote(host), port, quote(replUser), quote(replPassword)),
		"START SLAVE",
	} {
		if err := s.execNoBinlog(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	deadline := time.Now().Add(startTimeout)
	for {
		st, err := s.ReplicaStatus()
		if err == nil && st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replication does not start: %v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ReplicaStatus returns SHOW SLAVE STATUS as column → value (empty when not a replica).
func (s *Server) ReplicaStatus() (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupQueryWait)
	defer cancel()
	rows, err := s.admin.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if !rows.Next() {
		return out, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, c := range cols {
		out[c] = vals[i].String
	}
	return out, rows.Err()
}

// WaitCaughtUp waits until every replica has applied the primary's current GTID position.
func (r *Replication) WaitCaughtUp(timeout time.Duration) error {
	var pos string
	if err := r.Primary.admin.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return err
	}
	for _, rep := range r.Replicas {
		var res sql.NullInt64
		q := fmt.Sprintf("SELECT MASTER_GTID_WAIT(%s, %f)", quote(pos), timeout.Seconds())
		if err := rep.admin.QueryRow(q).Scan(&res); err != nil {
			return err
		}
		if !res.Valid || res.Int64 != 0 {
			return errors.New("mariadbtest: a replica did not catch up with " + pos)
		}
	}
	return nil
}
