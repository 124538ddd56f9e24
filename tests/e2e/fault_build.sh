#!/usr/bin/env bash
# Fault points (FEDLEAD_FAULT, include/fedlead/fault.h) are in the programs
# exactly when the build was configured with -DFL_FAULT_INJECTION=ON: the
# test build has them (the crash tests need them), a release build has no
# trace of them, so nothing in the environment can stop or kill a
# production daemon at a protocol step.
set -euo pipefail
: "${FL_BIN:?FL_BIN must name the build directory}"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

opt=$(sed -n 's/^FL_FAULT_INJECTION:BOOL=//p' "$FL_BIN/CMakeCache.txt")
case $opt in
ON | on | TRUE | true | 1) opt=ON ;;
OFF | off | FALSE | false | 0 | "") opt=OFF ;;
*) bad "FL_FAULT_INJECTION in $FL_BIN/CMakeCache.txt is \"$opt\", not ON or OFF" ;;
esac
echo "this build: FL_FAULT_INJECTION=$opt"

# has PROGRAM STRING: the program's binary contains STRING.
has() { grep -qF -- "$2" "$FL_BIN/$1"; }
for prog in fedlead-coordinator fedlead-node fedlead-score; do
	[ -x "$FL_BIN/$prog" ] || { bad "$prog is built"; continue; }
	if [ "$opt" = ON ]; then
		case $prog in
		fedlead-coordinator | fedlead-node)
			if has "$prog" FEDLEAD_FAULT && has "$prog" "fault point %s: paused"; then
				ok "$prog has its fault points (FEDLEAD_FAULT)"
			else
				bad "$prog has its fault points (FEDLEAD_FAULT)"
			fi
			;;
		esac
	else
		for s in FEDLEAD_FAULT "fault injection: killed" "fault point %s"; do
			if has "$prog" "$s"; then
				bad "$prog has no fault points: it contains \"$s\""
			else
				ok "$prog has no fault points: no \"$s\""
			fi
		done
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
