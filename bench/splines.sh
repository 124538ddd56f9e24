#!/usr/bin/env bash
# Splines on bank marketing (bench/README.md, "Splines"): the bundled
# leads split into three partners of 25 % and a held-out 25 % (seeded),
# the schema drafted by `fedlead-node schema` from partner 1's file, and
# then, on the three partners' rows together (what the exact federation
# fits, up to 1e-6), `train --l2 auto` with the drafted schema and with
# the same schema without its transforms (plain logistic regression), with
# and without `duration`; beside them, in the same run and on the same
# split, scikit-learn's LogisticRegressionCV, the same with SplineTransformer
# and HistGradientBoostingClassifier (bench/splines.py). Prints the held-out
# AUCs, the share of the plain -> boosting gap each closes, and the
# training time of the spline model against the plain one (best of --reps,
# interleaved, each the mean of --inner runs back to back; wall and CPU).
#
#   bash bench/splines.sh [--build DIR] [--seed N] [--reps N] [--inner N]
#
# --build defaults to build-bench/ in the source tree; it must hold
# fedlead-node and fedlead-score. Runs locally, nothing else.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
seed=1
reps=3
inner=5
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--inner) inner=$2; shift 2 ;;
	*) echo "splines.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
node=$build/fedlead-node
score=$build/fedlead-score
for p in "$node" "$score"; do
	[ -x "$p" ] || { echo "splines.sh: $p is not built" >&2; exit 1; }
done
export OPENBLAS_NUM_THREADS=1
py=/usr/bin/python3
work=$(mktemp -d /tmp/fedlead-splines.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$py" "$src/bench/splines.py" split "$src/tests/data/bank-marketing/bank.csv" "$work" --seed "$seed"
"$node" schema --data "$work/p1.csv" --label y --out "$work/spline.json" --quiet >/dev/null 2>&1
# The same contract without transforms, and both without duration.
"$py" - "$work" <<'PYEOF'
import json, sys
w = sys.argv[1]
s = json.load(open(f"{w}/spline.json"))
def plain(s):
    s = json.loads(json.dumps(s))
    for f in s["features"]:
        for k in ("transform", "knots", "special", "monotone"):
            f.pop(k, None)
    return s
def nodur(s):
    s = json.loads(json.dumps(s))
    s["features"] = [f for f in s["features"] if f["name"] != "duration"]
    s["ignore"] = s.get("ignore", []) + ["duration"]
    return s
json.dump(plain(s), open(f"{w}/plain.json", "w"))
json.dump(nodur(s), open(f"{w}/spline-nd.json", "w"))
json.dump(plain(nodur(s)), open(f"{w}/plain-nd.json", "w"))
PYEOF

# One measurement: $inner training runs back to back (a run is about
# 0.2 s of CPU and time(1) counts in 0.01 s); prints "wall cpu" of one run.
train() {
	/usr/bin/time -f "%e %U %S" -o "$work/time" sh -c 'i=0; while [ $i -lt "$1" ]; do
		"$2" train --quiet --schema "$3.json" --data "$4" --l2 auto --out "$3.fdl" >/dev/null || exit 1
		i=$((i + 1)); done' sh "$inner" "$node" "$work/$1" "$work/train.csv"
	awk -v k="$inner" '{ printf "%.3f %.3f\n", $1 / k, ($2 + $3) / k }' "$work/time"
}
auc() {
	"$score" --model "$work/$1.fdl" --data "$work/test.csv" --eval --quiet | awk '/^AUC/ { print $2 }'
}
declare -A wall cpu
for s in plain spline plain-nd spline-nd; do wall[$s]=1e9; cpu[$s]=1e9; done
for _ in $(seq 1 "$reps"); do
	for s in plain spline plain-nd spline-nd; do
		read -r w c < <(train "$s")
		wall[$s]=$(awk -v a="${wall[$s]}" -v b="$w" 'BEGIN { print (b < a ? b : a) }')
		cpu[$s]=$(awk -v a="${cpu[$s]}" -v b="$c" 'BEGIN { print (b < a ? b : a) }')
	done
done
declare -A A
for s in plain spline plain-nd spline-nd; do A[fedlead-$s]=$(auc "$s"); done
while read -r name a secs; do A[$name]=$a; done < <("$py" "$src/bench/splines.py" sklearn "$work")
while read -r name a secs; do A[$name-nd]=$a; done < <("$py" "$src/bench/splines.py" sklearn "$work" --drop duration)

echo "== splines on bank marketing: seed $seed, $(($(wc -l <"$work/train.csv") - 1)) training leads (3 partners), $(($(wc -l <"$work/test.csv") - 1)) held out; load: $(uptime | sed 's/.*load average: //')"
printf "%-22s %10s %10s\n" "model" "AUC" "AUC w/o duration"
for m in fedlead-plain fedlead-spline sklearn-lr sklearn-lr-spline sklearn-hgb; do
	nd=${m/-plain/-plain-nd}
	nd=${nd/fedlead-spline/fedlead-spline-nd}
	case $m in sklearn-*) nd=$m-nd ;; esac
	printf "%-22s %10s %10s\n" "$m" "${A[$m]}" "${A[$nd]}"
done
gap() { awk -v a="$1" -v p="$2" -v b="$3" 'BEGIN { printf "%.0f %%", 100 * (a - p) / (b - p) }'; }
echo "gap closed (plain -> boosting), fedlead spline: $(gap "${A[fedlead-spline]}" "${A[fedlead-plain]}" "${A[sklearn-hgb]}"), without duration $(gap "${A[fedlead-spline-nd]}" "${A[fedlead-plain-nd]}" "${A[sklearn-hgb-nd]}")"
echo "gap closed, scikit-learn spline (against its LR): $(gap "${A[sklearn-lr-spline]}" "${A[sklearn-lr]}" "${A[sklearn-hgb]}"), without duration $(gap "${A[sklearn-lr-spline-nd]}" "${A[sklearn-lr-nd]}" "${A[sklearn-hgb-nd]}")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo "train --l2 auto, spline / plain (best of $reps): wall $(ratio "${wall[spline]}" "${wall[plain]}") (${wall[spline]} / ${wall[plain]} s), CPU $(ratio "${cpu[spline]}" "${cpu[plain]}") (${cpu[spline]} / ${cpu[plain]} s); without duration CPU $(ratio "${cpu[spline-nd]}" "${cpu[plain-nd]}")"
