#!/usr/bin/env bash
# The programs carry the daemon hardening the top-level CMakeLists.txt asks
# for in builds that are not sanitizer or Debug builds (ctest registers this
# test only there): a position-independent executable (ELF type DYN with the
# PIE flag), full RELRO (a GNU_RELRO segment and BIND_NOW, so the GOT is
# read-only before main runs), stack canaries (-fstack-protector-strong
# leaves calls to __stack_chk_fail) and, in optimised builds, the checked
# libc calls of _FORTIFY_SOURCE (__*_chk symbols).
#
# Run by ctest with FL_BIN (build directory). By hand:
#   FL_BIN=build bash tests/hardening/check.sh
set -euo pipefail

: "${FL_BIN:?FL_BIN must name the build directory}"
export LC_ALL=C
if ! command -v readelf >/dev/null; then
	echo "skip: readelf (binutils) is not installed"
	exit 77
fi
# FL_FORTIFY=ON: the build is optimised and was compiled with _FORTIFY_SOURCE.
fortify=${FL_FORTIFY:-OFF}

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
}
# expect NAME PATTERN TEXT: TEXT has a line matching the extended regex PATTERN.
expect() {
	if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else bad "$1"; fi
}

for prog in fedlead-coordinator fedlead-node fedlead-score; do
	bin=$FL_BIN/$prog
	if [ ! -x "$bin" ]; then
		bad "$prog: $bin does not exist (build it first)"
		continue
	fi
	header=$(readelf -h "$bin")
	dynamic=$(readelf -d "$bin")
	segments=$(readelf -lW "$bin")
	symbols=$(readelf --dyn-syms -W "$bin")
	expect "$prog: position-independent executable (ELF type DYN)" '^ +Type: +DYN ' "$header"
	expect "$prog: PIE flag in the dynamic section" '\(FLAGS_1\) .*PIE' "$dynamic"
	expect "$prog: RELRO segment" '^ +GNU_RELRO ' "$segments"
	expect "$prog: immediate binding (BIND_NOW)" '\(FLAGS\) .*BIND_NOW|\(FLAGS_1\) .*NOW' "$dynamic"
	expect "$prog: stack protector (__stack_chk_fail)" ' UND __stack_chk_fail' "$symbols"
	if [ "$fortify" = ON ]; then
		expect "$prog: _FORTIFY_SOURCE checked calls (__*_chk)" ' UND __[a-z_]+_chk(@|$)' "$symbols"
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
