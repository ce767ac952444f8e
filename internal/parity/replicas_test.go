package parity

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// The replicas' budget (issue 10): the fuzzer against a proxy with backend roles in front of a
// primary and two GTID replicas, reads of clients in autocommit going to the replicas,
// read-your-writes by GTID. The direct twin is a standalone server with the primary's options
// (binary log on), so what the binary log changes for a session (last_gtid tracked, …) is the
// same on both sides.
const (
	replicasSeed       = 6696270581628028631 // see ciBudget
	replicasStatements = 5000
	replicasDuration   = 40 * time.Second
)

// replicaServerArgs are the options mariadbtest.StartReplication gives the primary (withID(1,
// false)); the twin starts with the same, so its sessions behave as the primary's. The user
// statistics count what the clients ran on each server.
var replicaServerArgs = []string{"--log-bin=bin", "--server-id=1", "--binlog-format=ROW", "--log-slave-updates=ON",
	"--gtid-strict-mode=ON", "--read-only=false"}

const replicasMonUser, replicasMonPassword = "mon", "monsecret"

func TestParityWithReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("the parity budget does not run with -short")
	}
	opts := mariadbtest.Options{ExtraArgs: []string{"--userstat=ON"}}
	repl := mariadbtest.StartReplication(t, 2, opts)
	twin := mariadbtest.StartTB(t, mariadbtest.Options{ExtraArgs: append(append([]string(nil), replicaServerArgs...), opts.ExtraArgs...)})
	// The monitor's own account, so what it runs is not counted as the clients'.
	for _, q := range []string{
		"CREATE USER " + replicasMonUser + "@'%' IDENTIFIED BY '" + replicasMonPassword + "'",
		"GRANT SLAVE MONITOR ON *.* TO " + replicasMonUser + "@'%'",
	} {
		if err := repl.Primary.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := repl.WaitCaughtUp(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	servers := append([]*mariadbtest.Server{repl.Primary}, repl.Replicas...)
	before := make([]clientCounts, len(servers))
	for i, s := range servers {
		before[i] = readClientCounts(t, s)
	}

	configure := func(cfg *config.Config) {
		// The fixture was just written on the primary (the proxy starts after it, for the run and
		// for each replay): the replicas must have it before any client reads from them.
		if err := repl.WaitCaughtUp(30 * time.Second); err != nil {
			t.Errorf("the replicas did not catch up with the fixture: %v", err)
		}
		cfg.Backends = []config.BackendConfig{{Address: repl.Primary.Addr, Role: config.RolePrimary}}
		for _, r := range repl.Replicas {
			cfg.Backends = append(cfg.Backends, config.BackendConfig{Address: r.Addr, Role: config.RoleReplica, Weight: 1})
		}
		cfg.Routing.ReadYourWrites = config.RYWGTID
		cfg.Routing.GTIDWaitTimeout.Duration = 5 * time.Second
		cfg.Routing.MonitorInterval.Duration = 100 * time.Millisecond
		cfg.Routing.MonitorUser, cfg.Routing.MonitorPassword = replicasMonUser, replicasMonPassword
	}
	rep := runCI(t, Options{Proxied: repl.Primary, Direct: twin, Cap: 2, Seed: ciSeed(replicasSeed), Statements: replicasStatements,
		Duration: replicasDuration, Shrink: time.Minute, Configure: configure})
	if len(rep.Failures) == 0 && rep.Statements < replicasStatements {
		t.Logf("parity: only %d of %d statements within %v (a loaded machine?)", rep.Statements, replicasStatements, replicasDuration)
	}

	// The replicas must have served reads, or the run proved nothing about them. The servers'
	// own counters (the test accounts' statements, the monitor's left out) say where they ran.
	var onReplicas int64
	deltas := make([]clientCounts, len(servers))
	for i, s := range servers {
		deltas[i] = readClientCounts(t, s).minus(before[i])
		if i > 0 {
			onReplicas += deltas[i].selects
		}
	}
	var parts []string
	for i, d := range deltas {
		name := "primary"
		if i > 0 {
			name = fmt.Sprintf("replica%d", i)
		}
		parts = append(parts, fmt.Sprintf("%s %d selects (Com_select %d), %d writes", name, d.selects, d.comSelect, d.writes))
	}
	total := onReplicas + deltas[0].selects
	share := 0.0
	if total > 0 {
		share = 100 * float64(onReplicas) / float64(total)
	}
	t.Logf("parity with replicas: %d statements; the clients' SELECTs: %s; %.0f%% on the replicas",
		rep.Statements, strings.Join(parts, "; "), share)
	if len(rep.Failures) > 0 {
		return // the run stopped at the failure: too short to say where reads went
	}
	// Few of the grammar's statements are plain reads in autocommit mode by an unpinned session
	// (about 5% of the SELECTs over a whole budget, some of them the proxy's own GTID waits):
	// the bounds are low, but a proxy sending nothing to a replica fails them.
	if onReplicas < 100 {
		t.Errorf("the replicas served %d of the clients' SELECTs in %d statements: reads did not go to them", onReplicas, rep.Statements)
	}
	for i, d := range deltas[1:] {
		if d.selects < 20 {
			t.Errorf("replica%d served %d of the clients' SELECTs: reads did not go to it", i+1, d.selects)
		}
		if d.writes != 0 {
			t.Errorf("replica%d ran %d of the clients' writes", i+1, d.writes)
		}
	}
}

// clientCounts is what the test accounts ran on one server, as it counts them.
type clientCounts struct {
	selects, writes int64 // information_schema.USER_STATISTICS of app, other and other2
	comSelect       int64 // SHOW GLOBAL STATUS Com_select (everyone: the monitor too)
}

func (c clientCounts) minus(o clientCounts) clientCounts {
	return clientCounts{selects: c.selects - o.selects, writes: c.writes - o.writes, comSelect: c.comSelect - o.comSelect}
}

func readClientCounts(t *testing.T, s *mariadbtest.Server) clientCounts {
	t.Helper()
	root, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var c clientCounts
	var sel, wr sql.NullInt64
	err = root.QueryRow("SELECT SUM(SELECT_COMMANDS), SUM(UPDATE_COMMANDS) FROM information_schema.USER_STATISTICS "+
		"WHERE USER IN ('"+mariadbtest.AppUser+"', '"+mariadbtest.OtherUser+"', '"+mariadbtest.Other2User+"')").Scan(&sel, &wr)
	if err != nil {
		t.Fatal(err)
	}
	c.selects, c.writes = sel.Int64, wr.Int64
	var name string
	if err := root.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_select'").Scan(&name, &c.comSelect); err != nil {
		t.Fatal(err)
	}
	return c
}
