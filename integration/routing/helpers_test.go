// Package routing tests backends with roles (issue 10) on real MariaDB GTID replication over
// loopback: where statements go, read-your-writes, lag, failover. What a server ran is read from
// that server's own counters, never from the proxy's.
package routing

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/admin"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// The application's account has privileges on the test databases only: a read-only server
// refuses its writes, as it would an application's (the test accounts' ALL PRIVILEGES include
// READ ONLY ADMIN). The monitor logs in with SLAVE MONITOR only.
const (
	appUser, appPassword = "rw", "rwsecret"
	monUser, monPassword = "mon", "monsecret"
)

// cluster is a primary, its replicas and a proxy with roles in front of them.
type cluster struct {
	repl *mariadbtest.Replication
	cfg  *config.Config
	in   *proxy.Instance
}

// startCluster starts a primary and len(weights) replicas (read weights as given) and a proxy
// with roles; edit adjusts the configuration first.
func startCluster(t *testing.T, weights []int, edit func(*config.Config)) *cluster {
	t.Helper()
	repl := mariadbtest.StartReplication(t, len(weights), mariadbtest.Options{ExtraArgs: []string{"--userstat=ON"}})
	for _, q := range []string{
		"CREATE USER " + monUser + "@'%' IDENTIFIED BY '" + monPassword + "'",
		"GRANT SLAVE MONITOR ON *.* TO " + monUser + "@'%'",
	} {
		if err := repl.Primary.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := repl.Primary.CreatePlainUser(appUser, appPassword); err != nil {
		t.Fatal(err)
	}
	if err := repl.WaitCaughtUp(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	cfg := proxytest.Config(repl.Primary, 8)
	cfg.Backends = []config.BackendConfig{{Address: repl.Primary.Addr, Role: config.RolePrimary}}
	for i, r := range repl.Replicas {
		cfg.Backends = append(cfg.Backends, config.BackendConfig{Address: r.Addr, Role: config.RoleReplica, Weight: weights[i]})
	}
	cfg.Users = append(cfg.Users, config.UserConfig{Name: appUser, Password: appPassword})
	cfg.Routing.MonitorUser, cfg.Routing.MonitorPassword = monUser, monPassword
	cfg.Routing.MonitorInterval.Duration = 100 * time.Millisecond
	if edit != nil {
		edit(cfg)
	}
	c := &cluster{repl: repl, cfg: cfg, in: proxytest.Start(t, cfg)}
	c.waitStates(t, 10*time.Second, func(st map[string]proxy.BackendState) bool {
		if !st[repl.Primary.Addr].Writer {
			return false
		}
		for _, r := range repl.Replicas {
			if !st[r.Addr].Reader {
				return false
			}
		}
		return true
	})
	return c
}

// console starts the admin console and metrics listener of the cluster's proxy and returns a
// session on the console and the metrics URL.
func (c *cluster) console(t *testing.T) (*sql.DB, string) {
	t.Helper()
	cfg := config.AdminConfig{Listen: "127.0.0.1:0", User: "admin", Password: "adminpw", HTTPListen: "127.0.0.1:0"}
	adm, err := admin.Start(cfg, c.in, admin.Runtime{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	db, err := sql.Open("mysql", proxytest.DSN(adm.Addr(), "admin", "adminpw", ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, "http://" + adm.HTTPAddr() + "/metrics"
}

// backendsRows is SHOW BACKENDS on the console: column → value, by backend address.
func backendsRows(t *testing.T, console *sql.DB) map[string]map[string]string {
	t.Helper()
	rows, err := console.Query("SHOW BACKENDS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := make(map[string]map[string]string)
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make(map[string]string)
		for i, c := range cols {
			row[c] = vals[i].String
		}
		out[row["backend"]] = row
	}
	return out
}

// metric is the value of one series on the metrics page ("" when absent).
func metric(t *testing.T, url, series string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// states is the monitor's view by address.
func (c *cluster) states() map[string]proxy.BackendState {
	m := make(map[string]proxy.BackendState)
	for _, st := range c.in.Router().BackendStates() {
		m[st.Addr] = st
	}
	return m
}

// waitStates waits until ok holds for the monitor's view.
func (c *cluster) waitStates(t *testing.T, timeout time.Duration, ok func(map[string]proxy.BackendState) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok(c.states()) {
		if time.Now().After(deadline) {
			t.Fatalf("the monitor did not reach the expected states within %s: %+v", timeout, c.in.Router().BackendStates())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// db opens a pool to the proxy as the application.
func (c *cluster) db(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", proxytest.DSN(c.in.Addr(), appUser, appPassword, "test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// conn is one session to the proxy.
func (c *cluster) conn(t *testing.T) *sql.Conn {
	t.Helper()
	conn, err := c.db(t).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// serverID maps each server's @@server_id to its name in messages.
func (c *cluster) serverName(id string) string {
	if id == "1" {
		return "primary"
	}
	n, _ := strconv.Atoi(id)
	return fmt.Sprintf("replica%d", n-1)
}

// counters reads some of a server's global status counters (its own count of what it ran).
func counters(t *testing.T, s *mariadbtest.Server, names ...string) map[string]int64 {
	t.Helper()
	root, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rows, err := root.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('" + strings.Join(names, "','") + "')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		out[name] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// appWrites is how many INSERT, UPDATE and DELETE statements the application's account ran on
// s, as the server counts them (information_schema.USER_STATISTICS).
func appWrites(t *testing.T, s *mariadbtest.Server) int64 {
	t.Helper()
	root, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var n int64
	err = root.QueryRow("SELECT UPDATE_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = ?", appUser).Scan(&n)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return n
}

// appliedSeq is the sequence number of domain 0 a replica has applied, once its SQL thread has
// applied what it received (the same for 300 ms).
func appliedSeq(t *testing.T, s *mariadbtest.Server) int64 {
	t.Helper()
	root, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	last, same := int64(-1), 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var pos string
		if err := root.QueryRow("SELECT @@gtid_slave_pos").Scan(&pos); err != nil {
			t.Fatal(err)
		}
		var seq int64
		for _, g := range strings.Split(pos, ",") {
			if parts := strings.Split(strings.TrimSpace(g), "-"); len(parts) == 3 && parts[0] == "0" {
				seq, _ = strconv.ParseInt(parts[2], 10, 64)
			}
		}
		if seq == last {
			if same++; same == 3 {
				return seq
			}
			continue
		}
		last, same = seq, 0
	}
	return last
}

// delta is after − before for each counter.
func delta(before, after map[string]int64) map[string]int64 {
	d := make(map[string]int64)
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

func mustExec(t *testing.T, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := q.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func queryString(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s.String
}
