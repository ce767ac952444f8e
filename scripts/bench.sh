#!/usr/bin/env bash
# The figures of BENCHMARKS.md: a throwaway MariaDB, mysqlmux in front of it, and the
# same workloads against both in alternating rounds of one run (only same-run ratios
# mean anything on a shared machine). sysbench for the point-select and read-only
# rows (the ProxySQL reference was measured with it), mysqlmux-bench for the rest.
# Everything it starts is stopped by PID at the end. Takes about 5 minutes.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mysqlmux-bench.XXXXXX")
SAY_PREFIX=bench
TIME=${BENCH_TIME:-10}
ROUNDS=${BENCH_ROUNDS:-2}
# shellcheck source=scripts/mariadb-lib.sh
source scripts/mariadb-lib.sh

db_pid=
proxy_pid=
proxy2_pid=
proxy3_pid=
trap_cleanup_temp_run

bash scripts/install-mariadb.sh
command -v sysbench >/dev/null || die "sysbench is needed (apt-get install sysbench)"
command -v openssl >/dev/null || die "openssl is needed (apt-get install openssl)"
DB_PORT=$(free_port)
PROXY_PORT=$(free_port)
PROXY2_PORT=$(free_port)
PROXY3_PORT=$(free_port)
# A certificate for 127.0.0.1, so a third proxy can reach the server over TLS.
TLS_DIR=$RUN_DIR/tls
mkdir -p "$TLS_DIR"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS_DIR/ca-key.pem" -out "$TLS_DIR/ca.pem" -days 1 \
	-subj "/CN=mysqlmux bench CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$TLS_DIR/server-key.pem" -out "$TLS_DIR/server.csr" \
	-subj "/CN=127.0.0.1" 2>/dev/null
openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" -CAcreateserial \
	-out "$TLS_DIR/server-cert.pem" -days 1 -extfile <(echo "subjectAltName=IP:127.0.0.1") 2>/dev/null
start_mariadb "$DB_PORT" --max-connections=151 --innodb-buffer-pool-size=256M \
	--ssl-ca="$TLS_DIR/ca.pem" --ssl-cert="$TLS_DIR/server-cert.pem" --ssl-key="$TLS_DIR/server-key.pem"

go build -o "$RUN_DIR/mysqlmux" ./cmd/mysqlmux
go build -o "$RUN_DIR/mysqlmux-bench" ./cmd/mysqlmux-bench
cat >"$RUN_DIR/mysqlmux.toml" <<TOML
[proxy]
listen = "127.0.0.1:$PROXY_PORT"
[pool]
max_connections = 32
acquire_timeout = "60s"
[[backends]]
address = "127.0.0.1:$DB_PORT"
[[users]]
name = "app"
password = "secret"
TOML
"$RUN_DIR/mysqlmux" -config "$RUN_DIR/mysqlmux.toml" -log-level warn </dev/null &
proxy_pid=$!
# A second proxy reaching the same server over its Unix socket.
sed -e "s|127.0.0.1:$PROXY_PORT|127.0.0.1:$PROXY2_PORT|" -e "s|127.0.0.1:$DB_PORT|$SOCKET|" \
	"$RUN_DIR/mysqlmux.toml" >"$RUN_DIR/mysqlmux-unix.toml"
"$RUN_DIR/mysqlmux" -config "$RUN_DIR/mysqlmux-unix.toml" -log-level warn </dev/null &
proxy2_pid=$!
# A third one over TLS (verify_identity).
sed -e "s|127.0.0.1:$PROXY_PORT|127.0.0.1:$PROXY3_PORT|" \
	-e "s|^address = \"127.0.0.1:$DB_PORT\"|&\ntls = \"verify_identity\"\ntls_ca = \"$TLS_DIR/ca.pem\"|" \
	"$RUN_DIR/mysqlmux.toml" >"$RUN_DIR/mysqlmux-tls.toml"
"$RUN_DIR/mysqlmux" -config "$RUN_DIR/mysqlmux-tls.toml" -log-level warn </dev/null &
proxy3_pid=$!
for ((i = 0; i < 100; i++)); do
	port_in_use "$PROXY_PORT" && port_in_use "$PROXY2_PORT" && port_in_use "$PROXY3_PORT" && break
	sleep 0.1
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
sb() { # sb PORT TEST THREADS [extra]: prints "qps cpu_us_per_query(target) p95_ms"
	local port=$1 test=$2 threads=$3 pid c0 c1 out q
	shift 3
	pid=$([[ $port == "$DB_PORT" ]] && echo "$db_pid" || echo "$proxy_pid")
	c0=$(cpu_ticks "$pid")
	out=$(sysbench "$test" --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=app --mysql-password=secret \
		--mysql-db=test --tables=4 --table-size=10000 --threads="$threads" --time="$TIME" --db-ps-mode=disable \
		--percentile=95 "$@" run 2>&1) || { echo "$out" >&2; die "sysbench failed"; }
	c1=$(cpu_ticks "$pid")
	q=$(awk '/queries:/ { print $2; exit }' <<<"$out")
	awk -v q="$q" -v t="$TIME" -v c0="$c0" -v c1="$c1" '
		/95th percentile:/ { p95 = $3 }
		/ignored errors:/ { e = $3 }
		END { printf "%8.0f qps  %6.1f us/query  p95 %s ms  ignored errors %s\n", q / t, (c1 - c0) * 10000 / q, p95, e }' <<<"$out"
}

sysbench oltp_point_select --mysql-host=127.0.0.1 --mysql-port="$DB_PORT" --mysql-user=app --mysql-password=secret \
	--mysql-db=test --tables=4 --table-size=10000 prepare >/dev/null

echo "== sysbench, $TIME s per round, $ROUNDS rounds, targets alternating (cpu = the target process)"
for spec in "oltp_point_select 1" "oltp_point_select 16" "oltp_read_only 16"; do
	read -r test threads <<<"$spec"
	for ((r = 1; r <= ROUNDS; r++)); do
		echo "$test threads=$threads round $r  direct: $(sb "$DB_PORT" "$test" "$threads")"
		echo "$test threads=$threads round $r  proxy:  $(sb "$PROXY_PORT" "$test" "$threads")"
	done
done

bench() { "$RUN_DIR/mysqlmux-bench" -user app -password secret -db test -progress 0 "$@"; }
echo
echo "== mysqlmux-bench -compare (direct first, ratios = proxy / direct)"
for w in point-select read-write orm-mix prepared large-result; do
	[[ $w == large-result ]] && bench -addr "127.0.0.1:$DB_PORT" -workload large-result -prepare >/dev/null
	bench -compare "127.0.0.1:$DB_PORT,127.0.0.1:$PROXY_PORT" -target-pid "$db_pid,$proxy_pid" \
		-workload "$w" -clients 16 -duration "${TIME}s" -rounds "$ROUNDS"
done
echo
echo "== 1000 clients through cap 32 (direct: max_connections=151)"
bench -compare "127.0.0.1:$DB_PORT,127.0.0.1:$PROXY_PORT" -target-pid "$db_pid,$proxy_pid" \
	-workload point-select -clients 1000 -duration "${TIME}s" -rounds 1
echo
echo "== connect-churn (16 clients), then 10000 idle clients (RSS per connection of the proxy)"
bench -addr "127.0.0.1:$PROXY_PORT" -target-pid "$proxy_pid" -workload connect-churn -clients 16 -duration "${TIME}s"
bench -addr "127.0.0.1:$PROXY_PORT" -target-pid "$proxy_pid" -workload idle -clients 10000 -duration "${TIME}s"
echo
echo "== backend leg over TCP (proxy 1), the Unix socket (proxy 2) and TLS (proxy 3), point-select"
for c in 1 16; do
	bench -compare "127.0.0.1:$DB_PORT,127.0.0.1:$PROXY_PORT,127.0.0.1:$PROXY2_PORT,127.0.0.1:$PROXY3_PORT" \
		-target-pid "$db_pid,$proxy_pid,$proxy2_pid,$proxy3_pid" -workload point-select -clients "$c" \
		-duration "${TIME}s" -rounds 3
done
