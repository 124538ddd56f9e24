#!/usr/bin/env bash
# The scoring service against the CLI (bench/README.md, "Scoring service"):
# throughput of POST /v1/score with batches of 1,000 leads against
# fedlead-score's own per-lead rate on the same leads, and the latency of
# single-lead requests at a stated concurrency, both from wrk.
# Usage: bench/serve.sh [--bin DIR] [--workdir DIR] [--leads N] [--reps N]
#                       [--duration S] [--connections C]
#   --bin DIR         the built programs (default: build-bench/, built by
#                     bench/run.sh, or build/)
#   --workdir DIR     data and logs (default /tmp/fedlead-bench-serve)
#   --leads N         leads of the CLI's file (default 200000: the bundled
#                     bank-marketing leads repeated)
#   --reps N          repetitions, best kept (default 3)
#   --duration S      seconds of each wrk run (default 10)
#   --connections C   concurrency of the single-lead run (default 8)
# Needs wrk (Debian: apt-get install wrk) and python3; installs nothing.
set -euo pipefail
export LC_ALL=C OPENBLAS_NUM_THREADS=1
src=$(cd "$(dirname "$0")/.." && pwd)
bin=
workdir=/tmp/fedlead-bench-serve
leads=200000
reps=3
duration=10
conns=8
while [ $# -gt 0 ]; do
	case $1 in
	--bin) bin=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--leads) leads=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "serve.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
for b in "$bin" "$src/build-bench" "$src/build"; do
	[ -n "$b" ] && [ -x "$b/fedlead-score" ] && { bin=$b; break; }
done
[ -x "$bin/fedlead-score" ] || { echo "serve.sh: no fedlead-score built (--bin DIR)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "serve.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
PY=$(command -v python3)
mkdir -p "$workdir"
cd "$workdir"
data=$src/tests/data/bank-marketing

# ---- data and model ----
"$PY" - "$data/bank.csv" "$leads" <<'EOF'
import csv, json, sys
src, n = sys.argv[1], int(sys.argv[2])
with open(src, newline="") as f:
    rows = list(csv.reader(f, delimiter=";"))
head, body = rows[0], rows[1:]
with open("leads.csv", "w") as f:
    f.write(";".join(head) + "\n")
    for i in range(n):
        f.write(";".join(body[i % len(body)]) + "\n")
objs = [dict(zip(head, r)) for r in body[:1000]]
open("batch.json", "w").write(json.dumps(objs))
with open("batch.csv", "w") as f:
    f.write(";".join(head) + "\n")
    for r in body[:1000]:
        f.write(";".join(r) + "\n")
open("single.json", "w").write(json.dumps(objs[0]))
for name, ext, ctype in (("batch", "json", "application/json"), ("single", "json", "application/json"),
                         ("batchcsv", "csv", "text/csv")):
    open(name + ".lua", "w").write(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "%s"\n'
        'local f = io.open("%s.%s", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
        % (ctype, name.replace("csv", ""), ext))
EOF
"$bin/fedlead-node" train --schema "$data/bank.schema.json" --data "$data/bank.csv" --out m.fdl --quiet

# ---- the CLI: per-lead rate over the file ----
TIMEFORMAT='%R %U %S'
# cli_best [ARG...]: the best wall and CPU seconds of --reps runs of
# fedlead-score --out with ARG... added.
cli_best() {
	local best= best_cpu= t u sy c
	for _ in $(seq "$reps"); do
		read -r t u sy < <({ time "$bin/fedlead-score" --model m.fdl --data leads.csv \
			--out scored.csv "$@" --quiet >/dev/null 2>&1; } 2>&1)
		c=$(echo "$u + $sy" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
		if [ -z "$best_cpu" ] || [ "$(echo "$c < $best_cpu" | bc -l)" = 1 ]; then best_cpu=$c; fi
	done
	echo "$best $best_cpu"
}
read -r best_cli best_cli_cpu < <(cli_best)
cli_rate=$(echo "$leads / $best_cli" | bc -l)
cli_cpu_rate=$(echo "$leads / $best_cli_cpu" | bc -l)
# The CLI on one thread: the service answers a request on one event loop.
read -r best_cli1 _ < <(cli_best --threads 1)
cli1_rate=$(echo "$leads / $best_cli1" | bc -l)

# ---- the service ----
"$bin/fedlead-score" serve --model m.fdl --allow-unsigned yes --listen 127.0.0.1:0 \
	--port-file port --max-request 64M >serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 200); do grep -q ' listening on ' serve.log && break; sleep 0.05; done
port=$(sed -n 's/^http=//p' port)
url=http://127.0.0.1:$port/v1/score
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick=$(getconf CLK_TCK)

# batch_run NAME: best wall and service-CPU rates (leads/s) of wrk runs
# posting NAME.lua's body of 1,000 leads over two connections.
batch_run() {
	local best=0 best_cpu=0 c0 c1 rps reqs rate cpu_rate
	for _ in $(seq "$reps"); do
		c0=$(cpu)
		wrk -t1 -c2 -d"${duration}s" -s "$1.lua" "$url" >"wrk-$1.out"
		c1=$(cpu)
		grep -q 'Non-2xx' "wrk-$1.out" && { echo "serve.sh: non-2xx answers:" >&2; cat "wrk-$1.out" >&2; exit 1; }
		rps=$(sed -n 's/^Requests\/sec: *//p' "wrk-$1.out")
		reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "wrk-$1.out")
		rate=$(echo "$rps * 1000" | bc -l)
		cpu_rate=$(echo "$reqs * 1000 / (($c1 - $c0) / $tick)" | bc -l)
		if [ "$(echo "$rate > $best" | bc -l)" = 1 ]; then best=$rate; fi
		if [ "$(echo "$cpu_rate > $best_cpu" | bc -l)" = 1 ]; then best_cpu=$cpu_rate; fi
	done
	echo "$best $best_cpu"
}
read -r best_batch best_batch_cpu < <(batch_run batch)
read -r best_csv best_csv_cpu < <(batch_run batchcsv)

best_p99=
for _ in $(seq "$reps"); do
	wrk -t2 -c"$conns" -d"${duration}s" --latency -s single.lua "$url" >wrk-single.out
	grep -q 'Non-2xx' wrk-single.out && { echo "serve.sh: non-2xx answers:" >&2; cat wrk-single.out >&2; exit 1; }
	p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) sub(/ms/, "", v); else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; print v}' wrk-single.out)
	p50=$(awk '$1 == "50%" {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) sub(/ms/, "", v); else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; print v}' wrk-single.out)
	srps=$(sed -n 's/^Requests\/sec: *//p' wrk-single.out)
	if [ -z "$best_p99" ] || [ "$(echo "$p99 < $best_p99" | bc -l)" = 1 ]; then
		best_p99=$p99 best_p50=$p50 best_srps=$srps
	fi
done

printf 'load: %s\n' "$(uptime)"
printf 'CLI fedlead-score --out, %d leads:  %9.0f leads/s wall   %9.0f leads/CPU-s (best of %d)\n' \
	"$leads" "$cli_rate" "$cli_cpu_rate" "$reps"
printf 'serve, batches of 1,000 (wrk -c2):   %9.0f leads/s wall   %9.0f leads/CPU-s of the service\n' \
	"$best_batch" "$best_batch_cpu"
printf 'CLI --threads 1:                      %9.0f leads/s wall\n' "$cli1_rate"
printf 'serve / CLI:                          %9.2fx wall        %9.2fx CPU     %5.2fx wall of --threads 1\n' \
	"$(echo "$best_batch / $cli_rate" | bc -l)" "$(echo "$best_batch_cpu / $cli_cpu_rate" | bc -l)" \
	"$(echo "$best_batch / $cli1_rate" | bc -l)"
printf 'serve, CSV batches of 1,000 (wrk -c2): %7.0f leads/s wall   %9.0f leads/CPU-s of the service\n' \
	"$best_csv" "$best_csv_cpu"
printf 'serve (CSV) / CLI:                    %9.2fx wall        %9.2fx CPU     %5.2fx wall of --threads 1\n' \
	"$(echo "$best_csv / $cli_rate" | bc -l)" "$(echo "$best_csv_cpu / $cli_cpu_rate" | bc -l)" \
	"$(echo "$best_csv / $cli1_rate" | bc -l)"
printf 'serve, single leads (wrk -t2 -c%d):   p50 %.2f ms, p99 %.2f ms, %.0f requests/s\n' \
	"$conns" "$best_p50" "$best_p99" "$best_srps"
