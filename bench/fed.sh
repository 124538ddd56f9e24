#!/usr/bin/env bash
# The federation and secure-aggregation benchmarks (bench/README.md,
# "Federation and secure aggregation"). Everything runs on this machine:
# the coordinator and every partner are processes on 127.0.0.1 with
# ephemeral ports; each federation is bounded in time and every process this
# script starts is stopped when it ends.
#
#   bash bench/fed.sh [options]    # 5 to 8 minutes (plus 1 to 1.5 min for the PKI the first time)
#
#   --build DIR     build directory (default: build-bench/ in the source tree)
#   --no-build      use the programs already built in --build
#   --workdir DIR   scratch directory (default /tmp/fedlead-fedbench); the
#                   PKI of 50 partners made there is kept for the next run
#   --reps N        repetitions of the pooled training reference (default 3)
#   --partners L    partner counts of parts 2 and 4 (default 3,10,50)
#   --dims L        vector lengths of part 2 (default 100,10000,1000000)
#   --budget S      skip a part-2 combination estimated over S seconds (default 60)
#   --clean         delete the work directory afterwards
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
workdir=/tmp/fedlead-fedbench
reps=3
partners=3,10,50
dims=100,10000,1000000
budget=60
build_it=1
clean=
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--no-build) build_it=; shift ;;
	--workdir) workdir=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--partners) partners=$2; shift 2 ;;
	--dims) dims=$2; shift 2 ;;
	--budget) budget=$2; shift 2 ;;
	--clean) clean=1; shift ;;
	-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "fed.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

# Single-core BLAS in every process: several share two cores here.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

die() { echo "fed.sh: $*" >&2; exit 1; }

PY=$(command -v python3) || die "python3 is needed (to read audit logs and model JSON)"
ncpu=$(getconf _NPROCESSORS_ONLN)
maxp=$(tr ',' '\n' <<<"$partners" | sort -n | tail -n 1)
if [ "$maxp" -lt 3 ] || [ "$maxp" -gt 58 ]; then die "--partners: 3 to 58 (58 x 100 CoIL rows)"; fi
if [ -n "$build_it" ]; then
	grep -q 'add_subdirectory(bench)' "$src/CMakeLists.txt" ||
		die "the top-level CMakeLists.txt does not add bench/ (see bench/README.md)"
	# No -Werror: a benchmark should not fail on a new compiler warning.
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_BENCH=ON -DBUILD_TESTING=OFF \
		-DFL_WERROR=OFF -DFL_ENABLE_ASAN=OFF >/dev/null
	cmake --build "$build" -j"$ncpu" --target fedlead-node fedlead-coordinator fedlead-score \
		bench_secagg >/dev/null || die "the build failed"
fi
node=$build/fedlead-node
coord=$build/fedlead-coordinator
score=$build/fedlead-score
secagg=$build/bench/bench_secagg
for p in "$node" "$coord" "$score" "$secagg"; do
	[ -x "$p" ] || die "$p is missing (run without --no-build)"
done

COIL=$src/tests/data/coil2000/train.csv
SCHEMA=$src/tests/data/coil2000/coil2000.schema.json
CA_TOOL=$src/deploy/fedlead-ca
mkdir -p "$workdir"
W=$(cd "$workdir" && pwd)
logs=$W/logs
rm -rf "$W/runs" "$logs"
mkdir -p "$W/runs" "$logs"

# --- processes ----------------------------------------------------------------
# spawn STEM CMD...: runs CMD in the background under a small bash that
# records, when CMD ends, "exit-status end-time user-seconds system-seconds"
# in STEM.end (from bash's times: the CPU of the waited-for child). CMD's
# stderr goes to STEM.log. Sets SPAWNED to the wrapper's PID; the command's
# own PID is in STEM.pid.
WRAPPERS=()
spawn() {
	local stem=$1
	shift
	(
		"$@" >/dev/null 2>"$stem.log" &
		c=$!
		echo "$c" >"$stem.pid"
		trap 'kill -9 "$c" 2>/dev/null' TERM
		st=0
		wait "$c" || st=$?
		# No pipe or command substitution before it: 'times' must run in
		# this shell, the child's parent, and count only the child.
		times >"$stem.times"
		end=$(date +%s.%N)
		awk -v st="$st" -v end="$end" 'NR == 2 {
			split($1, u, /[ms]/); split($2, s, /[ms]/)
			printf "%s %s %.3f %.3f\n", st, end, u[1] * 60 + u[2], s[1] * 60 + s[2] }' \
			"$stem.times" >"$stem.end"
	) &
	SPAWNED=$!
	WRAPPERS+=("$SPAWNED:$stem")
}
# Stops what spawn started, by PID: the command first, then its wrapper.
stop_all() {
	local w pid stem
	for w in ${WRAPPERS[@]+"${WRAPPERS[@]}"}; do
		pid=${w%%:*}
		stem=${w#*:}
		if kill -0 "$pid" 2>/dev/null; then
			[ -s "$stem.pid" ] && kill -9 "$(cat "$stem.pid")" 2>/dev/null
			kill "$pid" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
	WRAPPERS=()
}
cleanup() {
	stop_all
	if [ -n "$clean" ]; then rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_gone PID SECONDS: 0 when the process ended in time, 1 otherwise.
wait_gone() {
	local pid=$1
	for _ in $(seq $(($2 * 20))); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
now() { date +%s.%N; }

# --- PKI (kept between runs: issuing 50 certificates takes a minute) ----------
pki=$W/pki
pki_ok() {
	local k
	[ -s "$pki/ca/ca.crt" ] && [ -s "$pki/coordinator.crt" ] || return 1
	for k in $(seq "$maxp"); do [ -s "$pki/p$k.crt" ] && [ -s "$pki/p$k.key" ] || return 1; done
	# certificates of an earlier run must still be valid for a while
	openssl x509 -in "$pki/p$maxp.crt" -noout -checkend 86400 >/dev/null 2>&1
}
if ! pki_ok; then
	echo "issuing a CA, the coordinator's and $maxp partners' certificates into $pki ..." >&2
	rm -rf "$pki"
	mkdir -p "$pki"
	"$CA_TOOL" init --dir "$pki/ca" --name "fedlead bench CA" >/dev/null
	"$CA_TOOL" issue --dir "$pki/ca" --name coordinator --role coordinator \
		--dns localhost --ip 127.0.0.1 --out "$pki/coordinator" >/dev/null
	for k in $(seq "$maxp"); do
		"$CA_TOOL" issue --dir "$pki/ca" --name "p$k" --role partner --out "$pki/p$k" >/dev/null
	done
fi

# --- data -----------------------------------------------------------------------
# The CoIL split of tests/e2e/lib/fed.bash (split_coil 3): row i goes to
# partner 1 + (i mod 10) * 3 / 10; pooled.csv has all of them in partner
# order. For part 4, slice k of 100 rows (rows 100(k-1)+1 .. 100k).
data=$W/data
mkdir -p "$data"
awk -v dir="$data" -v n=3 '
	NR == 1 { for (k = 1; k <= n; k++) print > (dir "/coil" k ".csv"); next }
	{ k = 1 + int(((NR - 2) % 10) * n / 10); print > (dir "/coil" k ".csv") }' "$COIL"
head -n 1 "$COIL" >"$data/pooled.csv"
for k in 1 2 3; do tail -n +2 "$data/coil$k.csv" >>"$data/pooled.csv"; done
awk -v dir="$data" -v n="$maxp" '
	NR == 1 { h = $0; next }
	{ k = 1 + int((NR - 2) / 100); if (k > n) exit
	  f = dir "/slice" k ".csv"; if ((NR - 2) % 100 == 0) print h > f; print > f }' "$COIL"

# --- one federation -------------------------------------------------------------
# fed_run NAME N DATA-STEM TIMEOUT [key = value]...: a coordinator for
# partners p1..pN (partner k reads DATA-STEMk.csv) with the given
# [federation] settings; waits at most TIMEOUT seconds. Results in
# $W/runs/NAME.
fed_run() {
	local name=$1 n=$2 stem=$3 timeout=$4 dir=$W/runs/$1 k port="" t0
	shift 4
	mkdir -p "$dir"
	# The allow-list goes in a file: a config line holds at most 198 characters.
	for k in $(seq "$n"); do echo "p$k"; done >"$dir/partners.txt"
	{
		echo "[federation]"
		echo "id = bench-$name"
		echo "schema = $SCHEMA"
		echo "partners_file = $dir/partners.txt"
		echo "min_partners = $n"
		for line in "$@"; do echo "$line"; done
		echo "[rounds]"
		echo "round_deadline = 60s"
		echo "[network]"
		echo "listen = 127.0.0.1:0"
		echo "http_listen = 127.0.0.1:0"
		echo "port_file = $dir/ports"
		echo "[tls]"
		echo "ca = $pki/ca/ca.crt"
		echo "cert = $pki/coordinator.crt"
		echo "key = $pki/coordinator.key"
		echo "[state]"
		echo "state_dir = $dir/state"
		echo "model_out = $dir/model.fdl"
		echo "audit_log = $dir/audit.jsonl"
	} >"$dir/coordinator.conf"
	t0=$(now)
	echo "$t0" >"$dir/start"
	spawn "$dir/coordinator" "$coord" --config "$dir/coordinator.conf"
	local cpid=$SPAWNED
	for k in $(seq 200); do
		[ -s "$dir/ports" ] && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.025
	done
	port=$(sed -n 's/^listen=//p' "$dir/ports" 2>/dev/null || true)
	if [ -z "$port" ]; then
		stop_all
		echo "failed: the coordinator did not start (see $dir/coordinator.log)" >"$dir/result"
		return
	fi
	for k in $(seq "$n"); do
		mkdir -p "$dir/p$k"
		spawn "$dir/p$k/node" "$node" join --schema "$SCHEMA" --data "$stem$k.csv" \
			--address "127.0.0.1:$port" --server-name localhost --ca "$pki/ca/ca.crt" \
			--cert "$pki/p$k.crt" --key "$pki/p$k.key" --model-out "$dir/p$k/model.fdl" \
			--audit-log "$dir/p$k/audit.jsonl" --backoff-initial 0.1 --backoff-max 0.5
	done
	if ! wait_gone "$cpid" "$timeout"; then
		stop_all
		echo "failed: no model within $timeout s (see $dir/coordinator.log)" >"$dir/result"
		return
	fi
	# The nodes end once they have saved the model; give them a moment.
	local w
	for w in "${WRAPPERS[@]}"; do wait_gone "${w%%:*}" 20 || true; done
	stop_all
	if [ "$(cut -d' ' -f1 "$dir/coordinator.end")" != 0 ] || [ ! -s "$dir/model.fdl" ]; then
		echo "failed: the coordinator exited with status $(cut -d' ' -f1 "$dir/coordinator.end")" \
			"(see $dir/coordinator.log)" >"$dir/result"
		return
	fi
	"$score" --model "$dir/model.fdl" --export json >"$dir/model.json"
	echo ok >"$dir/result"
}

# summary DIR N [POOLED-MODEL-JSON]: "key value" lines from a run's audit log,
# process times and model (see the README for what each one means).
summary() {
	"$PY" - "$@" <<'PYEOF'
import json, sys, statistics, datetime, math
d, n = sys.argv[1], int(sys.argv[2])
pooled = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None
def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
ev = [json.loads(l) for l in open(d + "/audit.jsonl")]
# Training rounds: statistics, then eval (newton, lbfgs) or fedavg; the
# delivery of the final model is logged as a round too and left out.
bounds = [i for i, e in enumerate(ev) if e["event"] == "round" and e["kind"] != "final"]
ev = ev[:bounds[-1] + 1]
rounds = [ev[i] for i in bounds]
first_task = min(ts(e["ts"]) for e in ev if e["event"] == "send" and e["type"].endswith("task")
                 or e["event"] == "send" and e["type"] == "local_train")
t_round = [ts(e["ts"]) for e in rounds]
# Round r lasts from the end of round r - 1 to its own end. Skip the
# statistics round and the first training round (it also standardises).
gaps = [b - a for a, b in zip(t_round, t_round[1:])][1:]
# Bytes each partner sent in the training rounds after the statistics round.
sent = sum(e["bytes"] for e in ev[bounds[0]:] if e["event"] == "recv")
start = float(open(d + "/start").read())
st, end, cu, cs = open(d + "/coordinator.end").read().split()
nodes_cpu = 0.0
for k in range(1, n + 1):
    f = open("%s/p%d/node.end" % (d, k)).read().split()
    nodes_cpu += float(f[2]) + float(f[3])
m = json.load(open(d + "/model.json"))["provenance"]
out = {
    "rounds": len(rounds),
    "train_rounds": max(len(rounds) - 1, 1),
    "iterations": m.get("iterations"),
    "wall": float(end) - start,
    "training": t_round[-1] - first_task,
    "per_round": statistics.median(gaps) if gaps else float("nan"),
    "coord_cpu": float(cu) + float(cs),
    "nodes_cpu": nodes_cpu,
    "sent_per_round": sent / n / max(len(rounds) - 1, 1),
    "log_loss": m["train"]["log_loss"],
}
# Where a training round's time goes (medians over the rounds of gaps):
# gap = end of the last round to the next task; work = task to the last
# answer (the update, or the key advertisement); then the secure steps.
phase = {k: [] for k in ("gap", "work", "keys", "masked", "unmask", "finish")}
for a, b in list(zip(bounds, bounds[1:]))[1:]:
    seg = ev[a:b + 1]
    def first(kind, typ):
        t = [ts(e["ts"]) for e in seg if e["event"] == kind and e.get("type") == typ]
        return min(t) if t else None
    def last(kind, typ):
        t = [ts(e["ts"]) for e in seg if e["event"] == kind and e.get("type") == typ]
        return max(t) if t else None
    t0 = ts(seg[0]["ts"])
    t1 = ts(seg[-1]["ts"])
    task = min(t for t in (first("send", "eval_task"), first("send", "local_train")) if t)
    phase["gap"].append(task - t0)
    adv = last("recv", "key_advert")
    if adv is None:
        upd = last("recv", "update")
        phase["work"].append(upd - task)
        phase["finish"].append(t1 - upd)
        continue
    ss, mu, rep = last("recv", "share_set"), last("recv", "masked_update"), last("recv", "unmask_reply")
    phase["work"].append(adv - task)
    phase["keys"].append(ss - adv)
    phase["masked"].append(mu - ss)
    phase["unmask"].append(rep - mu)
    phase["finish"].append(t1 - rep)
for k, v in phase.items():
    out["ph_" + k] = statistics.median(v) if v else 0.0
out["coord_cpu_round"] = out["coord_cpu"] / len(rounds)
out["node_cpu_round"] = nodes_cpu / n / len(rounds)
if pooled:
    p = pooled["provenance"]["train"]["log_loss"]
    hist = json.load(open(d + "/model.json"))["provenance"]["history"]
    within = [h["round"] for h in hist if h["train_loss"] is not None
              and abs(h["train_loss"] - p) <= 0.01 * p]
    out["to1pct"] = within[0] if within else "-"
    wf = [w["weight"] for w in json.load(open(d + "/model.json"))["weights"]]
    wp = [w["weight"] for w in pooled["weights"]]
    out["wdiff"] = math.sqrt(sum((a - b) ** 2 for a, b in zip(wf, wp))) / \
        math.sqrt(sum(b * b for b in wp))
    out["loss_diff"] = (m["train"]["log_loss"] - p) / p
for k, v in out.items():
    print(k, v)
PYEOF
}
key() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# --- header -------------------------------------------------------------------
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
t_all=$(now)
echo "fedlead federation and secure-aggregation benchmarks, $(date -u '+%Y-%m-%d %H:%M') UTC"
echo "machine: $cpu, $ncpu cores, $mem RAM, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "every process (coordinator, all partners, the benchmark) shares these $ncpu cores;" \
	"OPENBLAS_NUM_THREADS=1"
echo

# --- parts 1 and 2: the C benchmark ---------------------------------------------
"$secagg" --pki "$pki" --partners "$partners" --dims "$dims" --budget "$budget" \
	2>"$logs/secagg.txt" || { cat "$logs/secagg.txt" >&2; die "bench_secagg failed"; }
echo

# The same at the largest d with glibc's default allocator, for scale.
big=$(tr ',' '\n' <<<"$dims" | sort -n | tail -n 1)
"$secagg" --pki "$pki" --partners 10 --dims "$big" --budget "$budget" --no-mask --fresh-pages \
	--max-reps 2 --min-time 0 >"$logs/secagg-fresh.txt" 2>&1 || { cat "$logs/secagg-fresh.txt" >&2; die "bench_secagg failed"; }
echo "   the same, 10 partners and d = $big, with glibc's default allocator (large buffers are" \
	"fresh pages every round):"
awk '/^ +partners +d reps/ { p = 1; next } p && NF == 0 { exit } p' "$logs/secagg-fresh.txt"
echo

# --- part 3: convergence on the CoIL split ----------------------------------------
# Pooled local training, the reference: best of $reps whole processes.
pooled_time() { # pooled_time SOLVER: sets PW, PC (best wall, CPU seconds)
	local tf=$logs/time.txt TIMEFORMAT='%3R %3U %3S'
	PW=
	PC=
	for _ in $(seq "$reps"); do
		rm -f "$data/pooled-$1.fdl"
		{ time "$node" train --schema "$SCHEMA" --data "$data/pooled.csv" --l2 1 --solver "$1" \
			--out "$data/pooled-$1.fdl" >"$logs/pooled-$1.txt" 2>&1 ||
			die "pooled training failed (see $logs/pooled-$1.txt)"; } 2>"$tf"
		PW=$(awk -v b="$PW" '{ print (b == "" || $1 < b) ? $1 : b }' "$tf")
		PC=$(awk -v b="$PC" '{ c = $2 + $3; print (b == "" || c < b) ? c : b }' "$tf")
	done
	"$score" --model "$data/pooled-$1.fdl" --export json >"$data/pooled-$1.json"
}
pooled_time newton
pw_newton=$PW pc_newton=$PC
pooled_time lbfgs
pw_lbfgs=$PW pc_lbfgs=$PC
pooled_json=$data/pooled-newton.json
pooled_ll=$("$PY" -c 'import json,sys; print("%.10f" % json.load(open(sys.argv[1]))["provenance"]["train"]["log_loss"])' "$pooled_json")
pooled_it() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["provenance"]["iterations"])' "$1"; }

common="l2 = 1|validation_split = 0|seed = 7"
fedavg="rounds = 30|local_epochs = 10|local_batch = 128|local_lr = 0.1"
for algo in newton lbfgs fedavg; do
	for sec in on off; do
		settings="algorithm = $algo|$common|secure_aggregation = $sec"
		[ "$algo" = fedavg ] && settings="$settings|$fedavg"
		# L-BFGS needs about 1,100 iterations here (as many as locally).
		[ "$algo" = lbfgs ] && settings="$settings|max_iterations = 3000"
		IFS='|' read -ra kv <<<"$settings"
		fed_run "coil-$algo-$sec" 3 "$data/coil" 240 "${kv[@]}"
	done
done

echo "3. Federated training on CoIL 2000 (5822 leads, 321 weights): 3 partners split as" \
	"tests/e2e/lib/fed.bash split_coil, l2 = 1,"
echo "   whole processes on 127.0.0.1 (mutual TLS 1.3); reference: pooled local training," \
	"best of $reps, in the same run"
printf '   %-40s %6s %5s %6s %8s %6s %8s %9s %7s %9s %9s\n' "" rounds iter "to 1%" wall ratio \
	training "s/round" "CPU" log-loss "w vs pool"
printf '   %-40s %6s %5s %6s %6.2f s %6.2f %8s %9s %5.2f s %9.6f %9s\n' \
	"pooled fedlead-node train --solver newton" - "$(pooled_it "$data/pooled-newton.json")" - \
	"$pw_newton" 1 - - "$pc_newton" "$pooled_ll" "(ref)"
printf '   %-40s %6s %5s %6s %6.2f s %6.2f %8s %9s %5.2f s %9s %9s\n' \
	"pooled fedlead-node train --solver lbfgs" - "$(pooled_it "$data/pooled-lbfgs.json")" - \
	"$pw_lbfgs" "$(calc "$pw_lbfgs / $pw_newton")" - - "$pc_lbfgs" \
	"$("$PY" -c 'import json,sys; print("%.6f" % json.load(open(sys.argv[1]))["provenance"]["train"]["log_loss"])' "$data/pooled-lbfgs.json")" \
	"-"
for algo in newton lbfgs fedavg; do
	for sec in on off; do
		dir=$W/runs/coil-$algo-$sec
		label="federated $algo, secure aggregation $sec"
		if [ "$(cat "$dir/result")" != ok ]; then
			printf '   %-40s %s\n' "$label" "$(cat "$dir/result")"
			continue
		fi
		summary "$dir" 3 "$pooled_json" >"$dir/summary"
		s() { key "$dir/summary" "$1"; }
		printf '   %-40s %6s %5s %6s %6.2f s %6.2f %6.2f s %7.0f ms %5.2f s %9.6f %9.1e\n' "$label" \
			"$(s rounds)" "$(s iterations)" "$(s to1pct)" "$(s wall)" \
			"$(calc "$(s wall) / $pw_newton")" "$(s training)" "$(calc "1000 * $(s per_round)")" \
			"$(calc "$(s coord_cpu) + $(s nodes_cpu)")" "$(s log_loss)" "$(s wdiff)"
	done
done
echo "   rounds: all rounds incl. the statistics round; to 1%: first round whose training" \
	"log-loss is within 1 % of the pooled optimum's;"
echo "   wall: coordinator start to exit (joins, rounds, model delivery); ratio: wall /" \
	"pooled newton wall; training: first task to last round;"
echo "   s/round: median round (statistics and first training round excluded); CPU: coordinator" \
	"+ all partners, whole processes; w vs pool: ||w - w_pooled|| / ||w_pooled||"
echo

# --- part 4: per-round overhead against the number of partners ------------------------
for algo in lbfgs newton; do
	for p in $(tr ',' ' ' <<<"$partners"); do
		for sec in off on; do
			# A fixed number of rounds: the figure wanted is time per round.
			fed_run "slice-$algo-$p-$sec" "$p" "$data/slice" 240 "algorithm = $algo" \
				"l2 = 1" "validation_split = 0" "max_iterations = 6" \
				"secure_aggregation = $sec"
		done
	done
done
echo "4. Per-round time on loopback against the number of partners: partner k holds CoIL rows" \
	"100(k-1)+1..100k; max_iterations = 6;"
echo "   every process on this machine's $ncpu cores (50 partners = 51 processes on $ncpu cores)"
printf '   %-6s %3s %3s | %6s %8s %6s | %9s %9s | %10s | %s\n' "" "" "" "" "s/round" "" "coord CPU" \
	"node CPU" "sent per" "where a round goes (medians, ms):"
printf '   %-6s %3s %3s | %6s %8s %6s | %9s %9s | %10s | %5s %6s %6s %6s %6s %6s\n' algo P secure \
	rounds median on/off "per round" "per round" "partner" gap work keys masked unmask finish
for algo in lbfgs newton; do
	for p in $(tr ',' ' ' <<<"$partners"); do
		off_round=
		for sec in off on; do
			dir=$W/runs/slice-$algo-$p-$sec
			if [ "$(cat "$dir/result")" != ok ]; then
				printf '   %-6s %3s %3s | %s\n' "$algo" "$p" "$sec" "$(cat "$dir/result")"
				continue
			fi
			summary "$dir" "$p" >"$dir/summary"
			s() { key "$dir/summary" "$1"; }
			ms() { calc "1000 * $(s "$1")"; }
			pr=$(s per_round)
			ratio=-
			if [ "$sec" = off ]; then off_round=$pr; elif [ -n "$off_round" ]; then
				ratio=$(printf '%.2f' "$(calc "$pr / $off_round")")
			fi
			if [ "$sec" = off ]; then
				steps=$(printf '%5.0f %6.0f %6s %6s %6s %6.0f' "$(ms ph_gap)" "$(ms ph_work)" - - - \
					"$(ms ph_finish)")
			else
				steps=$(printf '%5.0f %6.0f %6.0f %6.0f %6.0f %6.0f' "$(ms ph_gap)" "$(ms ph_work)" \
					"$(ms ph_keys)" "$(ms ph_masked)" "$(ms ph_unmask)" "$(ms ph_finish)")
			fi
			printf '   %-6s %3s %3s | %6s %5.0f ms %6s | %6.1f ms %6.1f ms | %7.1f kB | %s\n' "$algo" \
				"$p" "$sec" "$(s rounds)" "$(ms per_round)" "$ratio" "$(ms coord_cpu_round)" \
				"$(ms node_cpu_round)" "$(calc "$(s sent_per_round) / 1000")" "$steps"
		done
	done
done
echo "   s/round: median over the training rounds after the first; on/off: secure / plain;" \
	"CPU per round: whole-process CPU / rounds"
echo "   (start-up included); node CPU: mean per partner; sent: bytes each partner sends per" \
	"training round (audit log);"
echo "   gap: last round's end to the next task (solver step, checkpoint); work: task to the last" \
	"partner's update or key advertisement;"
echo "   keys, masked, unmask: to the last partner's share set, masked update, unmask reply;" \
	"finish: to the round's end (sum, unmasking)"
echo
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); total $(calc "int($(now) - $t_all)") s;" \
	"logs and runs in $W"
