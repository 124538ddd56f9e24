#!/usr/bin/env bash
# fedlead benchmarks, each figure a ratio against a reference timed in the
# same run on the same machine (see bench/README.md):
#   1. one gradient pass over a 1,000,000 x 64 matrix vs memcpy of it
#   2. CSV to converged model: fedlead-node train vs liblinear-train -s 0
#   3. scoring throughput of fedlead-score vs parse-only and liblinear-predict
# Usage: bench/run.sh [--workdir DIR] [--rows N] [--reps N] [--grad-reps N]
#                     [--grad-rows N] [--sweep] [--threads2] [--clean] [--no-build]
#   --workdir DIR   data and logs (default /tmp/fedlead-bench; ~1 GB)
#   --rows N        rows of the generated CSV (default 1000000)
#   --reps N        repetitions of the whole-process timings (default 2)
#   --grad-reps N   repetitions of the in-memory timings (default 7)
#   --grad-rows N   rows of the gradient benchmark's matrix (default 1000000)
#   --sweep         also time other block sizes and prefetching (part 1)
#   --threads2      also run part 1 with OPENBLAS_NUM_THREADS=2
#   --clean         delete the generated data when done
#   --no-build      use the programs already built in build-bench/
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
workdir=/tmp/fedlead-bench
rows=1000000
reps=2
grad_reps=7
grad_rows=1000000
sweep=
threads2=
clean=
build_it=1
while [ $# -gt 0 ]; do
	case $1 in
	--workdir) workdir=$2; shift 2 ;;
	--workdir=*) workdir=${1#*=}; shift ;;
	--rows) rows=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--grad-reps) grad_reps=$2; shift 2 ;;
	--grad-rows) grad_rows=$2; shift 2 ;;
	--sweep) sweep=--sweep; shift ;;
	--threads2) threads2=1; shift ;;
	--clean) clean=1; shift ;;
	--no-build) build_it=; shift ;;
	-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

# Single-core figures: one BLAS thread for fedlead and for liblinear (whose
# Debian build also calls BLAS through libblas.so.3, i.e. OpenBLAS).
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

die() { echo "run.sh: $*" >&2; exit 1; }

bin=$build/bench
# nproc would answer 1: it obeys OMP_NUM_THREADS, set above.
ncpu=$(getconf _NPROCESSORS_ONLN)
if [ -n "$build_it" ]; then
	bash "$src/deploy/install-deps.sh" bench
	grep -q 'add_subdirectory(bench)' "$src/CMakeLists.txt" ||
		die "the top-level CMakeLists.txt does not add bench/ (see bench/README.md)"
	# No -Werror: a benchmark should not fail on a new compiler warning.
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_BENCH=ON -DBUILD_TESTING=OFF \
		-DFL_WERROR=OFF -DFL_ENABLE_ASAN=OFF >/dev/null
	cmake --build "$build" -j"$ncpu" --target fedlead-node fedlead-score bench_gen \
		bench_gradient bench_logloss bench_csvparse >/dev/null ||
		die "the build failed"
fi
for p in "$build/fedlead-node" "$build/fedlead-score" "$bin/bench_gen" "$bin/bench_gradient" \
	"$bin/bench_logloss" "$bin/bench_csvparse"; do
	[ -x "$p" ] || die "$p is missing (run without --no-build)"
done
command -v liblinear-train >/dev/null || die "liblinear-train is missing (apt-get install liblinear-tools)"
node=$build/fedlead-node
score=$build/fedlead-score

mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
logs=$workdir/logs
mkdir -p "$logs"

# --- helpers ----------------------------------------------------------------
# awk does the arithmetic: bash has no floating point.
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
fmt() { awk -v v="$2" "BEGIN { printf \"$1\", v }" </dev/null; }
min() { if [ -z "$1" ]; then echo "$2"; else calc "($1 < $2) ? $1 : $2"; fi; }
# timed LOG CMD...: runs CMD with its output in LOG; T = wall seconds, C =
# CPU seconds (user + system). The programs timed are single-threaded here,
# so C leaves out the time they waited for a core on a busy machine.
timed() {
	local log=$1 tf=$logs/time.txt TIMEFORMAT='%3R %3U %3S'
	shift
	{ time "$@" >"$log" 2>&1 || die "failed ($log): $*"; } 2>"$tf"
	T=$(awk '{ print $1 }' "$tf")
	C=$(awk '{ print $2 + $3 }' "$tf")
}
# key FILE NAME: the value of a "NAME value" line.
key() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }
verdict() { if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo "MET"; else echo "MISSED"; fi; }

# --- data -------------------------------------------------------------------
csv=$workdir/data.csv
svm=$workdir/data.svm
schema=$workdir/schema.json
stamp="rows=$rows cols=64 seed=42 gen=$(sha256sum "$src/bench/gen.c" | cut -c1-16)"
if [ ! -s "$csv" ] || [ ! -s "$svm" ] || [ "$(cat "$workdir/stamp" 2>/dev/null)" != "$stamp" ]; then
	echo "generating $rows rows x 64 features into $workdir ..." >&2
	rm -f "$workdir/stamp"
	"$bin/bench_gen" --rows "$rows" --cols 64 --seed 42 --csv "$csv" --svm "$svm" \
		--schema "$schema" 2>"$logs/gen.txt" || die "bench_gen failed"
	echo "$stamp" >"$workdir/stamp"
fi
csv_bytes=$(stat -c %s "$csv")
svm_bytes=$(stat -c %s "$svm")

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
echo "fedlead benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $cpu, $ncpu cores, $mem RAM, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OPENBLAS_NUM_THREADS=1: all figures are single-core unless marked; best of N, interleaved"
echo

# --- 1. gradient pass -------------------------------------------------------
echo "running part 1 (gradient pass) ..." >&2
g=$logs/gradient.txt
"$bin/bench_gradient" --rows "$grad_rows" --reps "$grad_reps" $sweep >"$g" 2>"$logs/gradient.err" ||
	die "bench_gradient failed"
ms() { fmt "%7.1f ms" "$(calc "$1 * 1000")"; }
g_mem=$(key "$g" memcpy_s)
g_fused=$(key "$g" fused_s)
g_naive=$(key "$g" naive_s)
c_mem=$(key "$g" memcpy_cpu_s)
c_fused=$(key "$g" fused_cpu_s)
r_fused=$(calc "$g_fused / $g_mem")
rc_fused=$(calc "$c_fused / $c_mem")
echo "1. Gradient pass over $(key "$g" rows) x $(key "$g" cols) doubles ($(fmt %.0f "$(calc "$(key "$g" bytes) / 1e6")") MB), OpenBLAS $(key "$g" corename) kernels, best of $grad_reps"
printf '   %-52s %10s %6s  %10s %6s\n' "" "wall" "ratio" "CPU" "ratio"
row1() {
	local w c
	w=$(key "$g" "${2}_s")
	c=$(key "$g" "${2}_cpu_s")
	printf '   %-52s %s %6.2f  %s %6.2f\n' "$1" "$(ms "$w")" "$(calc "$w / $g_mem")" \
		"$(ms "$c")" "$(calc "$c / $c_mem")"
}
row1 "memcpy of the matrix (reference: reads+writes it)" memcpy
row1 "read-only summation pass over the matrix" sum
row1 "fl_linalg_logistic, gradient only (fused, blocked)" fused
row1 "naive: dgemv z = Xw, then dgemv g = X^T r" naive
row1 "fl_linalg_logistic with X in L2 (arithmetic only)" cached
row1 "per-row exp/log1p work alone (no linear algebra)" rowwise
row1 "fl_linalg_logistic with Hessian (Newton step)" hessian
echo "   gradient/memcpy = $(fmt %.2f "$r_fused") wall, $(fmt %.2f "$rc_fused") CPU" \
	"(target <= 1.5: $(verdict "$r_fused <= 1.5") by wall clock, $(verdict "$rc_fused <= 1.5") by CPU);" \
	"naive/fused = $(fmt %.2f "$(calc "$g_naive / $g_fused")")"
echo "   fused and naive gradients agree to $(key "$g" grad_rel_diff) (max relative difference)"
if [ -n "$sweep" ]; then
	echo "   block-size sweep, CPU time (same algorithm re-implemented in bench/gradient.c):"
	for kib in 16 32 64 128 256 512 1024; do
		printf '     %5s KiB blocks: %s plain, %s with prefetch of the next block\n' "$kib" \
			"$(ms "$(key "$g" "sweep_${kib}kib_cpu_s")")" \
			"$(ms "$(key "$g" "sweep_${kib}kib_prefetch_cpu_s")")"
	done
fi
if [ -n "$threads2" ]; then
	g2=$logs/gradient-2threads.txt
	OPENBLAS_NUM_THREADS=2 "$bin/bench_gradient" --rows "$grad_rows" --reps "$grad_reps" \
		>"$g2" 2>/dev/null || die "bench_gradient (2 threads) failed"
	echo "   with OPENBLAS_NUM_THREADS=2: memcpy $(ms "$(key "$g2" memcpy_s)")," \
		"fused $(ms "$(key "$g2" fused_s)") (ratio $(fmt %.2f "$(calc "$(key "$g2" fused_s) / $(key "$g2" memcpy_s)")"))," \
		"naive $(ms "$(key "$g2" naive_s)")"
fi
echo

# --- 2. CSV to converged model ----------------------------------------------
echo "running part 2 (training, fedlead vs liblinear) ..." >&2
cat "$csv" "$svm" >/dev/null # both from the page cache from here on
fl_model=$workdir/model.fdl
# The fedlead model's training log-loss, as fedlead-score --eval reports it.
fl_loss() {
	"$score" --model "$fl_model" --data "$csv" --eval --json >"$logs/fl-eval.json" 2>&1 ||
		die "fedlead-score --eval failed"
	sed -n 's/^ *"log_loss": *\([^,]*\),*$/\1/p' "$logs/fl-eval.json"
}
# A liblinear model's, computed by bench_logloss from its weights.
ll_loss() {
	"$bin/bench_logloss" --svm "$svm" --liblinear "$1" >"$logs/ll-logloss.txt" ||
		die "bench_logloss failed"
	fmt %.10f "$(key "$logs/ll-logloss.txt" liblinear_log_loss)"
}
ll_train() { # EPS MODEL
	timed "$logs/ll-train-$1.txt" liblinear-train -s 0 -c 1 -e "$1" -B 1 "$svm" "$2"
}
t_fl='' c_fl='' t_ll='' c_ll='' ll_eps=''
ll_tried=()
for ((rep = 1; rep <= reps; rep++)); do
	timed "$logs/fl-train.txt" "$node" train --schema "$schema" --data "$csv" \
		--out "$fl_model" --l2 1 --solver newton
	t_fl=$(min "$t_fl" "$T")
	c_fl=$(min "$c_fl" "$C")
	if [ "$rep" = 1 ]; then
		fl_ll=$(fl_loss)
		# liblinear's default tolerance first, tightened tenfold until its
		# training log-loss is within 1e-4 of fedlead's.
		for eps in 0.01 0.001 0.0001 0.00001; do
			ll_train "$eps" "$workdir/ll-$eps.model"
			l=$(ll_loss "$workdir/ll-$eps.model")
			ll_tried+=("-e $eps: $(fmt %.1f "$T") s, log-loss $l")
			if [ "$(calc "($l - $fl_ll) <= 1e-4 && ($fl_ll - $l) <= 1e-4")" = 1 ]; then
				ll_eps=$eps ll_ll=$l t_ll=$T c_ll=$C
				break
			fi
		done
		[ -n "$ll_eps" ] || die "liblinear did not reach fedlead's log-loss within 1e-4"
	else
		ll_train "$ll_eps" "$workdir/ll-$ll_eps.model"
		t_ll=$(min "$t_ll" "$T")
		c_ll=$(min "$c_ll" "$C")
	fi
done
ll_model=$workdir/ll-$ll_eps.model
# fedlead's log-loss once more, independently: its exported weights applied
# to the svm file by bench_logloss.
"$score" --model "$fl_model" --export json >"$workdir/model.json" || die "export failed"
"$bin/bench_logloss" --svm "$svm" --fedlead "$workdir/model.json" >"$logs/fl-logloss.txt" ||
	die "bench_logloss failed"
fl_ll2=$(fmt %.10f "$(key "$logs/fl-logloss.txt" fedlead_log_loss)")
# What a tighter liblinear tolerance costs, and how much of each tool's time
# is reading its file (liblinear -e 1e9 stops at the first gradient norm).
tight=$(calc "$ll_eps / 10")
ll_train "$tight" "$workdir/ll-tight.model"
t_tight=$T c_tight=$C
l_tight=$(ll_loss "$workdir/ll-tight.model")
ll_train 1e9 "$workdir/ll-load.model"
t_ll_load=$T c_ll_load=$C
timed "$logs/fl-check.txt" "$node" check --schema "$schema" --data "$csv"
t_fl_check=$T c_fl_check=$C
d_ll=$(calc "($ll_ll > $fl_ll) ? $ll_ll - $fl_ll : $fl_ll - $ll_ll")
r_train=$(calc "$t_fl / $t_ll")
rc_train=$(calc "$c_fl / $c_ll")
row2() { printf '   %-58s %7.2f s %7.2f s  %s\n' "$@"; }
echo "2. CSV to converged model: $rows rows x 64 features (CSV $(fmt %.0f "$(calc "$csv_bytes / 1e6")") MB; svm format $(fmt %.0f "$(calc "$svm_bytes / 1e6")") MB), whole processes, best of $reps"
printf '   %-58s %9s %9s  %s\n' "" "wall" "CPU" "training log-loss"
row2 "fedlead-node train --l2 1 --solver newton (CSV)" "$t_fl" "$c_fl" "$fl_ll"
row2 "liblinear-train -s 0 -c 1 -e $ll_eps -B 1 (svm)" "$t_ll" "$c_ll" "$ll_ll"
echo "   |log-loss difference| = $(fmt %.2g "$d_ll") (<= 1e-4: $(verdict "$d_ll <= 1e-4"));" \
	"fedlead/liblinear = $(fmt %.2f "$r_train") wall, $(fmt %.2f "$rc_train") CPU" \
	"(target < 1: $(verdict "$r_train < 1") by wall clock, $(verdict "$rc_train < 1") by CPU)"
tried=$(printf '%s; ' "${ll_tried[@]}")
echo "   liblinear tolerances tried, loosest first: ${tried%; }"
echo "   for reference, one run each:"
row2 "liblinear-train -e $tight (tighter)" "$t_tight" "$c_tight" "$l_tight"
row2 "liblinear-train -e 1e9 (reads the file, 1 evaluation)" "$t_ll_load" "$c_ll_load" ""
row2 "fedlead-node check (reads and validates the CSV)" "$t_fl_check" "$c_fl_check" ""
echo "   fedlead's log-loss recomputed from its exported weights on the svm file: $fl_ll2"
echo

# --- 3. scoring throughput --------------------------------------------------
echo "running part 3 (scoring) ..." >&2
declare -A sw sc # best wall and CPU seconds by name
best() { # NAME: fold T and C into sw[NAME], sc[NAME]
	sw[$1]=$(min "${sw[$1]:-}" "$T")
	sc[$1]=$(min "${sc[$1]:-}" "$C")
}
for ((rep = 1; rep <= reps; rep++)); do
	timed "$logs/score.txt" "$score" --model "$fl_model" --data "$csv" --out "$workdir/scored.csv"
	best score
	timed "$logs/parse-fl.txt" "$bin/bench_csvparse" --reader fl "$csv"
	best parse_fl
	timed "$logs/parse-strtod.txt" "$bin/bench_csvparse" --reader strtod "$csv"
	best parse_strtod
	timed "$logs/predict.txt" liblinear-predict -b 1 "$svm" "$ll_model" "$workdir/predicted.txt"
	best predict
	timed /dev/null cat "$csv"
	best cat
done
row3() { # LABEL NAME BYTES
	local w=${sw[$2]} c=${sc[$2]}
	printf '   %-50s %6.2f s %6.2f s %7.0f %7.1f  %6.2f %6.2f\n' "$1" "$w" "$c" \
		"$(calc "$rows / $w / 1000")" "$(calc "$3 / $w / 1e6")" \
		"$(calc "${sw[score]} / $w")" "$(calc "${sc[score]} / $c")"
}
echo "3. Scoring $rows leads (CSV $(fmt %.0f "$(calc "$csv_bytes / 1e6")") MB), whole processes, best of $reps"
printf '   %-50s %8s %8s %7s %7s  %s\n' "" "wall" "CPU" "krows/s" "MB/s" "score/this: wall  CPU"
row3 "fedlead-score --out scored.csv (reads the CSV twice)" score "$csv_bytes"
row3 "CSV parse only, fedlead's reader, one pass" parse_fl "$csv_bytes"
row3 "CSV parse only, getline + strtod, one pass" parse_strtod "$csv_bytes"
row3 "liblinear-predict -b 1 on the svm file, one pass" predict "$svm_bytes"
row3 "cat data.csv > /dev/null (page cache)" cat "$csv_bytes"
echo "   (rates from wall time; MB/s counts each file's size once; the svm file is larger than the CSV)"
# Cross-check of bench_logloss: liblinear's own probabilities (printed with
# 6 digits, so agreement to ~1e-6 is all one can expect).
ll_pred=$(awk 'NR == FNR { y[FNR] = $1; next }
	FNR == 1 { for (i = 2; i <= NF; i++) col[$i] = i; next }
	{ s -= log($(col[y[FNR - 1]])); n++ }
	END { printf "%.10f", s / n }' "$svm" "$workdir/predicted.txt")
echo "   liblinear's log-loss from liblinear-predict -b 1 probabilities: $ll_pred" \
	"(bench_logloss, from its weights: $ll_ll)"
echo
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); logs in $logs"

if [ -n "$clean" ]; then
	rm -f "$csv" "$svm" "$workdir/stamp" "$workdir/scored.csv" "$workdir/predicted.txt"
fi
