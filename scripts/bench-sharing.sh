#!/usr/bin/env bash
# Issue 8's before/after: the same workloads through two proxies built from two commits (BASE,
# default the last commit before the fidelity work, and the working tree), in alternating rounds
# of one run against one throwaway MariaDB. For each workload it prints the share of statements
# whose backend connection went back to the pool (borrows per statement, from each proxy's
# SHOW STATS), the sessions pinned at the end, and CPU per query of each proxy (mysqlmux-bench
# -compare -target-pid; ratios new / old, of the totals and paired round by round). WORKLOADS
# picks some; BASE=HEAD is a check of the method (both proxies alike: ratios near 1); PROFILE=1
# adds each proxy's CPU per query from perf samples (see profile_start), and PROFILE_TOP=N the N
# functions whose time per query grew most from old to new. NEW_DIGESTS=false runs the new proxy
# without SHOW DIGESTS (issue 9, on by default), which the old one does not have. Everything it
# starts is stopped by PID at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin

BASE=${BASE:-68b7e1b}
TIME=${BENCH_TIME:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-16}
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mysqlmux-sharing.XXXXXX")
SAY_PREFIX=bench-sharing
# shellcheck source=scripts/mariadb-lib.sh
source scripts/mariadb-lib.sh

db_pid=
old_pid=
new_pid=
perf_pids=()
cleanup() {
	[[ -n $old_pid ]] && stop_pid "$old_pid" 10
	[[ -n $new_pid ]] && stop_pid "$new_pid" 10
	[[ ${#perf_pids[@]} -gt 0 ]] && kill -INT "${perf_pids[@]}" 2>/dev/null
	[[ -n $db_pid ]] && stop_pid "$db_pid" 30
	git worktree remove --force "$RUN_DIR/base" >/dev/null 2>&1 || true
	rm -rf "$RUN_DIR"
}
trap cleanup EXIT

bash scripts/install-mariadb.sh
if [[ -n ${PROFILE:-} ]] && ! command -v perf >/dev/null; then
	die "PROFILE=1 needs perf (Debian: apt-get install linux-perf)"
fi
DB_PORT=$(free_port)
OLD_PORT=$(free_port)
NEW_PORT=$(free_port)
OLD_ADMIN=$(free_port)
NEW_ADMIN=$(free_port)
start_mariadb "$DB_PORT" --max-connections=151 --innodb-buffer-pool-size=256M

git worktree add --detach "$RUN_DIR/base" "$BASE" >/dev/null 2>&1
(cd "$RUN_DIR/base" && go build -o "$RUN_DIR/mysqlmux-old" ./cmd/mysqlmux)
go build -o "$RUN_DIR/mysqlmux-new" ./cmd/mysqlmux
go build -o "$RUN_DIR/mysqlmux-bench" ./cmd/mysqlmux-bench
for v in old new; do
	port=$([[ $v == old ]] && echo "$OLD_PORT" || echo "$NEW_PORT")
	admin=$([[ $v == old ]] && echo "$OLD_ADMIN" || echo "$NEW_ADMIN")
	cat >"$RUN_DIR/$v.toml" <<TOML
[proxy]
listen = "127.0.0.1:$port"
[pool]
max_connections = 32
acquire_timeout = "60s"
[[backends]]
address = "127.0.0.1:$DB_PORT"
[[users]]
name = "app"
password = "secret"
[admin]
listen = "127.0.0.1:$admin"
user = "admin"
password = "admin"
$([[ $v == new && -n ${NEW_DIGESTS:-} ]] && echo "digests = $NEW_DIGESTS")
TOML
	"$RUN_DIR/mysqlmux-$v" -config "$RUN_DIR/$v.toml" -log-level warn </dev/null &
	if [[ $v == old ]]; then old_pid=$!; else new_pid=$!; fi
done
for ((i = 0; i < 100; i++)); do
	port_in_use "$OLD_PORT" && port_in_use "$NEW_PORT" && break
	sleep 0.1
done

stat() { # stat ADMIN_PORT NAME: a SHOW STATS counter
	"$CLIENT" --no-defaults -h127.0.0.1 -P"$1" -uadmin -padmin -N -e 'SHOW STATS' | awk -v n="$2" '$1 == n { print $2 }'
}
pinned() { "$CLIENT" --no-defaults -h127.0.0.1 -P"$1" -uadmin -padmin -N -e 'SHOW CLIENTS' | awk -F'\t' '$6 != "" { n++ } END { print n + 0 }'; }
# PROFILE=1: each proxy also runs under `perf record -e cpu-clock` (a software clock: no hardware
# counters needed), and its samples per query are split into the kernel's, the runtime's and
# mysqlmux's own code. Only the proxy being measured runs a round, so each profile holds its own
# rounds (and warm-ups): per query, a steadier figure than CPU time on a shared machine.
profile_start() { # profile_start WORKLOAD
	local v pid
	for v in old new; do
		pid=$([[ $v == old ]] && echo "$old_pid" || echo "$new_pid")
		perf record -q -e cpu-clock -F 997 -p "$pid" -o "$RUN_DIR/$1.$v.perf" 2>/dev/null &
		perf_pids+=($!)
	done
	sleep 2 # perf attaches to the threads before the first round
}
profile_stop() {
	kill -INT "${perf_pids[@]}"
	wait "${perf_pids[@]}" || true
	perf_pids=()
}
profile_line() { # profile_line old|new WORKLOAD QUERIES: µs per query at 997 samples a second
	perf report -i "$RUN_DIR/$2.$1.perf" --sort dso,sym -g none -n --stdio 2>/dev/null | grep -E '^ +[0-9]' |
		awk -v v="$1" -v q="$3" '{ n = $2; t += n }
			$3 == "[kernel.kallsyms]" { k += n; next }
			$NF ~ /^github.com\/mysqlmux\// { m += n; next }
			{ r += n }
			END { f = 1e6 / 997 / q; printf "    perf %s: %.2f µs/query: kernel %.2f, mysqlmux code %.2f, runtime and libraries %.2f\n", v, t * f, k * f, m * f, r * f }'
}
profile_top() { # profile_top WORKLOAD OLD_QUERIES NEW_QUERIES: the PROFILE_TOP functions whose µs per query grew most
	local v q
	for v in old new; do
		q=$([[ $v == old ]] && echo "$2" || echo "$3")
		perf report -i "$RUN_DIR/$1.$v.perf" --sort sym -g none -n --stdio 2>/dev/null | grep -E '^ +[0-9]' |
			awk -v v="$v" -v q="$q" '{ n = $2; $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "%s\t%s\t%.4f\n", v, $0, n * 1e6 / 997 / q }'
	done | awk -F'\t' '{ us[$2, $1] = $3; names[$2] = 1 }
		END { for (n in names) printf "%.3f\t%.3f\t%.3f\t%s\n", us[n, "new"] - us[n, "old"], us[n, "old"], us[n, "new"], n }' |
		sort -t$'\t' -k1,1 -g -r | awk -v n="$PROFILE_TOP" 'NR <= n' |
		awk -F'\t' 'BEGIN { printf "    %8s %8s %8s  %s\n", "Δ µs/q", "old", "new", "function" } { printf "    %+8.3f %8.3f %8.3f  %s\n", $1, $2, $3, $4 }'
}
bench() { "$RUN_DIR/mysqlmux-bench" -user app -password secret -db test -progress 0 "$@"; }

bench -addr "127.0.0.1:$DB_PORT" -workload point-select -prepare >/dev/null
bench -addr "127.0.0.1:$DB_PORT" -workload large-result -prepare >/dev/null
echo "== $CLIENTS clients, cap 32, $ROUNDS rounds of $TIME s each, alternating; old = $BASE, new = $(git rev-parse --short HEAD)$(git diff --quiet || echo +)"
printf '%-14s %22s %22s\n' workload "old: released/stmt" "new: released/stmt"
for w in ${WORKLOADS:-point-select read-only read-write orm-mix prepared large-result}; do
	oq0=$(stat "$OLD_ADMIN" queries) ob0=$(stat "$OLD_ADMIN" borrows)
	nq0=$(stat "$NEW_ADMIN" queries) nb0=$(stat "$NEW_ADMIN" borrows)
	[[ -n ${PROFILE:-} ]] && profile_start "$w"
	bench -compare "127.0.0.1:$OLD_PORT,127.0.0.1:$NEW_PORT" -target-pid "$old_pid,$new_pid" \
		-workload "$w" -clients "$CLIENTS" -duration "${TIME}s" -rounds "$ROUNDS" >"$RUN_DIR/$w.out"
	[[ -n ${PROFILE:-} ]] && profile_stop
	oq=$(($(stat "$OLD_ADMIN" queries) - oq0)) ob=$(($(stat "$OLD_ADMIN" borrows) - ob0))
	nq=$(($(stat "$NEW_ADMIN" queries) - nq0)) nb=$(($(stat "$NEW_ADMIN" borrows) - nb0))
	awk -v w="$w" -v oq="$oq" -v ob="$ob" -v nq="$nq" -v nb="$nb" \
		'BEGIN { printf "%-14s %21.1f%% %21.1f%%\n", w, 100 * ob / oq, 100 * nb / nq }'
	sed 's/^/    /' "$RUN_DIR/$w.out"
	if [[ -n ${PROFILE:-} ]]; then
		profile_line old "$w" "$oq"
		profile_line new "$w" "$nq"
		[[ -n ${PROFILE_TOP:-} ]] && profile_top "$w" "$oq" "$nq"
	fi
done
echo "sessions pinned at the end: old $(pinned "$OLD_ADMIN"), new $(pinned "$NEW_ADMIN")"
