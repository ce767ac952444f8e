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

say() { echo "run-local: $*" >&2; }
die() {
	say "$*"
	exit 1
}

first_exe() {
	local x
	for x in "$@"; do
		if [[ $x == /* ]]; then
			[[ -x $x ]] && { echo "$x"; return 0; }
		elif command -v "$x" >/dev/null 2>&1; then
			command -v "$x"
			return 0
		fi
	done
	return 1
}

port_in_use() { # port_in_use PORT: something answers on 127.0.0.1:PORT
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

bash scripts/install-mariadb.sh

MARIADBD=$(first_exe mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld) || die "mariadbd not found"
INSTALL_DB=$(first_exe mariadb-install-db /usr/bin/mariadb-install-db /usr/scripts/mariadb-install-db mysql_install_db) ||
	die "mariadb-install-db not found"
CLIENT=$(first_exe mariadb mysql) || die "mariadb client not found"

if port_in_use "$PORT"; then
	die "127.0.0.1:$PORT is already in use (another MariaDB/MySQL server?). Stop it first; this script starts its own throwaway server there."
fi
[[ -f $CONFIG ]] || die "config $CONFIG not found"

DATA_DIR=$RUN_DIR/data
SOCKET=$RUN_DIR/mysqld.sock
ERROR_LOG=$RUN_DIR/error.log
db_pid=
proxy_pid=

stop_pid() { # stop_pid PID BOUND_SECONDS: SIGTERM, wait, then SIGKILL
	local pid=$1 bound=$2 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < bound * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "pid $pid ignored SIGTERM for ${bound}s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

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

user_args=()
((EUID == 0)) && user_args=(--user=root)
common=(
	--datadir="$DATA_DIR" --skip-name-resolve "${user_args[@]}"
	--innodb-buffer-pool-size=64M --innodb-log-file-size=16M --skip-log-bin
)

say "initialising a throwaway MariaDB in $RUN_DIR"
if ! "$INSTALL_DB" --no-defaults "${common[@]}" --auth-root-authentication-method=normal --skip-test-db \
	>"$RUN_DIR/install.log" 2>&1; then
	tail -n 30 "$RUN_DIR/install.log" >&2
	die "mariadb-install-db failed"
fi

"$MARIADBD" --no-defaults "${common[@]}" \
	--bind-address=127.0.0.1 --port="$PORT" --socket="$SOCKET" \
	--pid-file="$RUN_DIR/mariadbd.pid" --log-error="$ERROR_LOG" --tmpdir="$RUN_DIR" \
	</dev/null >"$RUN_DIR/mariadbd.out" 2>&1 &
db_pid=$!

sql() { "$CLIENT" --no-defaults --protocol=socket --socket="$SOCKET" -uroot "$@"; }

ready=0
for ((i = 0; i < 600; i++)); do # 60 s
	kill -0 "$db_pid" 2>/dev/null || break
	if [[ -S $SOCKET ]] && sql -e 'SELECT 1' >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.1
done
if ((!ready)); then
	tail -n 30 "$ERROR_LOG" "$RUN_DIR/mariadbd.out" >&2 2>/dev/null || true
	die "MariaDB did not start (log above)"
fi

# Anonymous users shadow 'app'@'%' from 127.0.0.1: drop them.
anon=$(sql -N -B -e "SELECT CONCAT('DROP USER ''''@''', Host, ''';') FROM mysql.user WHERE User = ''")
sql <<SQL
$anon
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'secret';
CREATE USER IF NOT EXISTS 'app'@'localhost' IDENTIFIED BY 'secret';
CREATE USER IF NOT EXISTS 'app'@'127.0.0.1' IDENTIFIED BY 'secret';
GRANT ALL PRIVILEGES ON *.* TO 'app'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'app'@'localhost';
GRANT ALL PRIVILEGES ON *.* TO 'app'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS test;
FLUSH PRIVILEGES;
SQL
say "MariaDB ready on 127.0.0.1:$PORT (pid $db_pid; root without password, app/secret, database test)"

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
