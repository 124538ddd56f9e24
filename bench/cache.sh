#!/usr/bin/env bash
# Training on data larger than the memory budget (bench/README.md, "Data
# larger than memory"): a big CSV is converted once into a binary cache
# (fedlead-node cache), gradient passes over the cache are timed against a
# plain sequential read() of the same file in the same process, and a model
# is trained to convergence from the cache with the address space of every
# process limited (ulimit -v) far below the cache's size.
# Usage: bench/cache.sh [--rows N] [--cols D] [--workdir DIR] [--reps N]
#                       [--budget-mb M] [--keep] [--no-build]
#   --rows N        rows of the generated CSV (default 20000000)
#   --cols D        numeric features (default 64; the cache holds D + 1
#                   doubles per row, 20,000,000 x 65 x 8 bytes = 10.4 GB)
#   --workdir DIR   data and logs (default /tmp/fedlead-bench-cache)
#   --reps N        repetitions of the pass timings, best kept (default 2)
#   --budget-mb M   ulimit -v for conversion and training, in MiB (default 256)
#   --keep          keep the generated CSV and cache (default: deleted)
#   --no-build      use the programs already built in build-bench-cache/
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench-cache
workdir=/tmp/fedlead-bench-cache
rows=20000000
cols=64
reps=2
budget_mb=256
keep=
build_it=1
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift 2 ;;
	--cols) cols=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--budget-mb) budget_mb=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--no-build) build_it=; shift ;;
	-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "cache.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

# Single-core figures, as in run.sh.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
die() { echo "cache.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"

node=$build/fedlead-node
gen=$build/bench/bench_gen
pass=$build/bench/bench_cachepass
if [ -n "$build_it" ]; then
	echo "building (Release) into $build ..." >&2
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_BENCH=ON -DBUILD_TESTING=OFF \
		-DFL_WERROR=OFF -DFL_ENABLE_ASAN=OFF >/dev/null
	cmake --build "$build" -j"$(getconf _NPROCESSORS_ONLN)" --target fedlead-node \
		bench_gen fl_core >/dev/null || die "the build failed"
	# bench_cachepass has no CMake target until bench/CMakeLists.txt names
	# it; until then it is compiled here against the same libraries.
	if ! cmake --build "$build" --target bench_cachepass >/dev/null 2>&1; then
		libs=()
		for m in cache logreg encode schema csv linalg error; do
			libs+=("$build/libfl_$m.a")
		done
		cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$src/include" \
			"$src/bench/cachepass.c" "${libs[@]}" -lopenblas -ljansson -lcrypto \
			-lcsv -lm -o "$pass" || die "compiling bench/cachepass.c failed"
	fi
fi
for p in "$node" "$gen" "$pass"; do
	[ -x "$p" ] || die "$p is missing (run without --no-build)"
done

mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
logs=$workdir/logs
mkdir -p "$logs"
csv=$workdir/big.csv
flc=$workdir/big.flc
schema=$workdir/schema.json
model=$workdir/model.fdl

# --- helpers ----------------------------------------------------------------
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
fmt() { awk -v v="$2" "BEGIN { printf \"$1\", v }" </dev/null; }
key() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }
# tv LOG FIELD: a figure from /usr/bin/time -v's report.
tv() {
	case $2 in
	wall) awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0
		for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$1" ;;
	cpu) awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { print u + s }' "$1" ;;
	rss) awk -F': ' '/Maximum resident set size/ { print $2 }' "$1" ;;
	esac
}
budget_kb=$((budget_mb * 1024))
# budgeted CMD...: runs CMD under /usr/bin/time -v with the address space
# limited to the budget; its stdout and stderr go to $log, time's to $log.time.
budgeted() {
	(ulimit -v "$budget_kb" && exec /usr/bin/time -v -o "$log.time" "$@") >"$log" 2>&1
}
gb() { fmt %.2f "$(calc "$1 / 1e9")"; }

# --- room on disk -------------------------------------------------------------
# About 5.4 bytes of CSV per value with bench/gen.c's formats; the cache
# holds cols + 1 doubles plus the label per row.
csv_est=$(calc "$rows * $cols * 5.5")
flc_est=$(calc "$rows * ($cols + 2) * 8")
free_bytes=$(($(df --output=avail -k "$workdir" | tail -1) * 1024))
if [ "$(calc "($csv_est + $flc_est) * 1.1 > $free_bytes ? 1 : 0")" = 1 ]; then
	die "$rows x $cols needs about $(gb "$csv_est") GB of CSV and $(gb "$flc_est") GB of cache in $workdir, only $(gb "$free_bytes") GB are free (try --cols 8)"
fi
if [ "$(calc "$flc_est / 1048576 < 4 * $budget_mb ? 1 : 0")" = 1 ]; then
	echo "cache.sh: warning: the cache (~$(gb "$flc_est") GB) is not much larger than the $budget_mb MiB budget" >&2
fi

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
ncpu=$(getconf _NPROCESSORS_ONLN)
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
fs=$(df --output=source,fstype "$workdir" | tail -1 | awk '{ print $1 " (" $2 ")" }')
echo "fedlead: data larger than memory, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $cpu, $ncpu cores, $mem RAM, $workdir on $fs, kernel $(uname -r)"
echo "load average at start $(cut -d' ' -f1-3 /proc/loadavg); OPENBLAS_NUM_THREADS=1"
echo

# --- 1. the CSV -------------------------------------------------------------
echo "generating $rows rows x $cols features ..." >&2
log=$logs/gen.txt
/usr/bin/time -v -o "$log.time" "$gen" --rows "$rows" --cols "$cols" --seed 42 --csv "$csv" \
	--svm /dev/null --schema "$schema" >"$log" 2>&1 || die "bench_gen failed ($log)"
csv_bytes=$(stat -c %s "$csv")
echo "1. CSV: $rows rows x $cols numeric features, $(gb "$csv_bytes") GB (bench/gen.c, seed 42; generated in $(tv "$log.time" wall) s)"

# --- 2. conversion ------------------------------------------------------------
echo "converting ..." >&2
log=$logs/convert.txt
budgeted "$node" cache --schema "$schema" --data "$csv" --out "$flc" ||
	die "conversion failed ($log)"
flc_bytes=$(stat -c %s "$flc")
c_wall=$(tv "$log.time" wall) c_cpu=$(tv "$log.time" cpu) c_rss=$(tv "$log.time" rss)
echo "2. fedlead-node cache (ulimit -v $budget_mb MiB): cache file $(gb "$flc_bytes") GB" \
	"($(fmt %.1f "$(calc "$flc_bytes / $csv_bytes")") x the CSV)"
printf '   %.1f s wall, %.1f s CPU, %.1f MB/s of CSV by wall clock; peak RSS %.1f MB\n' \
	"$c_wall" "$c_cpu" "$(calc "$csv_bytes / $c_wall / 1e6")" "$(calc "$c_rss / 1024")"
echo

# --- 3. gradient passes vs sequential reads ---------------------------------
echo "timing passes ..." >&2
p_read=$logs/pass-read.txt p_mmap=$logs/pass-mmap.txt
"$pass" --schema "$schema" --cache "$flc" --reps "$reps" --cold --hessian >"$p_read" \
	2>"$p_read.err" || die "bench_cachepass failed ($p_read.err)"
"$pass" --schema "$schema" --cache "$flc" --reps "$reps" --access mmap >"$p_mmap" \
	2>"$p_mmap.err" || die "bench_cachepass --access mmap failed ($p_mmap.err)"
row3() { # LABEL FILE KEY
	local w c r
	w=$(key "$2" "${3}_s") c=$(key "$2" "${3}_cpu_s") r=$(key "$2" "${3}_rss_kb")
	printf '   %-54s %7.2f s %6.2f %7.2f s %6.2f %8.2f %7.1f\n' "$1" "$w" \
		"$(calc "$w / $(key "$p_read" read_s)")" "$c" \
		"$(calc "$c / $(key "$p_read" read_cpu_s)")" "$(calc "$flc_bytes / $w / 1e9")" \
		"$(calc "${r:-0} / 1024")"
}
row3c() { # LABEL FILE KEY: the cold-cache figures
	local w c
	w=$(key "$2" "${3}_cold_s") c=$(key "$2" "${3}_cold_cpu_s")
	printf '   %-54s %7.2f s %6.2f %7.2f s %6.2f %8.2f\n' "$1" "$w" \
		"$(calc "$w / $(key "$p_read" read_cold_s)")" "$c" \
		"$(calc "$c / $(key "$p_read" read_cold_cpu_s)")" "$(calc "$flc_bytes / $w / 1e9")"
}
resident=$(fincore --bytes --noheadings --output RES "$flc" 2>/dev/null || echo)
echo "3. One pass over the $(gb "$flc_bytes") GB cache, best of $reps, interleaved; ratios against read() of the file"
[ -z "$resident" ] ||
	echo "   (before the passes $(fmt %.0f "$(calc "100 * $resident / $flc_bytes")") % of the cache file was in the page cache)"
printf '   %-54s %9s %6s %9s %6s %8s %7s\n' "" "wall" "ratio" "CPU" "ratio" "GB/s" "RSS MB"
echo "   file in the page cache:"
row3 "read() into a 1 MiB buffer (reference)" "$p_read" read
row3 "fl_cache_logistic, gradient (read, 512 KiB window)" "$p_read" grad
row3 "fl_cache_logistic, gradient + Hessian (read)" "$p_read" hess
row3 "fl_cache_logistic, gradient (mmap, 32 MiB window)" "$p_mmap" grad
row3 "mmap of 32 MiB windows, summing the doubles" "$p_read" mmap_sum
echo "   file evicted from the page cache before each pass (read from disk):"
row3c "read() into a 1 MiB buffer (reference)" "$p_read" read
row3c "fl_cache_logistic, gradient (read)" "$p_read" grad
row3c "fl_cache_logistic, gradient + Hessian (read)" "$p_read" hess
row3c "mmap of 32 MiB windows, summing the doubles" "$p_read" mmap_sum
echo "   (GB/s = cache file bytes / wall time; RSS = peak resident set of that pass alone)"
echo

# --- 4. training under the budget -------------------------------------------
echo "training ..." >&2
log=$logs/train-newton.txt
budgeted "$node" train --schema "$schema" --cache "$flc" --out "$model" --l2 1 \
	--solver newton || die "training failed ($log)"
t_wall=$(tv "$log.time" wall) t_cpu=$(tv "$log.time" cpu) t_rss=$(tv "$log.time" rss)
passes=$(grep -c ': pass [0-9]*, iteration' "$log" || true)
echo "4. fedlead-node train --cache --solver newton --l2 1, ulimit -v $budget_mb MiB" \
	"(the cache is $(fmt %.1f "$(calc "$flc_bytes / ($budget_mb * 1048576)")") x the budget)"
printf '   %.1f s wall, %.1f s CPU, peak RSS %.1f MB; %s passes with the Hessian + 1 scoring pass\n' \
	"$t_wall" "$t_cpu" "$(calc "$t_rss / 1024")" "$passes"
grep -E '^(solver|training)' "$log" | sed 's/^/   /'
log=$logs/train-lbfgs.txt
budgeted "$node" train --schema "$schema" --cache "$flc" --out "$model.lbfgs" --l2 1 \
	--solver lbfgs || die "training (lbfgs) failed ($log)"
l_wall=$(tv "$log.time" wall) l_cpu=$(tv "$log.time" cpu) l_rss=$(tv "$log.time" rss)
passes=$(grep -c ': pass [0-9]*, iteration' "$log" || true)
printf '   lbfgs: %.1f s wall, %.1f s CPU, peak RSS %.1f MB; %s gradient passes + 1 scoring pass\n' \
	"$l_wall" "$l_cpu" "$(calc "$l_rss / 1024")" "$passes"
grep -E '^solver' "$log" | sed 's/^/   /'
# The in-memory trainer under the same budget, for contrast: it holds the
# matrix, so it must run out of address space. (When the rows do fit but
# leave too little room, OpenBLAS retries its buffer allocation forever
# instead of failing: hence the timeout.)
log=$logs/train-memory.txt
if budgeted timeout 600 "$node" train --schema "$schema" --data "$csv" --out "$model.mem" \
	--l2 1 --quiet; then
	echo "   in-memory fedlead-node train --data under the same budget succeeded" \
		"(the rows fit in it)"
else
	why=$(grep -v -e '^\s' -e '^Command' "$log" | tail -1)
	echo "   in-memory fedlead-node train --data under the same budget fails after" \
		"$(tv "$log.time" wall) s: ${why:-killed after 600 s}"
fi
echo
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); logs in $logs"

if [ -z "$keep" ]; then
	rm -f "$csv" "$flc" "$model.mem"
fi
