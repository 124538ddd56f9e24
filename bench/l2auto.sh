#!/usr/bin/env bash
# The l2 search's cost (bench/README.md, "The l2 search"): `train --l2 auto`
# (5-fold cross-validation over 7 strengths, then the final fit) against
# `train --l2 1` on the same file in the same run, wall time and peak
# memory of each, as ratios. The file is the bundled bank-marketing leads
# repeated (30 times: 343,050 leads, 28 MB).
#
#   bash bench/l2auto.sh [--copies N] [--build DIR] [--no-build]
#
# --build defaults to build-bench/ in the source tree (Release), as
# bench/run.sh makes it. Runs nothing but the two commands, locally.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
copies=30
build_it=1
while [ $# -gt 0 ]; do
	case $1 in
	--copies) copies=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--no-build) build_it=; shift ;;
	*) echo "l2auto.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
if [ -n "$build_it" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$build" -j"$(nproc)" --target fedlead-node >/dev/null
fi
node=$build/fedlead-node
[ -x "$node" ] || { echo "l2auto.sh: $node is not built" >&2; exit 1; }
work=$(mktemp -d /tmp/fedlead-l2auto.XXXXXX)
trap 'rm -rf "$work"' EXIT
data=$src/tests/data/bank-marketing
{
	head -1 "$data/bank.csv"
	for _ in $(seq 1 "$copies"); do tail -n +2 "$data/bank.csv"; done
} >"$work/leads.csv"
rows=$(($(wc -l <"$work/leads.csv") - 1))

# One run: prints "seconds peak-KB".
run() {
	OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "%e %M" -o "$work/time" \
		"$node" train --quiet --schema "$data/bank.schema.json" --data "$work/leads.csv" \
		--l2 "$1" --out "$work/m.fdl" >/dev/null
	cat "$work/time"
}
read -r t1 m1 < <(run 1)
read -r ta ma < <(run auto)
echo "== l2 search: $rows leads, $(du -m "$work/leads.csv" | cut -f1) MB (bank marketing x $copies)"
printf '%-20s %10s %12s\n' command seconds "peak MB"
printf '%-20s %10.2f %12.0f\n' "train --l2 1" "$t1" "$((m1 / 1024))"
printf '%-20s %10.2f %12.0f\n' "train --l2 auto" "$ta" "$((ma / 1024))"
awk -v a="$ta" -v b="$t1" -v c="$ma" -v d="$m1" \
	'BEGIN { printf "ratio auto / l2 1: time %.2f x, peak memory %.2f x\n", a / b, c / d }'
