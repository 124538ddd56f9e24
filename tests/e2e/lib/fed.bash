# Shared helpers for the federation end-to-end tests (sourced, not run).
# Everything runs on 127.0.0.1 with ephemeral ports, under a temporary
# directory removed on exit; processes started here are killed on exit.
set -euo pipefail

: "${FL_BIN:?FL_BIN must name the build directory}"
: "${FL_SRC:?FL_SRC must name the source directory}"
FL_DATA=${FL_DATA:-$FL_SRC/tests/data}
COIL=$FL_DATA/coil2000/train.csv
SCHEMA=$FL_DATA/coil2000/coil2000.schema.json
CA_TOOL=$FL_SRC/deploy/fedlead-ca
PY=$(command -v python3)
# Through a version manager's shim every call costs a second or more on a
# busy machine: resolve the interpreter once.
PY=$("$PY" -c 'import sys; print(sys.executable)')

T=$(mktemp -d "${TMPDIR:-/tmp}/fedlead-e2e.XXXXXX")
PIDS=()     # processes this shell started (track), stopped on exit
declare -A PID_START # their start times (proc_start)
CLEANUP=()  # commands run on exit once every process is gone (umount, ...)
SKIPPED=()  # parts that could not run here, and why (skip_part)
passed=0
failed=0

# proc_start PID: the process's start time (clock ticks after boot, field 22
# of /proc/PID/stat), or nothing if there is no such process. With the PID
# it names one process for good: PIDs are reused, start times are not.
proc_start() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	set -- $s
	echo "${20}"
}
# proc_state PID: its state letter (R, S, T for stopped, Z, ...), or nothing.
proc_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}
# alive PID: the process exists and has not exited (a zombie has).
alive() {
	local st
	st=$(proc_state "$1")
	[ -n "$st" ] && [ "$st" != Z ]
}

# track PID: a process this test started. It is killed and waited for on
# exit, also when it was started in a subshell: $T/pids lists every
# process of the test with its start time.
track() {
	PIDS+=("$1")
	PID_START[$1]=$(proc_start "$1")
	echo "$1 ${PID_START[$1]}" >>"$T/pids"
}

# stop_mine: kill -9 and wait for the processes this shell (or subshell)
# started and that still run; for a subshell that ends before the test.
stop_mine() {
	local p
	for p in "${PIDS[@]}"; do
		if [ -n "${PID_START[$p]:-}" ] && [ "$(proc_start "$p")" = "${PID_START[$p]}" ]; then
			kill -CONT "$p" 2>/dev/null || true # gone in between: nothing to stop
			kill -9 "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true # its status is of no interest any more
	done
}

# stop_all: kill -9 every process the test started that is still running,
# then wait until each is gone: children of this shell are reaped by wait,
# those of subshells by init. Prints a FAIL line and returns 1 for one that
# does not go within 10 s.
stop_all() {
	local p start rc=0 end
	[ -e "$T/pids" ] || return 0
	while read -r p start; do
		# Only the process that was started: the PID may have been reused.
		if [ -n "$start" ] && [ "$(proc_start "$p")" = "$start" ]; then
			kill -CONT "$p" 2>/dev/null || true # gone in between: nothing to stop
			kill -9 "$p" 2>/dev/null || true
		fi
	done <"$T/pids"
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true # its status is of no interest any more
	done
	end=$((SECONDS + 10))
	while read -r p start; do
		while [ -n "$start" ] && [ "$(proc_start "$p")" = "$start" ] && alive "$p"; do
			if [ "$SECONDS" -ge "$end" ]; then
				echo "FAIL process $p (started by this test) is still running after kill -9"
				rc=1
				break
			fi
			sleep 0.05
		done
	done <"$T/pids"
	return $rc
}

# On exit: every process is stopped first, then the CLEANUP commands run
# (unmounting, deleting namespaces: nothing may still use them), then the
# temporary directory goes. Any of these failing fails the test, loudly.
cleanup() {
	local st=$? c
	trap - EXIT
	if [ "$st" -ne 0 ] && [ "$st" -ne 77 ] && [ "$failed" -eq 0 ]; then
		echo "FAIL the script stopped at an unexpected error (status $st; set -e)"
		failed=1
	fi
	stop_all || st=1
	for c in "${CLEANUP[@]}"; do
		if ! eval "$c"; then
			echo "FAIL on exit: $c"
			st=1
		fi
	done
	if [ "$failed" -eq 0 ] && [ "$st" -ne 1 ] && [ -z "${KEEP:-}" ]; then
		if ! rm -rf "$T"; then
			echo "FAIL on exit: cannot remove $T"
			st=1
		fi
	else
		echo "kept $T"
	fi
	exit "$st"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
# must NAME COMMAND...: a check the rest of the test depends on; if it
# fails, the test ends there.
must() {
	check "$@" && return 0
	echo "the rest of the test depends on this: stopping"
	finish
	exit 1
}
# skip_part REASON: a part of the test cannot run here. The other parts go
# on; at the end the test exits 77 (ctest: skipped), printing why, unless
# something failed.
skip_part() {
	SKIPPED+=("$1")
	echo "SKIP $1"
}
finish() {
	echo "$passed passed, $failed failed${SKIPPED[0]:+, ${#SKIPPED[@]} part(s) skipped}"
	[ "$failed" -eq 0 ] || return 1
	if [ "${#SKIPPED[@]}" -gt 0 ]; then
		printf 'skipped: %s\n' "${SKIPPED[@]}"
		exit 77
	fi
}
# skip_all REASON: the test cannot run here at all: exit 77, saying why.
skip_all() {
	SKIPPED+=("$1")
	echo "SKIP $1"
	finish
	exit 1
}

# pki NAMES...: a CA in $T/pki/ca, a coordinator certificate and one partner
# certificate per name.
pki() {
	"$CA_TOOL" init --dir "$T/pki/ca" --name "test CA" >/dev/null
	"$CA_TOOL" issue --dir "$T/pki/ca" --name coordinator --role coordinator \
		--dns localhost --ip 127.0.0.1 --out "$T/pki/coordinator" >/dev/null
	for n in "$@"; do
		"$CA_TOOL" issue --dir "$T/pki/ca" --name "$n" --role partner --out "$T/pki/$n" >/dev/null
	done
}

# split_coil N: the CoIL leads into partner files $T/p1.csv .. $T/pN.csv of
# unequal size (row i goes to partner 1 + (i mod 10) * N / 10 rounded down),
# plus $T/pooled.csv with all of them in partner order.
split_coil() {
	local n=$1
	awk -v dir="$T" -v n="$n" '
		NR == 1 { for (k = 1; k <= n; k++) print > (dir "/p" k ".csv"); next }
		{ k = 1 + int(((NR - 2) % 10) * n / 10); print > (dir "/p" k ".csv") }
	' "$COIL"
	head -n 1 "$COIL" >"$T/pooled.csv"
	for k in $(seq "$n"); do tail -n +2 "$T/p$k.csv" >>"$T/pooled.csv"; done
}

# coordinator_conf FILE PARTNERS [extra "key = value" lines for [federation]...]
coordinator_conf() {
	local file=$1 partners=$2
	shift 2
	mkdir -p "$(dirname "$file")"
	{
		echo "[federation]"
		echo "id = test-federation"
		echo "schema = ${FED_SCHEMA:-$SCHEMA}"
		echo "partners = $partners"
		for line in "$@"; do echo "$line"; done
		echo "[network]"
		echo "listen = 127.0.0.1:0"
		echo "http_listen = 127.0.0.1:0"
		echo "port_file = $(dirname "$file")/ports"
		echo "[tls]"
		echo "ca = $T/pki/ca/ca.crt"
		echo "cert = $T/pki/coordinator.crt"
		echo "key = $T/pki/coordinator.key"
		echo "[state]"
		echo "state_dir = $(dirname "$file")/state"
		echo "model_out = $(dirname "$file")/model.fdl"
		echo "audit_log = $(dirname "$file")/audit.jsonl"
	} >"$file"
}

# start_coordinator DIR [flags...]: starts it with DIR/coordinator.conf, waits
# for its ports; sets COORD_PID, PORT, HTTP_PORT.
start_coordinator() {
	local dir=$1
	shift
	rm -f "$dir/ports"
	"$FL_BIN/fedlead-coordinator" --config "$dir/coordinator.conf" "$@" 2>>"$dir/coordinator.log" &
	COORD_PID=$!
	track "$COORD_PID"
	# The port file is written (renamed into place) once both ports listen.
	local end=$((SECONDS + 30))
	while ! [ -s "$dir/ports" ]; do
		if ! alive "$COORD_PID" || [ "$SECONDS" -ge "$end" ]; then
			echo "     the coordinator wrote no $dir/ports; its log ends:"
			tail -n 5 "$dir/coordinator.log" | sed 's/^/       /'
			return 1
		fi
		sleep 0.05
	done
	PORT=$(sed -n 's/^listen=//p' "$dir/ports")
	HTTP_PORT=$(sed -n 's/^http=//p' "$dir/ports")
	[ -n "$PORT" ]
}

# start_node NAME DATA [flags...]: partner NAME with certificate $T/pki/NAME;
# sets NODE_PID. Its files are in $T/node-NAME (or $NODE_HOME/node-NAME).
start_node() {
	local name=$1 data=$2 home=${NODE_HOME:-$T}/node-$1
	shift 2
	mkdir -p "$home"
	"$FL_BIN/fedlead-node" join --schema "${NODE_SCHEMA:-$SCHEMA}" --data "$data" \
		--address "127.0.0.1:$PORT" --server-name localhost \
		--federation "${NODE_FEDERATION:-test-federation}" \
		--ca "$T/pki/ca/ca.crt" --cert "${NODE_CERT:-$T/pki/$name.crt}" \
		--key "${NODE_KEY:-$T/pki/$name.key}" \
		--model-out "$home/model.fdl" --audit-log "$home/audit.jsonl" \
		--backoff-initial 0.1 --backoff-max 0.5 "$@" 2>>"$home/node.log" &
	NODE_PID=$!
	track "$NODE_PID"
}

# wait_pid PID SECONDS: waits for a process, killing it after SECONDS;
# returns its exit status (124 on timeout).
wait_pid() {
	local pid=$1 secs=$2 i
	for i in $(seq $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 124
	fi
	local st=0
	wait "$pid" || st=$?
	return $st
}

# weights MODEL: the model's weights, one per line (%.17g).
weights() {
	"$FL_BIN/fedlead-score" --model "$1" --export json |
		"$PY" -c 'import json,sys; [print(repr(w["weight"])) for w in json.load(sys.stdin)["weights"]]'
}

# rel_diff A B: ||a - b|| / ||b|| of two models' weights.
rel_diff() {
	"$PY" - "$1" "$2" <<'PYEOF'
import sys
a = [float(x) for x in open(sys.argv[1])]
b = [float(x) for x in open(sys.argv[2])]
assert len(a) == len(b), (len(a), len(b))
num = sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5
den = sum(y * y for y in b) ** 0.5
print("%.3e" % (num / den))
PYEOF
}

# le A B: numeric A <= B
le() { "$PY" -c "import sys; sys.exit(0 if float('$1') <= float('$2') else 1)"; }

# ledger_kinds LEDGER KIND...: the releases a node's privacy.ledger holds
# for federation test-federation are exactly KIND... in that order (the
# kinds found are printed).
ledger_kinds() {
	"$PY" - "$@" <<'PYEOF'
import sys
rel = [l.split() for l in open(sys.argv[1])][1:]  # after the "fedlead-ledger 1" header
kinds = [f[4] for f in rel if len(f) == 6 and f[2] == "test-federation"]
print("     ledger kinds: %s" % " ".join(kinds))
sys.exit(0 if kinds == sys.argv[2:] else 1)
PYEOF
}

# model_json MODEL: the whole model as JSON (fedlead-score --export json).
model_json() {
	"$FL_BIN/fedlead-score" --model "$1" --export json
}

# jget FILE EXPR: evaluates the Python expression EXPR with j = the JSON in
# FILE and prints the result (repr for floats, so nothing is rounded).
jget() {
	"$PY" -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(repr(v) if isinstance(v, float) else v)' "$1" "$2"
}

# http_get PATH: GET http://127.0.0.1:$HTTP_PORT/PATH; prints the status
# code on the first line, the Content-Type on the second, then the body.
http_get() {
	"$PY" - "$HTTP_PORT" "$1" <<'PYEOF'
import sys, urllib.request, urllib.error
url = "http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2])
try:
    r = urllib.request.urlopen(url, timeout=5)
    code, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
except urllib.error.HTTPError as e:
    code, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
sys.stdout.write("%d\n%s\n" % (code, ctype))
sys.stdout.write(body.decode("utf-8", "replace"))
PYEOF
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# fails after SECONDS.
wait_for() {
	local secs=$1 i
	shift
	for i in $(seq $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# log_has FILE EXTENDED-REGEX: the log holds a matching line.
log_has() { grep -Eq -- "$2" "$1" 2>/dev/null; }

# Synchronisation is on events, never on time: a line in a log, a process
# stopped at a fault point. Each wait is bounded, and a wait that fails
# says what it waited for.

# wait_log SECONDS FILE EXTENDED-REGEX [PID]: waits until FILE has a
# matching line. Fails after SECONDS, or as soon as PID (when given) has
# exited without writing it, saying what it waited for.
wait_log() {
	local secs=$1 file=$2 re=$3 pid=${4:-} end=$((SECONDS + $1)) why
	while ! log_has "$file" "$re"; do
		why=
		if [ -n "$pid" ] && ! alive "$pid"; then
			log_has "$file" "$re" && return 0
			why="process $pid exited without writing it"
		elif [ "$SECONDS" -ge "$end" ]; then
			why="not there after $secs s"
		fi
		if [ -n "$why" ]; then
			echo "     waited for /$re/ in $file: $why; the file ends:"
			tail -n 5 "$file" 2>/dev/null | sed 's/^/       /'
			return 1
		fi
		sleep 0.05
	done
}

# wait_paused SECONDS PID LOG STEP@ROUND: waits until the process PID,
# started with FEDLEAD_FAULT=...pause@STEP@ROUND..., has logged that it
# reached the point and has stopped itself (state T). Only then may the test
# act on it: a SIGCONT sent between the log line and the stop would be lost.
wait_paused() {
	local secs=$1 pid=$2 log=$3 at=$4 end=$((SECONDS + $1))
	wait_log "$secs" "$log" "fault point $at: paused\$" "$pid" || return 1
	while [ "$(proc_state "$pid")" != T ]; do
		if ! alive "$pid" || [ "$SECONDS" -ge "$end" ]; then
			echo "     process $pid logged the pause at $at but is not stopped" \
				"(state $(proc_state "$pid"))"
			return 1
		fi
		sleep 0.05
	done
}

# resume PID LOG STEP@ROUND: SIGCONT to a process paused at STEP@ROUND, and
# wait (10 s) until it says it goes on.
resume() {
	kill -CONT "$1" && wait_log 10 "$2" "fault point $3: resumed\$" "$1"
}

# kill9 PID: kill -9 a child of this shell and reap it. Fails, saying so,
# if the process had exited already (it was not where the test thought).
kill9() {
	local st=0
	if ! kill -9 "$1" 2>/dev/null; then
		echo "     kill -9 $1: no such process (it had exited already)"
		return 1
	fi
	wait "$1" 2>/dev/null || st=$?
	if [ "$st" != 137 ]; then
		echo "     process $1 ended with status $st before the kill -9"
		return 1
	fi
}

# need_fault_points: this test stops or kills the programs at protocol
# steps (FEDLEAD_FAULT, include/fedlead/fault.h); without them compiled in
# it cannot test what it says, so it fails here, naming the build option.
need_fault_points() {
	local b
	for b in fedlead-coordinator fedlead-node; do
		if ! grep -q FEDLEAD_FAULT "$FL_BIN/$b"; then
			bad "$b has no fault points: configure the build with -DFL_FAULT_INJECTION=ON (this test stops the programs at protocol steps)"
			finish
			exit 1
		fi
	done
}

# status_round: the round in the coordinator's /status, or -1 if unreachable.
status_round() {
	"$PY" - "$HTTP_PORT" <<'PYEOF'
import json, sys, urllib.request
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s/status" % sys.argv[1], timeout=2)
    print(json.load(r)["round"])
except Exception:
    print(-1)
PYEOF
}

# sanitizer_clean: no AddressSanitizer, LeakSanitizer or UBSan report in any
# log under $T (a process that must fail could otherwise fail that way).
sanitizer_clean() {
	! grep -rEl "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T" --include='*.log' --include='*.out'
}
