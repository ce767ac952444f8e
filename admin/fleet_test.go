package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/mysqlmux/mysqlmux/cluster"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
)

// With a fleet, SHOW FLEET lists its members, SHOW BACKENDS has this instance's grant, demand
// and the fleet's totals, and /metrics the mysqlmux_fleet_* series; without, SHOW FLEET says so.
func TestFleetConsoleAndMetrics(t *testing.T) {
	mariadbtest.Need(t, db)
	cfg := proxytest.Config(db, 3)
	cfg.Admin = config.AdminConfig{Listen: "127.0.0.1:0", User: adminUser, Password: adminPassword, HTTPListen: "127.0.0.1:0"}
	in := proxytest.Start(t, cfg)
	st := &cluster.Status{Fleet: "f", Instance: "a", State: cluster.StateOffline, StateSince: time.Now(), Cap: 12, Instances: 2,
		Backends: []cluster.BackendStatus{{Backend: db.Addr, Grant: 7, Limit: 6, Want: 9, Granted: 12, FleetIn: 10}},
		Members: []cluster.MemberStatus{
			{Backend: db.Addr, Instance: "a", Live: true, Grant: 7, Floor: 1, Want: 9, InUse: 6},
			{Backend: db.Addr, Instance: "b", Live: false, Grant: 1, Floor: 1},
		}}
	var fleet *cluster.Status
	adm, err := Start(cfg.Admin, in, Runtime{Fleet: func() *cluster.Status { return fleet }}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	f := &fixture{cfg: cfg, in: in, adm: adm}
	c := f.admin(t)
	if _, err := c.Exec("SHOW FLEET"); err == nil || !strings.Contains(err.Error(), "no [cluster]") {
		t.Fatalf("SHOW FLEET without a fleet: %v", err)
	}
	if r := rowsOf(t, c, "SHOW BACKENDS")[0]; r["fleet_grant"] != "NULL" || r["fleet_state"] != "NULL" {
		t.Fatalf("fleet columns without a fleet: %v", r)
	}

	fleet = st
	rows := rowsOf(t, c, "SHOW FLEET")
	if len(rows) != 2 || rows[0]["instance"] != "a" || rows[0]["self"] != "yes" || rows[0]["grant"] != "7" ||
		rows[1]["live"] != "no" || rows[1]["floor"] != "1" {
		t.Fatalf("SHOW FLEET: %v", rows)
	}
	r := rowsOf(t, c, "SHOW BACKENDS")[0]
	for k, v := range map[string]string{"fleet_state": "offline", "fleet_grant": "7", "fleet_limit": "6", "fleet_demand": "9",
		"fleet_instances": "2", "fleet_granted": "12", "fleet_in_use": "10"} {
		if r[k] != v {
			t.Errorf("SHOW BACKENDS %s = %q, want %q", k, r[k], v)
		}
	}
	_, body := f.get(t, "/metrics")
	for _, want := range []string{
		`mysqlmux_fleet_state{state="offline"} 1`, `mysqlmux_fleet_state{state="ok"} 0`, "mysqlmux_fleet_instances 2",
		`mysqlmux_fleet_grant{backend="` + db.Addr + `"} 7`, `mysqlmux_fleet_granted{backend="` + db.Addr + `"} 12`,
		`mysqlmux_fleet_demand{backend="` + db.Addr + `"} 9`, `mysqlmux_fleet_in_use{backend="` + db.Addr + `"} 10`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
