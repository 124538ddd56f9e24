# What the end-to-end tests of the local commands share (cli.sh,
# dialects.sh, dates.sh, draft.sh): the programs, a temporary directory that goes away,
# TAP-like lines counted by ok/not_ok, and run/expect/check. Sourced first
# by each script; finish ends it.
set -euo pipefail

: "${FL_BIN:?FL_BIN must name the build directory}"
FL_BIN="$(cd "$FL_BIN" && pwd)"
NODE="$FL_BIN/fedlead-node"
SCORE="$FL_BIN/fedlead-score"
PY="$(command -v python3 || echo /usr/bin/python3)"
for prog in "$NODE" "$SCORE"; do
	[ -x "$prog" ] || { echo "not ok - $prog is not built"; exit 1; }
done
[ -x "$PY" ] || { echo "skip - python3 is needed to write and read the test files"; exit 77; }

T="$(mktemp -d "${TMPDIR:-/tmp}/fl_e2e_$(basename "$0" .sh).XXXXXX")"
trap 'rm -rf "$T"' EXIT
# A set-up step that fails stops the script; say where.
trap 'echo "not ok - the script stopped at line $LINENO"' ERR
# Relative paths from here on, so messages name files as a person typed them.
cd "$T"

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
	shift
	for line in "$@"; do echo "    # $line"; done
}
# run CMD...: runs a program, keeping stdout in out, stderr in err and the
# exit status in $rc (set -e must not stop the script on a failing command).
run() {
	rc=0
	"$@" >out 2>err || rc=$?
}
# expect NAME RC [STDERR]: the last run's exit status and, when given, its
# whole stderr.
expect() {
	local name=$1 want_rc=$2
	if [ "$rc" != "$want_rc" ]; then
		not_ok "$name" "exit status $rc, want $want_rc" "stderr: $(head -c 600 err)"
		return
	fi
	if [ $# -ge 3 ] && [ "$(cat err)" != "$3" ]; then
		not_ok "$name" "stderr: $(head -c 900 err)" "want:   $3"
		return
	fi
	ok "$name"
}
# check NAME COMMAND...: passes when the shell command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

# finish: the counts, and the exit status ctest reads.
finish() {
	trap - ERR
	echo "$pass passed, $fail failed"
	if [ "$fail" -ne 0 ]; then exit 1; fi
}
