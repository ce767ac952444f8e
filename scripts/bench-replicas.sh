#!/usr/bin/env bash
# Issue 10's benchmark: read-heavy workloads straight at a primary and through mysqlmux over
# that primary and two GTID replicas (all throwaway servers on loopback, stopped at the end), in
# alternating rounds of one run; prints mysqlmux-bench's figures and the share of reads each
# server ran (its own Com_select). BENCH_TIME (s per round, default 10), BENCH_ROUNDS (3).
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin
bash scripts/install-mariadb.sh
MYSQLMUX_BENCH_REPLICAS=1 MYSQLMUX_REQUIRE_MARIADB=1 go test -count=1 -timeout 30m \
	-run '^TestBenchReplicaReads$' -v ./integration/routing 2>&1 | grep -v '^\[mysql\]'
