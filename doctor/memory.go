package doctor

import "strings"

// Part is one term of a memory sum: a server variable (or an expression of some) and the bytes
// it counts for.
type Part struct {
	Name  string `json:"name"`
	Bytes *int64 `json:"bytes"` // null: the server did not report it
	Note  string `json:"note,omitempty"`
}

// Memory is a sum of terms read from the server's variables.
type Memory struct {
	Bytes *int64 `json:"bytes"` // null when a term is unknown: the doctor does not guess
	Parts []Part `json:"parts"`
}

// perConnection is the memory one connection may take when it uses every buffer at once: the
// worst case, which a server sized by it can afford for every connection. A connection in
// practice allocates its buffers only for the statements that need them.
func perConnection(v map[string]string) Memory {
	var parts []Part
	for _, name := range []string{"sort_buffer_size", "join_buffer_size", "read_buffer_size", "read_rnd_buffer_size", "thread_stack"} {
		parts = append(parts, required(v, name))
	}
	net := required(v, "net_buffer_length")
	net.Note = "grows up to max_allowed_packet for large rows and statements"
	parts = append(parts, net)
	parts = append(parts, binlogCaches(v)...)
	tmp, heap := num(v, "tmp_table_size"), num(v, "max_heap_table_size")
	t := Part{Name: "min(tmp_table_size, max_heap_table_size)", Note: "the largest in-memory temporary table"}
	if tmp != nil && heap != nil {
		t.Bytes = ptr(min(*tmp, *heap))
	}
	return sum(append(parts, t))
}

// binlogCaches are the per-connection binary-log caches, allocated only when the binary log is on.
func binlogCaches(v map[string]string) []Part {
	on, ok := v["log_bin"]
	switch {
	case !ok:
		p := required(v, "binlog_cache_size")
		p.Bytes, p.Note = nil, "unknown: the server does not say whether the binary log is on"
		return []Part{p}
	case strings.EqualFold(on, "OFF") || on == "0":
		return []Part{{Name: "binlog_cache_size", Bytes: ptr[int64](0), Note: "binary log off"}}
	}
	parts := []Part{required(v, "binlog_cache_size")}
	if _, ok := v["binlog_stmt_cache_size"]; ok {
		parts = append(parts, required(v, "binlog_stmt_cache_size"))
	}
	return parts
}

// globalBuffers are the buffers the server allocates once, whatever the number of connections.
// Engines' caches that a server does not have (MySQL 8 has no query cache, only MariaDB has
// Aria) are left out rather than counted as unknown.
func globalBuffers(v map[string]string) Memory {
	parts := []Part{required(v, "innodb_buffer_pool_size"), required(v, "innodb_log_buffer_size")}
	for _, name := range []string{"key_buffer_size", "query_cache_size", "aria_pagecache_buffer_size"} {
		if _, ok := v[name]; ok {
			parts = append(parts, required(v, name))
		}
	}
	return sum(parts)
}

// memoryBound is how many connections fit in RAM next to the global buffers, each taking the
// per-connection worst case: (RAM − global buffers) / per connection. Nil when a figure is unknown.
func memoryBound(ram, global, perConn *int64) *int64 {
	if ram == nil || global == nil || perConn == nil || *perConn <= 0 {
		return nil
	}
	return ptr(max(0, (*ram-*global) / *perConn))
}

// filesBound is the largest max_connections the server's open_files_limit covers, by the
// server's own rule at start-up: it wants 10 + max_connections + extra_max_connections +
// 2 × table_open_cache descriptors (two per cached MyISAM table), and shrinks the table cache
// and then max_connections when it cannot get them.
func filesBound(v map[string]string) *int64 {
	files, tables := num(v, "open_files_limit"), num(v, "table_open_cache")
	if files == nil || tables == nil {
		return nil
	}
	var extra int64
	if e := num(v, "extra_max_connections"); e != nil {
		extra = *e
	}
	return ptr(max(0, *files-10-extra-2**tables))
}

func required(v map[string]string, name string) Part {
	p := Part{Name: name, Bytes: num(v, name)}
	if p.Bytes == nil {
		p.Note = "unknown: the server does not report it"
	}
	return p
}

func sum(parts []Part) Memory {
	var total int64
	for _, p := range parts {
		if p.Bytes == nil {
			return Memory{Parts: parts}
		}
		total += *p.Bytes
	}
	return Memory{Bytes: &total, Parts: parts}
}
