#!/usr/bin/env bash
# `make demo`: the problem mysqlmux solves, in one command. A throwaway MariaDB
# with max_connections=20 takes 500 clients straight (most get ERROR 1040), then
# the same 500 clients through mysqlmux capped at 16 server connections (none
# fail). Everything it starts is stopped by PID at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mysqlmux-demo.XXXXXX")
SAY_PREFIX=demo
CLIENTS=${DEMO_CLIENTS:-500}
DURATION=${DEMO_DURATION:-5s}
# shellcheck source=scripts/mariadb-lib.sh
source scripts/mariadb-lib.sh

db_pid=
proxy_pid=
trap_cleanup_temp_run

bash scripts/install-mariadb.sh
DB_PORT=$(free_port)
PROXY_PORT=$(free_port)
start_mariadb "$DB_PORT" --max-connections=20

say "building mysqlmux and mysqlmux-bench"
go build -o "$RUN_DIR/mysqlmux" ./cmd/mysqlmux
go build -o "$RUN_DIR/mysqlmux-bench" ./cmd/mysqlmux-bench
cat >"$RUN_DIR/mysqlmux.toml" <<TOML
[proxy]
listen = "127.0.0.1:$PROXY_PORT"
[pool]
max_connections = 16
acquire_timeout = "30s"
[[backends]]
address = "127.0.0.1:$DB_PORT"
[[users]]
name = "app"
password = "secret"
TOML
"$RUN_DIR/mysqlmux" -config "$RUN_DIR/mysqlmux.toml" -log-level warn </dev/null &
proxy_pid=$!

bench() { "$RUN_DIR/mysqlmux-bench" -user app -password secret -db test -workload point-select "$@"; }
bench -addr "127.0.0.1:$DB_PORT" -prepare -tables 1 -table-size 1000 >/dev/null
for ((i = 0; i < 100; i++)); do port_in_use "$PROXY_PORT" && break; sleep 0.1; done

say "1/2: $CLIENTS clients straight at MariaDB (max_connections=20) for $DURATION"
bench -addr "127.0.0.1:$DB_PORT" -clients "$CLIENTS" -duration "$DURATION" -tables 1 -table-size 1000 \
	-progress 0 | tee "$RUN_DIR/direct.txt"
say "2/2: the same $CLIENTS clients through mysqlmux (16 server connections) for $DURATION"
bench -addr "127.0.0.1:$PROXY_PORT" -clients "$CLIENTS" -duration "$DURATION" -tables 1 -table-size 1000 \
	-progress 0 | tee "$RUN_DIR/proxy.txt"

refused=$(grep -oE '1040 × [0-9]+' "$RUN_DIR/direct.txt" | grep -oE '[0-9]+$' || echo 0)
proxy_errors=$(awk '$1 == "errors" { print ($2 == "none" ? 0 : $2) }' "$RUN_DIR/proxy.txt")
proxy_connected=$(awk '$1 == "connected" { print $2 }' "$RUN_DIR/proxy.txt")
cat <<SUMMARY

Summary
  straight at MariaDB:  $refused of $CLIENTS clients refused with ERROR 1040 (Too many connections)
  through mysqlmux:     $proxy_connected of $CLIENTS clients connected, $proxy_errors errors,
                        served by at most 16 server connections
SUMMARY
if [[ $refused -gt 0 && $proxy_errors -eq 0 && $proxy_connected -eq $CLIENTS ]]; then
	echo "  => mysqlmux ends ERROR 1040: the server never sees more than the pool cap."
else
	echo "  => unexpected result (see the figures above)"
	exit 1
fi
