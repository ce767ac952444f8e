#!/usr/bin/env bash
# `make fleet-demo`: a fleet of three mysqlmux proxies in front of one MariaDB with
# max_connections=60, the bench harness spreading 3,000 clients over them.
#   1. without [cluster], each proxy capped at 24: together they want 72 connections and the
#      server answers ERROR 1040 (counted by the server: Connection_errors_max_connections);
#   2. the same proxies in a fleet of 48 through etcd: no 1040, no client error,
#      Threads_connected (sampled every 100 ms) at most 50;
#   3. etcd stopped for 30 s during a run: the proxies keep serving with their last grants,
#      and coordinate again once it is back.
# Everything it starts (MariaDB, etcd, the proxies, the sampler) is stopped by PID at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mysqlmux-fleet-demo.XXXXXX")
SAY_PREFIX=fleet-demo
CLIENTS=${DEMO_CLIENTS:-3000}
DURATION=${DEMO_DURATION:-10s}
OUTAGE=${DEMO_OUTAGE:-30}
# shellcheck source=scripts/mariadb-lib.sh
source scripts/mariadb-lib.sh

db_pid= etcd_pid= sampler_pid=
proxy_pids=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -n $sampler_pid ]] && stop_pid "$sampler_pid" 5
	for p in "${proxy_pids[@]}"; do stop_pid "$p" 20; done
	[[ -n $etcd_pid ]] && stop_pid "$etcd_pid" 20
	[[ -n $db_pid ]] && stop_pid "$db_pid" 60
	rm -rf "$RUN_DIR"
	exit "$rc"
}
trap cleanup EXIT INT TERM

bash scripts/install-mariadb.sh
say "building mysqlmux, mysqlmux-bench and etcd (go.etcd.io/etcd/server/v3 embed)"
go build -o "$RUN_DIR/mysqlmux" ./cmd/mysqlmux
go build -o "$RUN_DIR/mysqlmux-bench" ./cmd/mysqlmux-bench
go build -o "$RUN_DIR/etcd" ./internal/etcdtest/etcdserver

DB_PORT=$(free_port)
start_mariadb "$DB_PORT" --max-connections=60
ETCD_PORT=$(free_port)
ETCD_PEER=$(free_port)
start_etcd() {
	"$RUN_DIR/etcd" -data-dir "$RUN_DIR/etcd-data" -client "127.0.0.1:$ETCD_PORT" -peer "127.0.0.1:$ETCD_PEER" \
		>"$RUN_DIR/etcd.out" 2>>"$RUN_DIR/etcd.log" &
	etcd_pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q ready "$RUN_DIR/etcd.out" 2>/dev/null && return 0
		sleep 0.1
	done
	die "etcd did not start"
}
start_etcd
say "etcd ready on 127.0.0.1:$ETCD_PORT (pid $etcd_pid)"

PORTS=() ADMIN=()
for i in 1 2 3; do
	PORTS+=("$(free_port)")
	ADMIN+=("$(free_port)")
done
ADDRS="127.0.0.1:${PORTS[0]},127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[2]}"

# start_proxies [cluster]: three proxies capped at 24 each; with "cluster", in a fleet of 48.
start_proxies() {
	local i conf
	for i in 0 1 2; do
		conf=$RUN_DIR/p$i.toml
		cat >"$conf" <<TOML
[proxy]
listen = "127.0.0.1:${PORTS[$i]}"
max_client_connections = 10000
[pool]
max_connections = 24
acquire_timeout = "120s"
[[backends]]
address = "127.0.0.1:$DB_PORT"
[[users]]
name = "app"
password = "secret"
[admin]
listen = "127.0.0.1:${ADMIN[$i]}"
user = "admin"
password = "admin"
TOML
		if [[ ${1:-} == cluster ]]; then
			cat >>"$conf" <<TOML
[cluster]
endpoints = ["127.0.0.1:$ETCD_PORT"]
name = "demo"
max_connections = 48
instance = "proxy$((i + 1))"
floor = 2
lease_ttl = "60s"       # an etcd outage of 30 s leaves every lease alive
offline_hold = "45s"    # ... and every proxy with its last grant
TOML
		fi
		"$RUN_DIR/mysqlmux" -config "$conf" -log-level warn </dev/null 2>>"$RUN_DIR/proxy$i.log" &
		proxy_pids+=($!)
	done
	for i in 0 1 2; do
		for ((j = 0; j < 100; j++)); do port_in_use "${PORTS[$i]}" && break; sleep 0.1; done
	done
}
stop_proxies() {
	for p in "${proxy_pids[@]}"; do stop_pid "$p" 20; done
	proxy_pids=()
}
# The sampler holds one root connection from before the first proxy starts (root gets the
# server's extra connection when it is full, but only one at a time) and writes, every 100 ms,
# "refused threads": Connection_errors_max_connections and Threads_connected.
start_sampler() {
	(
		coproc S { sql -N -B -n; }
		while :; do
			echo "SHOW GLOBAL STATUS WHERE Variable_name IN ('Connection_errors_max_connections', 'Threads_connected');" >&"${S[1]}"
			read -r -u "${S[0]}" _ refused && read -r -u "${S[0]}" _ threads || exit 1
			echo "$refused $threads"
			sleep 0.1
		done
	) >>"$RUN_DIR/samples" &
	sampler_pid=$!
	for ((i = 0; i < 50; i++)); do [[ -s $RUN_DIR/samples ]] && return 0; sleep 0.1; done
	die "the sampler does not sample"
}
mark() { sleep 0.3; wc -l <"$RUN_DIR/samples"; }
# between FROM TO: the peak of Threads_connected and the 1040s counted between two marks
between() {
	peak=$(sed -n "$(($1 + 1)),$2p" "$RUN_DIR/samples" | awk '{print $2}' | sort -n | tail -n 1)
	refused=$(($(sed -n "$2p" "$RUN_DIR/samples" | awk '{print $1}') - $(sed -n "$1p" "$RUN_DIR/samples" | awk '{print $1}')))
}
bench() { "$RUN_DIR/mysqlmux-bench" -user app -password secret -db test -workload point-select -tables 1 -table-size 1000 -progress 0 "$@"; }
bench -addr "127.0.0.1:$DB_PORT" -prepare >/dev/null
start_sampler
fleet() { # fleet I: SHOW BACKENDS' fleet columns of proxy I
	"$CLIENT" --no-defaults -h127.0.0.1 -P"${ADMIN[$1]}" -uadmin -padmin -N -B -e 'SHOW BACKENDS' |
		awk -F'\t' '{print "state " $13 ", grant " $15 ", pool limit " $16 ", demand " $17 ", fleet: " $18 " instances, " $19 " granted, " $20 " in use"}'
}

run() { # run NAME: the bench over the three proxies, the server's 1040s and Threads_connected peak
	local from
	from=$(mark)
	bench -addr "$ADDRS" -clients "$CLIENTS" -duration "$DURATION" | tee "$RUN_DIR/$1.txt"
	between "$from" "$(mark)"
	errors=$(awk '$1 == "errors" { print ($2 == "none" ? 0 : $2) }' "$RUN_DIR/$1.txt")
	connected=$(awk '$1 == "connected" { print $2 }' "$RUN_DIR/$1.txt")
}

say "1/3: three proxies alone (cap 24 each: 72 wanted of 60), $CLIENTS clients spread over them for $DURATION"
start_proxies
run alone
alone_refused=$refused alone_peak=$peak alone_errors=$errors
stop_proxies

say "2/3: the same three in a fleet of 48 (etcd), the same $CLIENTS clients for $DURATION"
start_proxies cluster
sleep 1
run fleet
fleet_refused=$refused fleet_peak=$peak fleet_errors=$errors fleet_connected=$connected
for i in 0 1 2; do say "  proxy$((i + 1)): $(fleet "$i")"; done

say "3/3: etcd stopped for ${OUTAGE}s in the middle of a run: the proxies keep their last grants"
outage_from=$(mark)
bench -addr "$ADDRS" -clients "$CLIENTS" -duration "$((OUTAGE + 15))s" >"$RUN_DIR/outage.txt" &
bench_pid=$!
sleep 5
stop_pid "$etcd_pid" 20
etcd_pid=
say "  etcd stopped"
sleep $((OUTAGE / 2))
for i in 0 1 2; do say "  proxy$((i + 1)) without etcd: $(fleet "$i")"; done
sleep $((OUTAGE - OUTAGE / 2))
start_etcd
say "  etcd started again"
sleep 3
for i in 0 1 2; do say "  proxy$((i + 1)) with etcd back: $(fleet "$i")"; done
wait "$bench_pid"
between "$outage_from" "$(mark)"
outage_peak=$peak
outage_errors=$(awk '$1 == "errors" { print ($2 == "none" ? 0 : $2) }' "$RUN_DIR/outage.txt")
cat "$RUN_DIR/outage.txt"

cat <<SUMMARY

Summary (MariaDB max_connections=60, three proxies capped at 24, $CLIENTS clients)
  alone:            the server refused $alone_refused connections with ERROR 1040; Threads_connected peak $alone_peak; client errors $alone_errors
  fleet of 48:      the server refused $fleet_refused; Threads_connected peak $fleet_peak; $fleet_connected clients connected, client errors $fleet_errors
  etcd down ${OUTAGE}s:    Threads_connected peak $outage_peak; client errors $outage_errors
SUMMARY
if ((alone_refused > 0 && fleet_refused == 0 && fleet_errors == 0 && fleet_peak <= 50 && outage_errors == 0 && outage_peak <= 50)); then
	echo "  => the fleet keeps the three proxies within one budget: no ERROR 1040 through the side door."
else
	echo "  => unexpected result (see the figures above)"
	exit 1
fi
