package doctor

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mariadbVars are MariaDB 10.11's defaults, as SHOW GLOBAL VARIABLES gives them.
func mariadbVars() map[string]string {
	return map[string]string{
		"version":                    "10.11.19-MariaDB",
		"max_connections":            "151",
		"extra_max_connections":      "1",
		"extra_port":                 "0",
		"wait_timeout":               "28800",
		"interactive_timeout":        "28800",
		"sort_buffer_size":           "2097152",
		"join_buffer_size":           "262144",
		"read_buffer_size":           "131072",
		"read_rnd_buffer_size":       "262144",
		"thread_stack":               "299008",
		"net_buffer_length":          "16384",
		"log_bin":                    "OFF",
		"binlog_cache_size":          "32768",
		"binlog_stmt_cache_size":     "32768",
		"tmp_table_size":             "16777216",
		"max_heap_table_size":        "16777216",
		"innodb_buffer_pool_size":    "134217728",
		"innodb_log_buffer_size":     "16777216",
		"key_buffer_size":            "134217728",
		"query_cache_size":           "1048576",
		"aria_pagecache_buffer_size": "134217728",
		"open_files_limit":           "32768",
		"table_open_cache":           "2000",
	}
}

// mysql8Vars are MySQL 8.0's: no query cache, no Aria, no extra_port, the binary log on.
func mysql8Vars() map[string]string {
	v := mariadbVars()
	for _, k := range []string{"query_cache_size", "aria_pagecache_buffer_size", "extra_max_connections", "extra_port"} {
		delete(v, k)
	}
	v["log_bin"] = "ON"
	v["version"] = "8.0.36"
	v["admin_address"] = ""
	return v
}

func TestPerConnectionMemory(t *testing.T) {
	const base = 2097152 + 262144 + 131072 + 262144 + 299008 + 16384
	cases := []struct {
		name string
		edit func(map[string]string)
		want int64 // -1: unknown
	}{
		{"mariadb defaults, binary log off", func(map[string]string) {}, base + 16777216},
		{"binary log on: both caches", func(v map[string]string) { v["log_bin"] = "ON" }, base + 16777216 + 65536},
		{"smaller heap table bounds the temporary table", func(v map[string]string) { v["max_heap_table_size"] = "1048576" }, base + 1048576},
		{"smaller tmp table bounds it", func(v map[string]string) { v["tmp_table_size"] = "2097152" }, base + 2097152},
		{"binary log state unknown", func(v map[string]string) { delete(v, "log_bin") }, -1},
		{"a buffer unknown", func(v map[string]string) { delete(v, "join_buffer_size") }, -1},
		{"not a number", func(v map[string]string) { v["sort_buffer_size"] = "lots" }, -1},
	}
	for _, c := range cases {
		v := mariadbVars()
		c.edit(v)
		m := perConnection(v)
		switch {
		case c.want < 0 && m.Bytes != nil:
			t.Errorf("%s: %d, want unknown", c.name, *m.Bytes)
		case c.want >= 0 && (m.Bytes == nil || *m.Bytes != c.want):
			t.Errorf("%s: %v, want %d", c.name, m.Bytes, c.want)
		}
	}
}

func TestGlobalBuffers(t *testing.T) {
	m := globalBuffers(mariadbVars())
	if want := int64(134217728 + 16777216 + 134217728 + 1048576 + 134217728); m.Bytes == nil || *m.Bytes != want {
		t.Errorf("MariaDB: %v, want %d", m.Bytes, want)
	}
	m = globalBuffers(mysql8Vars())
	if want := int64(134217728 + 16777216 + 134217728); m.Bytes == nil || *m.Bytes != want {
		t.Errorf("MySQL 8 (no query cache, no Aria): %v, want %d", m.Bytes, want)
	}
	for _, p := range m.Parts {
		if p.Name == "query_cache_size" || p.Name == "aria_pagecache_buffer_size" {
			t.Errorf("MySQL 8 lists %s", p.Name)
		}
	}
	v := mariadbVars()
	delete(v, "innodb_buffer_pool_size")
	if m := globalBuffers(v); m.Bytes != nil {
		t.Errorf("buffer pool unknown: %d, want unknown", *m.Bytes)
	}
}

func TestBounds(t *testing.T) {
	if got := memoryBound(ptr[int64](8<<30), ptr[int64](1<<30), ptr[int64](20<<20)); got == nil || *got != 7*1024/20 {
		t.Errorf("memory bound (8 GiB − 1 GiB) / 20 MiB = %v, want %d", got, 7*1024/20)
	}
	if got := memoryBound(ptr[int64](1<<30), ptr[int64](2<<30), ptr[int64](20<<20)); got == nil || *got != 0 {
		t.Errorf("global buffers above RAM: %v, want 0", got)
	}
	if got := memoryBound(nil, ptr[int64](1), ptr[int64](1)); got != nil {
		t.Errorf("RAM unknown: %d, want unknown", *got)
	}
	if got := filesBound(mariadbVars()); got == nil || *got != 32768-10-1-4000 {
		t.Errorf("files bound %v, want %d", got, 32768-10-1-4000)
	}
	if got := filesBound(mysql8Vars()); got == nil || *got != 32768-10-4000 {
		t.Errorf("files bound without extra_max_connections %v, want %d", got, 32768-10-4000)
	}
	v := mariadbVars()
	v["open_files_limit"] = "1024"
	if got := filesBound(v); got == nil || *got != 0 {
		t.Errorf("table cache above the limit: %v, want 0", got)
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.5:51234":  "10.0.0.5",
		"::1:51234":       "::1",
		"localhost":       "localhost",
		"app-1.lan:3":     "app-1.lan",
		"":                "",
		"weird:":          "weird:",
		"fe80::1%eth0:80": "fe80::1%eth0",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGroupConnections(t *testing.T) {
	ps := []Process{
		{ID: 1, User: "system user", Command: "Daemon"},
		{ID: 2, User: "event_scheduler", Host: "localhost", Command: "Daemon"},
		{ID: 3, User: "app", Host: "10.0.0.5:40001", Command: "Sleep", Time: 5},
		{ID: 4, User: "app", Host: "10.0.0.5:40002", Command: "Sleep", Time: 120},
		{ID: 5, User: "app", Host: "10.0.0.5:40003", Command: "Query", Time: 1},
		{ID: 6, User: "app", Host: "10.0.0.6:40004", Command: "Sleep", Time: 60},
		{ID: 7, User: "root", Host: "localhost", Command: "Query"}, // the doctor
		{ID: 8, User: "repl", Host: "10.0.0.9:5000", Command: "Binlog Dump"},
	}
	got := groupConnections(ps, 7, 60)
	want := []Group{
		{User: "app", Host: "10.0.0.5", Sleeping: 2, Active: 1, IdleMinSeconds: 5, IdleMaxSeconds: 120, IdleOverThreshold: 1},
		{User: "app", Host: "10.0.0.6", Sleeping: 1, IdleMinSeconds: 60, IdleMaxSeconds: 60, IdleOverThreshold: 1},
		{User: "repl", Host: "10.0.0.9", Active: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("groups\n got %+v\nwant %+v", got, want)
	}
}

func TestHoldsProcess(t *testing.T) {
	cases := map[string]bool{
		"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION": true,
		"GRANT SELECT, PROCESS ON *.* TO `mon`@`%`":                           true,
		"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*ABC'":       false,
		"GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`":                       false,
		"GRANT PROCESSLIST_READER ON *.* TO `x`@`%`":                          false,
	}
	for g, want := range cases {
		if got := holdsProcess([]string{g}); got != want {
			t.Errorf("holdsProcess(%q) = %v, want %v", g, got, want)
		}
	}
}

// snapshot builds a server with maxConn slots, sleeping idle application connections (user
// app) and the doctor's own (root).
func snapshot(vars map[string]string, sleeping int, status map[string]string) *Snapshot {
	s := &Snapshot{Variables: vars, Status: map[string]string{"uptime": "3600", "threads_running": "1"}, SelfID: 1, Account: "root@localhost", Process: true}
	s.Processes = append(s.Processes, Process{ID: 1, User: "root", Host: "localhost", Command: "Query"})
	for i := range sleeping {
		s.Processes = append(s.Processes, Process{ID: int64(i + 2), User: "app", Host: "10.0.0.5:4000", Command: "Sleep", Time: 300})
	}
	s.Status["threads_connected"] = strconv.Itoa(sleeping + 1)
	s.Status["max_used_connections"] = strconv.Itoa(sleeping + 1)
	s.Status["connection_errors_max_connections"] = "0"
	for k, v := range status {
		s.Status[k] = v
	}
	return s
}

func TestVerdicts(t *testing.T) {
	cases := []struct {
		name     string
		maxConn  string
		ram      int64
		sleeping int
		status   map[string]string
		verdict  string
		finding  string
	}{
		{"plenty of room", "151", 64 << 30, 10, nil, VerdictOK, "10 of 10 connections are sleeping"},
		{"three quarters in use", "40", 64 << 30, 30, nil, VerdictAtRisk, "31 of the 40 max_connections slots are in use now (77%)"},
		{"peak reached", "151", 64 << 30, 10, map[string]string{"max_used_connections": "152", "max_used_connections_time": "2026-05-01 10:00:00"}, VerdictAtRisk,
			"At its peak (at 2026-05-01 10:00:00) 152 connections were open"},
		{"memory over-committed", "151", 2 << 30, 10, nil, VerdictAtRisk, "max_connections 151 is above what memory allows"},
		{"refused", "151", 64 << 30, 10, map[string]string{"connection_errors_max_connections": "7"}, VerdictRefusing, "refused 7 connection(s) with ERROR 1040"},
	}
	for _, c := range cases {
		v := mariadbVars()
		v["max_connections"] = c.maxConn
		r := Analyse("db:3306", snapshot(v, c.sleeping, c.status), Options{RAM: c.ram, RAMSource: "-ram", IdleThreshold: time.Minute})
		if r.Verdict != c.verdict || !hasFinding(r, c.finding) {
			t.Errorf("%s: verdict %q, findings %+v; want %q and a finding with %q", c.name, r.Verdict, r.Findings, c.verdict, c.finding)
		}
	}
}

func TestRecommend(t *testing.T) {
	cases := []struct {
		name       string
		maxConn    string
		ram        int64
		others     int // sleeping connections of root (an administrator's: they stay direct)
		active     int // application statements running
		cap        int // -config's cap, 0 for -dsn
		wantMax    int64
		wantCap    int64
		wantFinder string
	}{
		// per connection 19,845,120 bytes, global 420,478,976: 8 GiB → 411.
		{"current fits: kept", "151", 8 << 30, 0, 0, 0, 151, 20, ""},
		{"memory binds", "500", 8 << 30, 0, 0, 0, 411, 20, "above what memory allows"},
		{"room for the cap made", "10", 8 << 30, 3, 0, 0, 25, 20, ""},
		{"busy applications want more", "151", 8 << 30, 0, 40, 0, 151, 80, ""},
		{"RAM unknown: open files bound only", "151", 0, 0, 0, 0, 151, 20, ""},
		{"tiny server: what is left", "151", 1 << 29, 1, 0, 0, 5, 2, "above what memory allows"},
		{"configured cap above max_connections", "40", 8 << 30, 0, 0, 39, 41, 39, "Raise max_connections to 41"},
		{"configured cap above memory", "151", 1 << 29, 0, 0, 20, 5, 3, "lower the cap"},
	}
	for _, c := range cases {
		v := mariadbVars()
		v["max_connections"] = c.maxConn
		s := snapshot(v, 5, nil)
		for i := range c.others {
			s.Processes = append(s.Processes, Process{ID: int64(100 + i), User: "root", Host: "10.0.0.7:1", Command: "Sleep"})
		}
		for i := range c.active {
			s.Processes = append(s.Processes, Process{ID: int64(200 + i), User: "app", Host: "10.0.0.5:2", Command: "Query"})
		}
		o := Options{RAM: c.ram, IdleThreshold: time.Minute, Cap: c.cap}
		if c.cap > 0 {
			o.AppUsers = []string{"app"}
		}
		r := Analyse("db:3306", s, o)
		if r.RecommendedMaxConnections != c.wantMax || r.RecommendedPoolMaxConnections != c.wantCap {
			t.Errorf("%s: max_connections %d, cap %d; want %d, %d\n%s", c.name, r.RecommendedMaxConnections, r.RecommendedPoolMaxConnections,
				c.wantMax, c.wantCap, strings.Join(r.Why, "\n"))
		}
		if c.wantFinder != "" && !hasFinding(r, c.wantFinder) {
			t.Errorf("%s: findings %+v, want one with %q", c.name, r.Findings, c.wantFinder)
		}
	}
}

func TestRecommendWaitTimeout(t *testing.T) {
	cases := []struct {
		wait     string
		idle     int64 // seconds the sleeping connections have idled
		want     int64
		lowering bool
	}{
		{"28800", 300, 600, true},
		{"28800", 5, 28800, false}, // none past the threshold
		{"300", 300, 300, false},   // low already
	}
	for _, c := range cases {
		v := mariadbVars()
		v["wait_timeout"] = c.wait
		s := snapshot(v, 3, nil)
		for i := range s.Processes {
			s.Processes[i].Time = c.idle
		}
		r := Analyse("db:3306", s, Options{IdleThreshold: time.Minute})
		if r.RecommendedWaitTimeout == nil || *r.RecommendedWaitTimeout != c.want || hasFinding(r, "wait_timeout is") != c.lowering {
			t.Errorf("wait_timeout %s, idle %d s: recommended %v, findings %+v; want %d", c.wait, c.idle, r.RecommendedWaitTimeout, r.Findings, c.want)
		}
	}
	v := mariadbVars()
	delete(v, "wait_timeout")
	if r := Analyse("db:3306", snapshot(v, 3, nil), Options{}); r.RecommendedWaitTimeout != nil {
		t.Errorf("wait_timeout unknown: recommended %d", *r.RecommendedWaitTimeout)
	}
}

func TestAppUsersAndCompleteness(t *testing.T) {
	s := snapshot(mariadbVars(), 2, nil)
	s.Processes = append(s.Processes,
		Process{ID: 50, User: "root", Host: "localhost", Command: "Sleep"},
		Process{ID: 51, User: "unauthenticated user", Host: "10.0.0.8:1", Command: "Connect"},
		Process{ID: 52, User: "billing", Host: "10.0.0.9:1", Command: "Sleep"})
	r := Analyse("db:3306", s, Options{})
	if !slices.Equal(r.AppUsers, []string{"app", "billing"}) || r.OtherConnections != 2 {
		t.Errorf("app users %v, other connections %d; want [app billing], 2 (root and the one logging in)", r.AppUsers, r.OtherConnections)
	}
	// Without PROCESS and seeing only its own account's connections, the list may be partial.
	s = snapshot(mariadbVars(), 0, nil)
	s.Process = false
	if r := Analyse("db:3306", s, Options{}); r.ProcesslistComplete || !hasFinding(r, "may lack the PROCESS privilege") {
		t.Errorf("complete %v, findings %+v; want a partial list and a finding", r.ProcesslistComplete, r.Findings)
	}
	s = snapshot(mariadbVars(), 2, nil)
	s.Process = false
	if r := Analyse("db:3306", s, Options{}); !r.ProcesslistComplete {
		t.Errorf("another account's connections seen, yet the list is called partial")
	}
}

// TestUnknowns reads a server that reports nothing: every figure is unknown, nothing panics,
// and the report and the JSON say so.
func TestUnknowns(t *testing.T) {
	r := Analyse("db:3306", &Snapshot{Variables: map[string]string{}, Status: map[string]string{}}, Options{})
	if r.MaxConnections != nil || r.PerConnectionMemory.Bytes != nil || r.MemoryBoundMaxConnections != nil || r.FilesBoundMaxConnections != nil {
		t.Errorf("figures from nothing: %+v", r)
	}
	out, err := output(baseFor("db:3306"), []Report{r}, limits(1024), false)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := writeText(&text, out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`max_connections +unknown`).MatchString(text.String()) {
		t.Errorf("report does not say unknown:\n%s", text.String())
	}
	var js strings.Builder
	if err := write(&js, out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"max_connections": null`) {
		t.Errorf("JSON does not give null for an unknown figure:\n%s", js.String())
	}
}

// TestJSONContract checks the keys CONTRACT.md names, and their types.
func TestJSONContract(t *testing.T) {
	r := Analyse("db:3306", snapshot(mariadbVars(), 3, nil), Options{RAM: 8 << 30, IdleThreshold: time.Minute})
	out, err := output(baseFor("db:3306"), []Report{r}, limits(1<<20), false)
	if err != nil {
		t.Fatal(err)
	}
	var js strings.Builder
	if err := write(&js, out, true); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js.String()), &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"max_connections", "threads_connected", "max_used_connections", "sleeping_connections", "recommended_max_connections"} {
		if _, ok := m[key].(float64); !ok {
			t.Errorf("%s = %#v, want a number", key, m[key])
		}
	}
	if s, ok := m["toml"].(string); !ok || !strings.Contains(s, "[[backends]]") {
		t.Errorf("toml = %#v, want the configuration", m["toml"])
	}
	if g, ok := m["connections_by_user_host"].([]any); !ok || len(g) != 1 {
		t.Errorf("connections_by_user_host = %#v, want one group", m["connections_by_user_host"])
	}
}

func hasFinding(r Report, text string) bool {
	for _, f := range r.Findings {
		if strings.Contains(f.Text, text) {
			return true
		}
	}
	return false
}
