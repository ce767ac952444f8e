package admin

import (
	"strings"
	"testing"

	"github.com/mysqlmux/mysqlmux/config"
)

// configValue returns SHOW CONFIG's value of key.
func configValue(t *testing.T, adm queryer, key string) string {
	t.Helper()
	for _, r := range rowsOf(t, adm, "SHOW CONFIG") {
		if r["key"] == key {
			return r["value"]
		}
	}
	t.Fatalf("SHOW CONFIG has no %s", key)
	return ""
}

func TestSetLiveSettings(t *testing.T) {
	f := setupWith(t, nil, func(c *config.Config) { c.Backends[0].MaxConnections = 4 })
	adm := f.admin(t)
	for _, tc := range []struct{ stmt, key, want string }{
		{"SET max_connections = 7", "pool.max_connections", "7"},
		{"set acquire_timeout = '250ms'", "pool.acquire_timeout", "250ms"},
		{"SET pool.idle_timeout = \"1m30s\"", "pool.idle_timeout", "1m30s"},
		{"SET max_lifetime=2h", "pool.max_lifetime", "2h0m0s"},
		{"SET client_idle_timeout = '0s'", "proxy.client_idle_timeout", "0s"},
		{"SET max_client_connections = 500", "proxy.max_client_connections", "500"},
	} {
		mustExec(t, adm, tc.stmt)
		if got := configValue(t, adm, tc.key); got != tc.want {
			t.Errorf("%s: SHOW CONFIG %s = %q, want %q", tc.stmt, tc.key, got, tc.want)
		}
	}
	// max_connections is every backend's cap, the override in the file included.
	if got := configValue(t, adm, "backends[0].max_connections"); got != "7" {
		t.Errorf("backends[0].max_connections = %q after SET max_connections = 7", got)
	}
	if p := rowsOf(t, adm, "SHOW POOLS")[0]; p["max_connections"] != "7" {
		t.Errorf("SHOW POOLS after SET max_connections = 7: %v", p)
	}
	for _, tc := range []struct {
		stmt string
		code uint16
		msg  string
	}{
		{"SET max_connections = 0", 1231, "pool.max_connections"},
		{"SET max_connections = many", 1232, "whole number"},
		{"SET acquire_timeout = '5 seconds'", 1232, "duration"},
		{"SET idle_timeout = '-1s'", 1231, "pool.idle_timeout"},
		{"SET wait_timeout = 5", 1193, "max_connections"},
		{"SET max_connections", 1064, "usage"},
	} {
		_, err := tryRows(adm, tc.stmt)
		code, msg := mysqlErr(err)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: got %v, want ERROR %d mentioning %q", tc.stmt, err, tc.code, tc.msg)
		}
	}
	if got := configValue(t, adm, "pool.max_connections"); got != "7" {
		t.Errorf("a refused SET changed pool.max_connections to %q", got)
	}
}

func TestShowVersion(t *testing.T) {
	f := setup(t, nil)
	rows := rowsOf(t, f.admin(t), "SHOW VERSION")
	m := map[string]string{}
	for _, r := range rows {
		m[r["name"]] = r["value"]
	}
	if !strings.HasPrefix(m["go"], "go1.") || m["version"] == "" || m["platform"] == "" {
		t.Errorf("SHOW VERSION: %v", m)
	}
}
