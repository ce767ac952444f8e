#!/usr/bin/env bash
# Installs what the integration tests need when it is missing: MariaDB server and
# client (Debian's mariadb-server, mariadb-client), the Python drivers apps use
# (python3-pymysql, python3-mysqldb), chromium (the dashboard test drives it headless;
# MYSQLMUX_CHROMIUM names another) and, best effort, sysbench.
# Quiet and quick when everything is present. Never leaves a system mariadbd
# running that this script caused to start: service starts are denied during the
# install (policy-rc.d), and a server that appears anyway is stopped.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
have_any() {
	local x
	for x in "$@"; do
		if [[ $x == /* ]]; then
			[[ -x $x ]] && return 0
		else
			have "$x" && return 0
		fi
	done
	return 1
}

need_mariadb=0
have_any mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld || need_mariadb=1
have_any mariadb-install-db /usr/bin/mariadb-install-db /usr/scripts/mariadb-install-db mysql_install_db || need_mariadb=1
have_any mariadb mysql || need_mariadb=1
need_sysbench=0
have sysbench || need_sysbench=1
need_python=0
/usr/bin/python3 -c 'import pymysql, MySQLdb' >/dev/null 2>&1 || need_python=1
need_chromium=0
[[ -n ${MYSQLMUX_CHROMIUM:-} ]] || have_any chromium chromium-browser google-chrome || need_chromium=1

if ((need_mariadb == 0 && need_sysbench == 0 && need_python == 0 && need_chromium == 0)); then
	exit 0
fi

fail_or_warn() { # fail_or_warn FATAL MESSAGE
	if (($1)); then
		echo "install-mariadb: $2" >&2
		exit 1
	fi
	echo "install-mariadb: warning: $2" >&2
	exit 0
}

SUDO=()
if ((EUID != 0)); then
	if have sudo; then
		SUDO=(sudo -n)
	else
		fail_or_warn "$need_mariadb" "not root and no sudo: install mariadb-server mariadb-client sysbench by hand"
	fi
fi
if ! have apt-get; then
	fail_or_warn "$need_mariadb" "no apt-get (not Debian?): install MariaDB server/client and sysbench by hand"
fi

# PIDs of running mariadbd/mysqld processes, from /proc (no procps needed).
server_pids() {
	local d comm
	for d in /proc/[0-9]*; do
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		case $comm in mariadbd | mysqld) echo "${d#/proc/}" ;; esac
	done | sort
}

log=$(mktemp "${TMPDIR:-/tmp}/install-mariadb.XXXXXX.log")
policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
	if ((made_policy)); then
		"${SUDO[@]}" rm -f "$policy"
	fi
	rm -f "$log"
}
trap cleanup EXIT

# Deny service starts from maintainer scripts while we install (only if no
# policy is in place already; an existing one is someone else's).
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
	"${SUDO[@]}" chmod 755 "$policy"
	made_policy=1
fi

before=$(server_pids)

apt_install() { # apt_install PKG...
	DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q "$@" >>"$log" 2>&1
}

echo "install-mariadb: installing:$( ((need_mariadb)) && printf ' mariadb-server mariadb-client')$( ((need_python)) && printf ' python3-pymysql python3-mysqldb')$( ((need_sysbench)) && printf ' sysbench')$( ((need_chromium)) && printf ' chromium')" >&2
if ! "${SUDO[@]}" apt-get update -q >>"$log" 2>&1; then
	tail -n 30 "$log" >&2
	fail_or_warn "$need_mariadb" "apt-get update failed"
fi

status=0
if ((need_mariadb)); then
	if ! apt_install mariadb-server mariadb-client; then
		tail -n 40 "$log" >&2
		echo "install-mariadb: installing mariadb-server mariadb-client failed" >&2
		status=1
	fi
fi
if ((need_python)); then
	if ! apt_install python3-pymysql python3-mysqldb; then
		tail -n 20 "$log" >&2
		echo "install-mariadb: installing python3-pymysql python3-mysqldb failed" >&2
		status=1
	fi
fi
if ((need_sysbench)); then
	if ! apt_install sysbench; then
		tail -n 20 "$log" >&2
		echo "install-mariadb: warning: could not install sysbench; tests and benchmarks that use it will skip" >&2
	fi
fi
if ((need_chromium)); then
	if ! apt_install chromium; then
		tail -n 20 "$log" >&2
		echo "install-mariadb: warning: could not install chromium; the dashboard test skips (fails under CI)" >&2
	fi
fi

# A server that the install started (despite the policy) is stopped; servers that
# were running before are left alone.
after=$(server_pids)
started=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
if [[ -n $started ]]; then
	echo "install-mariadb: stopping the MariaDB service the package started (pids: $(echo $started))" >&2
	"${SUDO[@]}" service mariadb stop >>"$log" 2>&1 || true
	for pid in $started; do
		for _ in $(seq 60); do
			[[ -e /proc/$pid ]] || break
			sleep 0.5
		done
		if [[ -e /proc/$pid ]]; then
			"${SUDO[@]}" kill -TERM "$pid" 2>/dev/null || true
		fi
	done
fi

if ((status == 0 && need_mariadb)); then
	have_any mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld ||
		{ echo "install-mariadb: mariadbd still not found after install" >&2; status=1; }
fi
exit "$status"
