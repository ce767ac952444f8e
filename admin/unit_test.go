package admin

import (
	"slices"
	"strings"
	"testing"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/config"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"show pools":           "SHOW POOLS",
		"  Show\t Pools ;; \n": "SHOW POOLS",
		"kill client 12;":      "KILL CLIENT 12",
		";":                    "",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigRowsMaskPasswords(t *testing.T) {
	cfg := config.Defaults()
	cfg.Backends = []config.BackendConfig{{Address: "db1:3306"}, {Address: "db2:3306", MaxConnections: 7}}
	cfg.Users = []config.UserConfig{{Name: "app", Password: "s3cret"}}
	cfg.Admin = config.AdminConfig{Listen: "127.0.0.1:6032", User: "admin", Password: "adm1n"}
	if rows := configRows(&cfg); slices.ContainsFunc(rows, func(kv [2]string) bool { return strings.HasPrefix(kv[0], "cluster") }) {
		t.Errorf("no [cluster] table, yet SHOW CONFIG shows cluster keys: %v", rows)
	}
	cl := config.DefaultCluster()
	cl.Endpoints, cl.Name, cl.MaxConnections, cl.Username, cl.Password = []string{"127.0.0.1:2379"}, "f", 48, "u", "etcdpw"
	cfg.Cluster = &cl
	got := map[string]string{}
	for _, kv := range configRows(&cfg) {
		got[kv[0]] = kv[1]
		if kv[1] == "s3cret" || kv[1] == "adm1n" || kv[1] == "etcdpw" {
			t.Errorf("%s shows a password", kv[0])
		}
	}
	for k, v := range map[string]string{
		"proxy.max_client_connections": "10000", "pool.idle_timeout": "1m0s", "backends[1].address": "db2:3306",
		"backends[1].max_connections": "7", "users[0].password": masked, "admin.password": masked, "admin.http_listen": "",
		"cluster.endpoints[0]": "127.0.0.1:2379", "cluster.max_connections": "48", "cluster.password": masked,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func TestHealthTracker(t *testing.T) {
	h := newHealthTracker()
	st := backend.Stats{Backend: "b"}
	step := func(dials, errs uint64, open int, wantFailing, wantDown bool) {
		t.Helper()
		st.Dials, st.DialErrors, st.Open = dials, errs, open
		failing, down := h.observe(st)
		if failing != wantFailing || down != wantDown {
			t.Errorf("dials %d errs %d open %d: failing %v down %v, want %v %v", dials, errs, open, failing, down, wantFailing, wantDown)
		}
	}
	step(0, 0, 0, false, false) // never dialled: no evidence against it
	step(2, 2, 0, true, true)   // every dial failed, nothing open
	step(2, 2, 0, true, true)   // no dial since: still down
	step(3, 3, 1, true, false)  // a dial in flight holds a slot: counted as open
	step(4, 3, 1, false, false) // a dial succeeded
	step(6, 4, 0, false, false) // one of the last two succeeded
	step(1, 1, 0, true, true)   // counters went back (pool replaced): judged afresh
}

func TestPinReasons(t *testing.T) {
	r := pinReasons()
	if len(r) < 5 || r[0] != "transaction" || !slices.Contains(r, "temp_table") {
		t.Errorf("pinReasons() = %v", r)
	}
}

func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands() {
		if seen[c.words] || normalize(c.words) != c.words || c.help == "" {
			t.Errorf("command %q: duplicate, not normalised or without help", c.words)
		}
		seen[c.words] = true
	}
	for _, w := range []string{"SHOW POOLS", "SHOW CLIENTS", "SHOW BACKENDS", "SHOW STATS", "SHOW CONFIG", "RELOAD", "PAUSE", "RESUME", "KILL CLIENT"} {
		if !seen[w] {
			t.Errorf("contract command %s missing", w)
		}
	}
}
