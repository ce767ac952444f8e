#!/usr/bin/env bash
# What statistics cost: point selects through three mysqlmux processes in front of one
# throwaway MariaDB, in alternating rounds of one run: with [admin] digests = false (latency
# histograms only), with digests = true (histograms and SHOW DIGESTS), and without the admin
# listeners (no observer at all). mysqlmux-bench reports each process's CPU time per query; the
# ratios are against the first, so the second column's is what digests cost. Everything it starts is stopped by PID at the end.
# BENCH_TIME (seconds per round, default 8) and BENCH_ROUNDS (default 3); about 1.5 minutes.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mysqlmux-bench-digests.XXXXXX")
SAY_PREFIX=bench-digests
TIME=${BENCH_TIME:-5}
ROUNDS=${BENCH_ROUNDS:-6}
CLIENTS=${BENCH_CLIENTS:-16}
# shellcheck source=scripts/mariadb-lib.sh
source scripts/mariadb-lib.sh

db_pid=
proxy_pid=
proxy2_pid=
proxy3_pid=
proxy4_pid=
trap_cleanup_temp_run

bash scripts/install-mariadb.sh
DB_PORT=$(free_port)
start_mariadb "$DB_PORT" --max-connections=151 --innodb-buffer-pool-size=256M
go build -o "$RUN_DIR/mysqlmux" ./cmd/mysqlmux
go build -o "$RUN_DIR/mysqlmux-bench" ./cmd/mysqlmux-bench

ports=()
start_proxy() { # start_proxy PID_VAR NAME [admin TOML lines...]: starts a proxy, appends its port
	local var=$1 name=$2 port
	shift 2
	port=$(free_port)
	{
		printf '[proxy]\nlisten = "127.0.0.1:%s"\n[pool]\nmax_connections = 32\nacquire_timeout = "60s"\n' "$port"
		printf '[[backends]]\naddress = "127.0.0.1:%s"\n[[users]]\nname = "app"\npassword = "secret"\n' "$DB_PORT"
		if (($#)); then
			printf '[admin]\nhttp_listen = "127.0.0.1:%s"\n' "$(free_port)"
			printf '%s\n' "$@"
		fi
	} >"$RUN_DIR/$name.toml"
	"$RUN_DIR/mysqlmux" -config "$RUN_DIR/$name.toml" -log-level warn </dev/null &
	printf -v "$var" '%s' "$!" # at once: the cleanup trap stops it by this PID
	ports+=("$port")
	for ((i = 0; i < 100; i++)); do
		port_in_use "$port" && return
		sleep 0.1
	done
	die "proxy $name did not start"
}
start_proxy proxy_pid off1 'digests = false'
start_proxy proxy2_pid on1 'digests = true'
start_proxy proxy3_pid off2 'digests = false'
start_proxy proxy4_pid on2 'digests = true'

bench() { "$RUN_DIR/mysqlmux-bench" -user app -password secret -db test -progress 0 "$@"; }
bench -addr "127.0.0.1:$DB_PORT" -workload point-select -prepare >/dev/null
echo "== point-select, $CLIENTS clients, $TIME s rounds x $ROUNDS: digests off | on | off | on"
bench -compare "127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]},127.0.0.1:${ports[3]}" \
	-target-pid "$proxy_pid,$proxy2_pid,$proxy3_pid,$proxy4_pid" -workload point-select -clients "$CLIENTS" \
	-duration "${TIME}s" -rounds "$ROUNDS" | tee "$RUN_DIR/compare.txt"
awk '/target CPU\/query/ {
	for (i = 1; i <= NF; i++) if ($i ~ /µs$/) { v[++n] = $i + 0 }
	printf "digests on / off, CPU per query: (%.1f + %.1f) / (%.1f + %.1f) = %.3f\n", v[2], v[4], v[1], v[3], (v[2] + v[4]) / (v[1] + v[3])
}' "$RUN_DIR/compare.txt"
