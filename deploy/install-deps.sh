#!/usr/bin/env bash
# Installs the Debian 12 packages fedlead needs, and only those missing, so it
# is cheap to run again. Usage: deploy/install-deps.sh [build|test|bench]
# `deploy/install-deps.sh --list MODE` prints the packages MODE installs, one
# a line, and changes nothing (tests/deps/packages.sh checks them against
# what the build finds).
set -euo pipefail

# curl: deploy/demo.sh's last step posts a lead to the scoring service.
# libpq-dev: PostgreSQL as a lead source and score sink is always built
# (README, "Dependencies and why").
build_pkgs=(build-essential cmake pkg-config libssl-dev openssl libevent-dev
	libprotobuf-c-dev protobuf-c-compiler libopenblas-dev libjansson-dev libinih-dev
	libpq-dev curl)
# clang and libclang-rt-14-dev: the clang -Werror and libFuzzer builds of
# deploy/run-tests.sh; clang-format: its formatting check; postgresql: the
# server tests/e2e/pgsql.sh starts (initdb, pg_ctl) and its psql client.
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev clang-format python3 iproute2 chromium systemd man-db groff-base mandoc
	postgresql)
bench_pkgs=(liblinear-tools)

usage() {
	echo "usage: $0 [build|test|bench] | --list build|test|bench" >&2
	exit 2
}
list=
if [ "${1:-}" = --list ]; then
	list=1
	shift
	[ $# -eq 1 ] || usage
fi
[ $# -le 1 ] || usage
want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) usage ;;
esac
if [ -n "$list" ]; then
	printf '%s\n' "${want[@]}"
	exit 0
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "fedlead: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "fedlead: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
