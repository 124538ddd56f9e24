#!/usr/bin/env bash
# Training at the shape of real lead data (bench/README.md, "Categorical
# leads and both cores"):
#   1. bench_gen --crm leads (10 numeric, 25 categorical columns): fedlead-node
#      train --l2 1 end to end on 1 and 2 threads against scikit-learn
#      (bench/crm_sklearn.py: pandas + OneHotEncoder(sparse) + lbfgs, one
#      process): CPU and wall time, peak RSS against the CSV's size, and the
#      training log-loss of both.
#   2. 1M x 64 numeric rows in a column cache already in the page cache:
#      train --cache on 1 and 2 threads against scikit-learn's lbfgs fit on
#      the same standardised rows in memory (bench/cache_sklearn.py).
# Usage: bench/crm.sh [--rows N] [--workdir DIR] [--reps N] [--build DIR] [--no-build]
#   (default build directory build-bench/, work directory /tmp/fedlead-bench-crm;
#   the data are generated once and kept there)
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
workdir=/tmp/fedlead-bench-crm
rows=1000000
reps=2
build_it=1
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--no-build) build_it=; shift ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "crm.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
# One BLAS thread inside each of fedlead's chunks, and for numpy too: the
# thread counts compared are fedlead's --threads.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
die() { echo "crm.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
/usr/bin/python3 -c 'import pandas, sklearn' 2>/dev/null ||
	die "/usr/bin/python3 needs pandas and scikit-learn (apt-get install python3-pandas python3-sklearn)"
if [ -n "$build_it" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_BENCH=ON -DBUILD_TESTING=OFF \
		-DFL_WERROR=OFF >/dev/null
	cmake --build "$build" -j"$(getconf _NPROCESSORS_ONLN)" --target fedlead-node bench_gen \
		bench_inmem >/dev/null || die "the build failed"
fi
node=$build/fedlead-node
gen=$build/bench/bench_gen
mkdir -p "$workdir"
cd "$workdir"
[ -s crm.csv ] || "$gen" --crm --rows "$rows" --seed 42 --csv crm.csv --schema crm.json
[ -s num.csv ] || "$gen" --rows "$rows" --cols 64 --seed 42 --csv num.csv --svm /dev/null \
	--schema num.json
[ -s num.flc ] || "$node" cache --schema num.json --data num.csv --out num.flc --quiet >/dev/null

# time_of LOG: "cpu wall rss_kb" from a /usr/bin/time -v log
time_of() {
	awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {m=$2}
		/Elapsed/ {n=split($2, a, ":"); w=0; for (i=1;i<=n;i++) w=w*60+a[i]}
		END {printf "%.2f %.2f %d\n", u+s, w, m}' "$1"
}
# best LOGS...: the run with the least CPU time
best() { for f in "$@"; do time_of "$f"; done | sort -n | head -1; }

echo "load before: $(uptime)"
for r in $(seq "$reps"); do
	for t in 1 2; do
		/usr/bin/time -v "$node" train --schema crm.json --data crm.csv --out crm-t$t.fdl \
			--l2 1 --threads $t --quiet >crm-t$t.out 2>crm-t$t-$r.time
	done
	/usr/bin/time -v /usr/bin/python3 "$src/bench/crm_sklearn.py" crm.csv crm.json \
		>crm-skl.out 2>crm-skl-$r.time
	for t in 1 2; do
		/usr/bin/time -v "$node" train --schema num.json --cache num.flc --out num-t$t.fdl \
			--l2 1 --threads $t >num-t$t.out 2>num-t$t-$r.time
	done
	/usr/bin/python3 "$src/bench/cache_sklearn.py" num.flc 1 >num-skl-$r.out
done
"$build/bench/bench_inmem" num.flc 1 "$reps" >num-inmem.out
echo "load after: $(uptime)"
csv_kb=$(($(stat -L -c %s crm.csv) / 1024))
read -r c1 w1 m1 <<<"$(best crm-t1-*.time)"
read -r c2 w2 m2 <<<"$(best crm-t2-*.time)"
read -r cs ws ms <<<"$(best crm-skl-*.time)"
echo
echo "1. $rows CRM-like leads, $((csv_kb / 1024)) MB of CSV: train --l2 1 end to end (best of $reps)"
printf '   %-26s %8s %8s %9s %8s\n' "" "CPU s" "wall s" "RSS MB" "RSS/CSV"
printf '   %-26s %8.2f %8.2f %9d %8.2f\n' "fedlead --threads 1" "$c1" "$w1" $((m1 / 1024)) \
	"$(echo "$m1 / $csv_kb" | bc -l)"
printf '   %-26s %8.2f %8.2f %9d %8.2f\n' "fedlead --threads 2" "$c2" "$w2" $((m2 / 1024)) \
	"$(echo "$m2 / $csv_kb" | bc -l)"
printf '   %-26s %8.2f %8.2f %9d %8.2f\n' "scikit-learn" "$cs" "$ws" $((ms / 1024)) \
	"$(echo "$ms / $csv_kb" | bc -l)"
printf '   ratio fedlead 1 thread / sklearn: CPU %.2f, wall %.2f; 2 threads wall %.2f\n' \
	"$(echo "$c1 / $cs" | bc -l)" "$(echo "$w1 / $ws" | bc -l)" "$(echo "$w2 / $ws" | bc -l)"
echo "   training log-loss: fedlead $(sed -n 's/.*log-loss \([0-9.]*\).*/\1/p' crm-t1.out)," \
	"scikit-learn $(sed -n 's/training log-loss //p' crm-skl.out)"
read -r n1 v1 _ <<<"$(best num-t1-*.time)"
read -r n2 v2 _ <<<"$(best num-t2-*.time)"
fit=$(sed -n 's/^fit \([0-9.]*\) s.*/\1/p' num-skl-*.out | sort -n | head -1)
fitc=$(sed -n 's/^fit [0-9.]* s (\([0-9.]*\) s CPU.*/\1/p' num-skl-*.out | sort -n | head -1)
echo
echo "2. $rows x 64 numeric rows in memory (best of $reps)"
sed 's/^/   /' num-inmem.out
echo "   scikit-learn lbfgs fit: ${fit} s wall, ${fitc} s CPU"
echo "   the whole train --cache process (page-cached file): 1 thread ${v1} s wall" \
	"(${n1} s CPU), 2 threads ${v2} s wall; passes $(grep -c ": pass " num-t1-1.time)"
