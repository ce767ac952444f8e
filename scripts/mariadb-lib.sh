# Shared by run-local.sh and demo.sh: start and stop a throwaway MariaDB.
# Source it after setting RUN_DIR; call start_mariadb PORT [extra mariadbd flags...].
# It sets db_pid and SOCKET; stop_pid PID BOUND stops a process the caller started.

say() { echo "${SAY_PREFIX:-mysqlmux}: $*" >&2; }
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

sql() { "$CLIENT" --no-defaults --protocol=socket --socket="$SOCKET" -uroot "$@"; }

start_mariadb() { # start_mariadb PORT [mariadbd flags...]
	local port=$1 i ready=0
	shift
	MARIADBD=$(first_exe mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld) || die "mariadbd not found"
	INSTALL_DB=$(first_exe mariadb-install-db /usr/bin/mariadb-install-db /usr/scripts/mariadb-install-db mysql_install_db) ||
		die "mariadb-install-db not found"
	CLIENT=$(first_exe mariadb mysql) || die "mariadb client not found"
	local data_dir=$RUN_DIR/data error_log=$RUN_DIR/error.log user_args=()
	SOCKET=$RUN_DIR/mysqld.sock
	((EUID == 0)) && user_args=(--user=root)
	local common=(
		--datadir="$data_dir" --skip-name-resolve "${user_args[@]}"
		--innodb-buffer-pool-size=64M --innodb-log-file-size=16M --skip-log-bin
	)
	say "initialising a throwaway MariaDB in $RUN_DIR"
	# --tmpdir: a server starting up deletes the #sql temporary files in its tmpdir, also those
	# of another server bootstrapping there.
	if ! "$INSTALL_DB" --no-defaults "${common[@]}" --tmpdir="$RUN_DIR" --auth-root-authentication-method=normal --skip-test-db \
		>"$RUN_DIR/install.log" 2>&1; then
		tail -n 30 "$RUN_DIR/install.log" >&2
		die "mariadb-install-db failed"
	fi
	"$MARIADBD" --no-defaults "${common[@]}" \
		--bind-address=127.0.0.1 --port="$port" --socket="$SOCKET" \
		--pid-file="$RUN_DIR/mariadbd.pid" --log-error="$error_log" --tmpdir="$RUN_DIR" "$@" \
		</dev/null >"$RUN_DIR/mariadbd.out" 2>&1 &
	db_pid=$!
	for ((i = 0; i < 600; i++)); do # 60 s
		kill -0 "$db_pid" 2>/dev/null || break
		if [[ -S $SOCKET ]] && sql -e 'SELECT 1' >/dev/null 2>&1; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if ((!ready)); then
		tail -n 30 "$error_log" "$RUN_DIR/mariadbd.out" >&2 2>/dev/null || true
		die "MariaDB did not start (log above)"
	fi
	# Anonymous users shadow 'app'@'%' from 127.0.0.1: drop them.
	local anon
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
	say "MariaDB ready on 127.0.0.1:$port (pid $db_pid; root without password, app/secret, database test)"
}

free_port() { # a port on 127.0.0.1 nothing listens on, below the ephemeral range (32768-60999 on
	# Linux), where outgoing connections of other processes hold ports nobody listens on
	local p
	for p in $(shuf -i 20000-32767 -n 50); do
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	die "no free port found"
}

# trap_cleanup_temp_run: on exit stop $proxy_pid .. $proxy4_pid and $db_pid (if set) and
# remove $RUN_DIR.
trap_cleanup_temp_run() {
	cleanup() {
		local rc=$?
		trap - EXIT INT TERM
		[[ -n ${proxy_pid:-} ]] && stop_pid "$proxy_pid" 20
		[[ -n ${proxy2_pid:-} ]] && stop_pid "$proxy2_pid" 20
		[[ -n ${proxy3_pid:-} ]] && stop_pid "$proxy3_pid" 20
		[[ -n ${proxy4_pid:-} ]] && stop_pid "$proxy4_pid" 20
		[[ -n ${db_pid:-} ]] && stop_pid "$db_pid" 60
		rm -rf "$RUN_DIR"
		exit "$rc"
	}
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
