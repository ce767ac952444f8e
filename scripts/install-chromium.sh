#!/usr/bin/env bash
# Installs Debian's chromium when it is missing: the dashboard test (admin/dashboard_test.go)
# drives it headless. Quiet and quick when it is present. Set MYSQLMUX_CHROMIUM to use another
# Chromium-based browser instead.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if [[ -n ${MYSQLMUX_CHROMIUM:-} ]] || have chromium || have chromium-browser || have google-chrome; then
	exit 0
fi

SUDO=()
if ((EUID != 0)); then
	if have sudo; then
		SUDO=(sudo -n)
	else
		echo "install-chromium: not root and no sudo: install Debian's chromium by hand" >&2
		exit 1
	fi
fi
if ! have apt-get; then
	echo "install-chromium: no apt-get (not Debian?): install chromium by hand or set MYSQLMUX_CHROMIUM" >&2
	exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/install-chromium.XXXXXX.log")
trap 'rm -f "$log"' EXIT
echo "install-chromium: installing chromium" >&2
if ! "${SUDO[@]}" apt-get update -q >>"$log" 2>&1 ||
	! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >>"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "install-chromium: installing chromium failed" >&2
	exit 1
fi
have chromium || { echo "install-chromium: chromium still not found after install" >&2; exit 1; }
