package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/doctor"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// TestDoctor runs `mysqlmux doctor` against a MariaDB with max_connections=40 holding 30
// sleeping connections of two users after one client was refused with ERROR 1040, and checks
// the figures against what the test set up and the server's own variables, and that the
// proposed configuration passes the config package's validation and `mysqlmux -check`.
func TestDoctor(t *testing.T) {
	srv := mariadbtest.StartTB(t, mariadbtest.Options{
		MaxConnections: 40,
		// The smaller of the two bounds an in-memory temporary table: make them differ.
		ExtraArgs: []string{"--tmp-table-size=8M", "--max-heap-table-size=32M"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hold(ctx, t, srv.DSN(mariadbtest.AppUser, mariadbtest.AppPassword, ""), 18)
	hold(ctx, t, srv.DSN(mariadbtest.OtherUser, mariadbtest.OtherPassword, ""), 12)
	refused := provoke1040(ctx, t, srv.DSN(mariadbtest.Other2User, mariadbtest.OtherPassword, ""))
	perConn, global := expectedMemory(ctx, t, srv)

	dsn := srv.DSN(mariadbtest.RootUser, "", "")
	const ram = 1 << 30
	// Wait until the refused user's connections are gone and the 30 have idled a second. That
	// Threads_connected then matches the process list checks that the doctor counts every
	// connection but its own.
	var out doctor.Output
	deadline := time.Now().Add(60 * time.Second)
	for {
		stdout, stderr, code := runMain(t, "doctor", "-dsn", dsn, "-ram", "1GiB", "-idle-threshold", "1s", "-json")
		if code != 0 {
			t.Fatalf("doctor exit %d: %s", code, stderr)
		}
		out = doctor.Output{}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
		}
		if settled(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections did not settle within 60 s: %+v", out.ConnectionsByUserHost)
		}
		time.Sleep(200 * time.Millisecond)
	}

	if *out.MaxConnections != 40 {
		t.Errorf("max_connections = %d, want 40", *out.MaxConnections)
	}
	groups := map[string]doctor.Group{}
	for _, g := range out.ConnectionsByUserHost {
		groups[g.User+"@"+g.Host] = g
		if g.User != "app" && g.User != "other" && g.User != "root" {
			t.Errorf("unexpected connections: %+v", g)
		}
	}
	for key, want := range map[string]int{"app@127.0.0.1": 18, "other@127.0.0.1": 12} {
		g := groups[key]
		if g.Sleeping != want || g.Active != 0 || g.IdleOverThreshold != want || g.IdleMinSeconds < 1 || g.IdleMaxSeconds < g.IdleMinSeconds {
			t.Errorf("%s: %+v, want %d sleeping, all idle at least 1 s", key, g, want)
		}
	}
	if !slices.Equal(out.AppUsers, []string{"app", "other"}) {
		t.Errorf("app_users = %v, want [app other]", out.AppUsers)
	}
	if *out.MaxUsedConnections < 40 {
		t.Errorf("max_used_connections = %d, want at least 40 (the server was full)", *out.MaxUsedConnections)
	}
	if *out.ConnectionErrorsMaxConnections != int64(refused) || out.Verdict != doctor.VerdictRefusing {
		t.Errorf("connection_errors_max_connections = %d, verdict %q; want %d, %q",
			*out.ConnectionErrorsMaxConnections, out.Verdict, refused, doctor.VerdictRefusing)
	}

	if *out.PerConnectionMemory.Bytes != perConn || *out.GlobalBuffers.Bytes != global {
		t.Errorf("per connection %d, global %d; the server's variables say %d, %d",
			*out.PerConnectionMemory.Bytes, *out.GlobalBuffers.Bytes, perConn, global)
	}
	memBound := (ram - global) / perConn
	if *out.RAMBytes != ram || *out.MemoryBoundMaxConnections != memBound {
		t.Errorf("ram %d, memory bound %d; want %d, %d", *out.RAMBytes, *out.MemoryBoundMaxConnections, int64(ram), memBound)
	}
	rec, cap := out.RecommendedMaxConnections, out.RecommendedPoolMaxConnections
	if rec < 1 || rec > memBound || rec > *out.FilesBoundMaxConnections || cap < 1 || cap+int64(out.OtherConnections)+2 > rec {
		t.Errorf("recommended max_connections %d, pool cap %d: outside memory bound %d, open-files bound %d, or no room for %d other connections",
			rec, cap, memBound, *out.FilesBoundMaxConnections, out.OtherConnections)
	}

	cfg := checkProposal(t, out.TOML)
	if len(cfg.Backends) != 1 || cfg.Backends[0].Address != srv.Addr || int64(cfg.Backends[0].Cap(cfg.Pool)) != cap {
		t.Errorf("proposed backends %+v, want %s with cap %d", cfg.Backends, srv.Addr, cap)
	}
	var users []string
	for _, u := range cfg.Users {
		users = append(users, u.Name)
		if u.Password != doctor.PasswordPlaceholder {
			t.Errorf("user %s: password %q printed, want the placeholder", u.Name, u.Password)
		}
	}
	if !slices.Equal(users, []string{"app", "other"}) {
		t.Errorf("proposed users %v, want [app other]", users)
	}
	if cfg.Proxy.ClientIdleTimeout.Duration != time.Duration(*out.WaitTimeout)*time.Second {
		t.Errorf("client_idle_timeout %s, want the server's wait_timeout %d s", cfg.Proxy.ClientIdleTimeout, *out.WaitTimeout)
	}

	text, stderr, code := runMain(t, "doctor", "-dsn", dsn, "-ram", "1GiB", "-idle-threshold", "1s")
	if code != 0 {
		t.Fatalf("doctor exit %d: %s", code, stderr)
	}
	for _, want := range []string{"app@127.0.0.1", "other@127.0.0.1", "ERROR 1040", "memory bound = (RAM − global buffers) / per connection", "REFUSING", "[[backends]]"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	t.Logf("report:\n%s", text)

	t.Run("config", func(t *testing.T) { doctorConfig(t, srv) })
}

// doctorConfig runs the doctor on a configuration whose cap exceeds what the server admits and
// one of whose users cannot log in.
func doctorConfig(t *testing.T, srv *mariadbtest.Server) {
	path := filepath.Join(t.TempDir(), "mysqlmux.toml")
	body := "[pool]\nmax_connections = 39\n[[backends]]\naddress = \"" + srv.Addr + "\"\n" +
		"[[users]]\nname = \"app\"\npassword = \"secret\"\n" +
		"[[users]]\nname = \"other\"\npassword = \"secret2\"\n" +
		"[[users]]\nname = \"ghost\"\npassword = \"nope\"\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runMain(t, "doctor", "-config", path, "-ram", "8GiB", "-json")
	if code != 0 {
		t.Fatalf("doctor exit %d: %s", code, stderr)
	}
	var out doctor.Output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
	}
	if len(out.Backends) != 1 || out.Backends[0].Address != srv.Addr {
		t.Fatalf("backends %+v, want one report for %s", out.Backends, srv.Addr)
	}
	var logins []string
	for _, l := range out.Logins {
		logins = append(logins, l.User+"="+map[bool]string{true: "ok", false: "failed"}[l.OK])
	}
	if !slices.Equal(logins, []string{"app=ok", "other=ok", "ghost=failed"}) {
		t.Errorf("logins %v, want app and other ok, ghost failed", logins)
	}
	if !slices.Equal(out.AppUsers, []string{"app", "other", "ghost"}) {
		t.Errorf("app_users = %v, want the configuration's", out.AppUsers)
	}
	// Memory (8 GiB) allows more than 40: the doctor keeps the cap and raises max_connections.
	cap := out.RecommendedPoolMaxConnections
	if cap != 39 || out.RecommendedMaxConnections < 39+int64(out.OtherConnections)+2 {
		t.Errorf("pool cap %d, max_connections %d, %d other connections: want the configured 39 and room for it",
			cap, out.RecommendedMaxConnections, out.OtherConnections)
	}
	var capFinding, ghostFinding bool
	for _, f := range out.Findings {
		capFinding = capFinding || f.Severity == "problem" && strings.Contains(f.Text, "cap 39")
		ghostFinding = ghostFinding || f.Severity == "problem" && strings.Contains(f.Text, `"ghost" cannot log in`)
	}
	if !capFinding || !ghostFinding {
		t.Errorf("findings %+v: want problems for the cap and for ghost", out.Findings)
	}
	cfg := checkProposal(t, out.TOML)
	if int64(cfg.Backends[0].Cap(cfg.Pool)) != cap || len(cfg.Users) != 3 {
		t.Errorf("proposal: cap %d, %d users; want %d, the configuration's 3", cfg.Backends[0].Cap(cfg.Pool), len(cfg.Users), cap)
	}

	text, stderr, code := runMain(t, "doctor", "-config", path, "-ram", "8GiB")
	if code != 0 {
		t.Fatalf("doctor exit %d: %s", code, stderr)
	}
	for _, want := range []string{"login as app: ok", "login as ghost: FAILED", "Raise max_connections to 42"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	t.Logf("report:\n%s", text)
}

// checkProposal checks a proposed configuration with the config package and with `mysqlmux
// -check`, and returns it.
func checkProposal(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatalf("proposed configuration invalid: %v\n%s", err, text)
	}
	path := filepath.Join(t.TempDir(), "proposed.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := mysqlmux(t, "-config", path, "-check"); code != 0 {
		t.Fatalf("mysqlmux -check: exit %d: %s\n%s", code, out, text)
	}
	return cfg
}

// settled reports whether the doctor saw only the connections the test holds (and root's), all
// idle a second or more, with no connection opening or closing between its reading of
// Threads_connected and of the process list (the doctor's own is in the first only).
func settled(out doctor.Output) bool {
	idle := 0
	for _, g := range out.ConnectionsByUserHost {
		switch g.User {
		case "app", "other":
			idle += g.IdleOverThreshold
		case "root":
		default:
			return false
		}
	}
	return idle == 30 && *out.ThreadsConnected == int64(out.SleepingConnections+out.ActiveConnections+1)
}

// hold opens n connections as dsn's user, leaves them idle, and closes them at the end of the test.
func hold(ctx context.Context, t *testing.T, dsn string, n int) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// provoke1040 opens connections as dsn's user until the server refuses one with ERROR 1040,
// then closes them. It returns the number refused: 1.
func provoke1040(ctx context.Context, t *testing.T, dsn string) int {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 40 {
		c, err := db.Conn(ctx)
		if err == nil {
			defer c.Close()
			continue
		}
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1040 {
			return 1
		}
		t.Fatal(err)
	}
	t.Fatal("the server never refused a connection")
	return 0
}

// expectedMemory computes the per-connection and global memory from the server's variables
// with the formulas of the README, in SQL.
func expectedMemory(ctx context.Context, t *testing.T, srv *mariadbtest.Server) (perConn, global int64) {
	t.Helper()
	root, err := srv.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	err = root.QueryRowContext(ctx, `SELECT
		@@sort_buffer_size + @@join_buffer_size + @@read_buffer_size + @@read_rnd_buffer_size +
		@@thread_stack + @@net_buffer_length + LEAST(@@tmp_table_size, @@max_heap_table_size) +
		IF(@@log_bin, @@binlog_cache_size + @@binlog_stmt_cache_size, 0),
		@@innodb_buffer_pool_size + @@innodb_log_buffer_size + @@key_buffer_size + @@query_cache_size +
		@@aria_pagecache_buffer_size`).Scan(&perConn, &global)
	if err != nil {
		t.Fatal(err)
	}
	return perConn, global
}
