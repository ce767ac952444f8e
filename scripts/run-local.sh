#!/usr/bin/env bash
# `make run`: a throwaway MariaDB on 127.0.0.1:3306 (user app / password secret,
# database test) and the proxy in front of it with examples/mysqlmux.toml, in the
# foreground. On exit (or ^C / SIGTERM) the proxy is stopped, then the MariaDB
# server this script started (by its PID), and its data directory is removed.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -d /usr/local/go/bin ]] && PATH=$PATH:/usr/local/go/bin

CONFIG=${MYSQLMUX_CONFIG:-examples/mysqlmux.toml}
PORT=3306
RUN_DIR=${TMPDIR:-/tmp}/mysqlmux-run
SAY_PREFIX=run-local
# shellcheck source=scripts/mariadb-lib.sh
source scripts/mariadb-lib.sh

bash scripts/install-mariadb.sh
if port_in_use "$PORT"; then
	die "127.0.0.1:$PORT is already in use (another MariaDB/MySQL server?). Stop it first; this script starts its own throwaway server there."
fi
[[ -f $CONFIG ]] || die "config $CONFIG not found"

db_pid=
proxy_pid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $proxy_pid ]]; then
		stop_pid "$proxy_pid" 30
	fi
	if [[ -n $db_pid ]]; then
		say "stopping MariaDB (pid $db_pid)"
		stop_pid "$db_pid" 60
		rm -rf "$RUN_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
start_mariadb "$PORT"

bin=$RUN_DIR/mysqlmux
say "building ./cmd/mysqlmux"
go build -o "$bin" ./cmd/mysqlmux
say "starting mysqlmux -config $CONFIG  (^C to stop)"
# Run in the background and wait, so that INT/TERM reach the traps at once; the
# proxy gets SIGTERM (graceful shutdown) from cleanup.
"$bin" -config "$CONFIG" </dev/null &
proxy_pid=$!
set +e
wait "$proxy_pid"
rc=$?
set -e
proxy_pid=
exit "$rc"
