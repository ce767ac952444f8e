#!/usr/bin/env bash
# The figures of issue 12 (BENCHMARKS.md, "Cost as clients grow"): point selects straight at a
# throwaway MariaDB, through the relay floor mysqlmux-bench runs (a connection to the server per
# client, bytes copied) and through mysqlmux (cap 32), with 1, 16 and 1000 clients, targets and
# steps alternating round by round; then many-clients through the proxy: 16 clients at full
# speed alone, then with 10,000 more connected, 1,000 of them at 10 statements per second.
# BENCH_BASELINE=/path/to/mysqlmux adds a second proxy built from other code (an older commit,
# say) to every comparison, in the same rounds. Everything it starts is stopped by PID at the
# end. BENCH_TIME (seconds per round, default 10), BENCH_ROUNDS (default 2): about 6 minutes.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mysqlmux-bench-scale.XXXXXX")
SAY_PREFIX=bench-scale
TIME=${BENCH_TIME:-10}
ROUNDS=${BENCH_ROUNDS:-2}
# shellcheck source=scripts/mariadb-lib.sh
source scripts/mariadb-lib.sh

db_pid=
proxy_pid=
proxy2_pid=
trap_cleanup_temp_run

bash scripts/install-mariadb.sh
DB_PORT=$(free_port)
# Direct and relay targets give each of the 1000 clients its own server connection.
start_mariadb "$DB_PORT" --max-connections=2200 --innodb-buffer-pool-size=256M
go build -o "$RUN_DIR/mysqlmux" ./cmd/mysqlmux
go build -o "$RUN_DIR/mysqlmux-bench" ./cmd/mysqlmux-bench

start_proxy() { # start_proxy PID_VAR PORT_VAR BINARY NAME
	local bin=$3 name=$4 port i
	port=$(free_port)
	printf '[proxy]\nlisten = "127.0.0.1:%s"\nmax_client_connections = 12000\n[pool]\nmax_connections = 32\nacquire_timeout = "60s"\n[[backends]]\naddress = "127.0.0.1:%s"\n[[users]]\nname = "app"\npassword = "secret"\n' \
		"$port" "$DB_PORT" >"$RUN_DIR/$name.toml"
	"$bin" -config "$RUN_DIR/$name.toml" -log-level error </dev/null >"$RUN_DIR/$name.log" 2>&1 &
	printf -v "$1" '%s' "$!" # at once: the cleanup trap stops it by this PID
	printf -v "$2" '%s' "$port"
	for ((i = 0; i < 100; i++)); do
		port_in_use "$port" && return
		sleep 0.1
	done
	die "proxy $name did not start: $(cat "$RUN_DIR/$name.log")"
}
start_proxy proxy_pid PROXY_PORT "$RUN_DIR/mysqlmux" proxy
targets="127.0.0.1:$PROXY_PORT"
pids="$proxy_pid"
if [[ -n ${BENCH_BASELINE:-} ]]; then
	start_proxy proxy2_pid BASE_PORT "$BENCH_BASELINE" baseline
	targets="127.0.0.1:$BASE_PORT,$targets"
	pids="$proxy2_pid,$pids"
	say "baseline $BENCH_BASELINE on 127.0.0.1:$BASE_PORT (pid $proxy2_pid), this tree's proxy on 127.0.0.1:$PROXY_PORT (pid $proxy_pid)"
fi

bench() { "$RUN_DIR/mysqlmux-bench" -user app -password secret -db test -progress 0 "$@"; }
bench -addr "127.0.0.1:$DB_PORT" -workload point-select -prepare >/dev/null

echo "== point-select: direct, the relay floor, $targets; 1, 16 and 1000 clients; $ROUNDS rounds of $TIME s"
bench -compare "127.0.0.1:$DB_PORT,$targets" -relay -target-pid "$db_pid,$pids" -server "127.0.0.1:$DB_PORT" \
	-workload point-select -clients 1,16,1000 -duration "${TIME}s" -rounds "$ROUNDS"
echo
echo "== many-clients through $targets: 16 at full speed, then 10,000 connected with 1,000 at 10/s"
bench -compare "$targets" -target-pid "$pids" -server "127.0.0.1:$DB_PORT" -workload many-clients \
	-clients 16,10000 -fast 16 -active 0,1000 -rate 10 -warmup 2s -duration "${TIME}s" -rounds "$ROUNDS"
