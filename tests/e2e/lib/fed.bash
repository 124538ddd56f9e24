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
PIDS=()
passed=0
failed=0
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
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
	PIDS+=("$COORD_PID")
	for _ in $(seq 200); do
		[ -s "$dir/ports" ] && break
		kill -0 "$COORD_PID" 2>/dev/null || break
		sleep 0.05
	done
	PORT=$(sed -n 's/^listen=//p' "$dir/ports" 2>/dev/null || true)
	HTTP_PORT=$(sed -n 's/^http=//p' "$dir/ports" 2>/dev/null || true)
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
	PIDS+=("$NODE_PID")
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
