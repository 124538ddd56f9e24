#!/usr/bin/env bash
# The l2 search's cost (bench/README.md, "The l2 search"): `train --l2 auto`
# (5-fold cross-validation over 7 strengths, then the final fit) against
# `train --l2 1` on the same file in the same run, CPU time, wall time and
# peak memory of each, as ratios, with the load average before and after.
# The file is the bundled bank-marketing leads repeated (30 times: 343,050
# leads, 28 MB), or with --crm N, N CRM-like leads from bench_gen --crm
# (810 weights). --exact also times `--l2 auto --cv exact` (every fold
# fitted; `--cv auto` approximates from 100,000 training rows on).
#
#   bash bench/l2auto.sh [--copies N | --crm N] [--exact] [--build DIR] [--no-build]
#
# --build defaults to build-bench/ in the source tree (Release), as
# bench/run.sh makes it. One thread (--threads 1, OPENBLAS_NUM_THREADS=1).
# Runs nothing but these commands, locally.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
copies=30
crm=
exact=
build_it=1
while [ $# -gt 0 ]; do
	case $1 in
	--copies) copies=$2; shift 2 ;;
	--crm) crm=$2; shift 2 ;;
	--exact) exact=1; shift ;;
	--build) build=$2; shift 2 ;;
	--no-build) build_it=; shift ;;
	*) echo "l2auto.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
if [ -n "$build_it" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
		${crm:+-DFL_BUILD_BENCH=ON} >/dev/null
	cmake --build "$build" -j"$(nproc)" --target fedlead-node ${crm:+bench_gen} >/dev/null
fi
node=$build/fedlead-node
[ -x "$node" ] || { echo "l2auto.sh: $node is not built" >&2; exit 1; }
work=$(mktemp -d /tmp/fedlead-l2auto.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ -n "$crm" ]; then
	gen=$build/bench/bench_gen
	[ -x "$gen" ] || { echo "l2auto.sh: $gen is not built" >&2; exit 1; }
	"$gen" --crm --rows "$crm" --seed 42 --csv "$work/leads.csv" --schema "$work/schema.json" \
		>/dev/null 2>&1
	schema=$work/schema.json
	what="CRM-like, bench_gen --crm"
else
	data=$src/tests/data/bank-marketing
	schema=$data/bank.schema.json
	{
		head -1 "$data/bank.csv"
		for _ in $(seq 1 "$copies"); do tail -n +2 "$data/bank.csv"; done
	} >"$work/leads.csv"
	what="bank marketing x $copies"
fi
rows=$(($(wc -l <"$work/leads.csv") - 1))

# One run of train with the given options: prints "cpu-seconds wall-seconds peak-KB".
run() {
	OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "%U %S %e %M" -o "$work/time" \
		"$node" train --quiet --threads 1 --schema "$schema" --data "$work/leads.csv" \
		--out "$work/m.fdl" "$@" >"$work/out"
	awk '{ printf "%.2f %.2f %d\n", $1 + $2, $3, $4 }' "$work/time"
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r c1 t1 m1 < <(run --l2 1)
read -r ca ta ma < <(run --l2 auto)
cv=$(sed -n 's/^cross-validation: \([a-z]*\).*/\1/p' "$work/out")
chosen=$(awk '/<- chosen/ { print $1 }' "$work/out")
if [ -n "$exact" ]; then
	read -r ce te me < <(run --l2 auto --cv exact)
	chosen_e=$(awk '/<- chosen/ { print $1 }' "$work/out")
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== l2 search: $rows leads, $(du -m "$work/leads.csv" | cut -f1) MB ($what), one thread"
echo "   load average before $load0, after $load1"
printf '%-30s %9s %9s %9s\n' command "CPU s" "wall s" "peak MB"
printf '%-30s %9.2f %9.2f %9d\n' "train --l2 1" "$c1" "$t1" "$((m1 / 1024))"
printf '%-30s %9.2f %9.2f %9d\n' "train --l2 auto ($cv)" "$ca" "$ta" "$((ma / 1024))"
[ -z "$exact" ] ||
	printf '%-30s %9.2f %9.2f %9d\n' "train --l2 auto --cv exact" "$ce" "$te" "$((me / 1024))"
awk -v a="$ca" -v b="$c1" -v c="$ma" -v d="$m1" -v w="$ta" -v x="$t1" \
	'BEGIN { printf "ratio auto / l2 1: CPU %.2f x, wall %.2f x, peak memory %.2f x\n", a / b, w / x, c / d }'
echo "chosen l2: $chosen${exact:+ (exact cross-validation: $chosen_e)}"
[ -z "$exact" ] ||
	awk -v a="$ce" -v b="$c1" 'BEGIN { printf "ratio auto --cv exact / l2 1: CPU %.2f x\n", a / b }'
