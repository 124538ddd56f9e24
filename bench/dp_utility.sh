#!/usr/bin/env bash
# Differential privacy's utility and cost (bench/README.md, "Differential
# privacy"). Everything runs on this machine: real federations of a
# coordinator and three partners on 127.0.0.1 (tests/e2e/lib/fed.bash and
# lib/dp.bash, as the end-to-end tests start them).
#
#   bash bench/dp_utility.sh [--build DIR] [--no-build] [--eps LIST] [--steps N]
#                          [--runs N] [--data LIST] [--rows LIST] [--cost-only]
#
#   --build DIR   build directory (default: build-bench/ in the source tree)
#   --no-build    use the programs already built in --build
#   --eps LIST    privacy budgets per partner (default 0.5,1,2,4,8; delta 1e-6)
#   --steps N     the privacy plan's evaluations (default 4, plan v7's)
#   --runs N      federations per epsilon (default 1); with more than one,
#                 each data set ends with the mean AUC difference, its
#                 standard deviation, the runs more than 0.01 below and the
#                 worst run per epsilon
#   --data LIST   bank, coil or both (default bank,coil)
#   --rows LIST   a partner's rows for the full round of part 2 (default
#                 10000,100000)
#   --cost-only   part 2 only
#
# Part 1, utility: bank marketing and CoIL, each split with every 4th lead
# held out and the rest in three partners; one federation without
# differential privacy (Newton to convergence, l2 = 1, secure aggregation 3
# of 3) and one per epsilon (privacy = on, the plan of --steps
# evaluations, noise for 2 honest partners of 3), each model scored on the
# held-out leads by fedlead-score --eval: AUC and log-loss beside the
# private-free model's, measured in the same run.
#
# Part 2, cost: the partner's noise sampling for 10,000 values
# (bench_dpnoise) against two references measured in the same run: the
# partner CPU of one secure aggregation round at 10,000 values
# (bench_secagg, 3 partners), and the whole round's partner CPU, that plus
# the gradient pass over --rows rows of 10,000 features (bench_dpnoise).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
build_it=1
eps_list=0.5,1,2,4,8
steps=4
runs=1
data=bank,coil
rows=10000,100000
cost_only=
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--no-build) build_it=; shift ;;
	--eps) eps_list=$2; shift 2 ;;
	--steps) steps=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	--rows) rows=$2; shift 2 ;;
	--cost-only) cost_only=1; shift ;;
	-h|--help) sed -n '2,38p' "$0"; exit 0 ;;
	*) echo "dp_utility.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ -n "$build_it" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_BENCH=ON -DBUILD_TESTING=OFF \
		-DFL_WERROR=OFF -DFL_ENABLE_ASAN=OFF >/dev/null
	cmake --build "$build" -j"$(getconf _NPROCESSORS_ONLN)" --target fedlead-node \
		fedlead-coordinator fedlead-score bench_secagg bench_dpnoise >/dev/null
fi
export FL_BIN=$build FL_SRC=$src
. "$src/tests/e2e/lib/fed.bash"
. "$src/tests/e2e/lib/dp.bash"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(getconf _NPROCESSORS_ONLN) cores"
pki p1 p2 p3

if [ -z "$cost_only" ]; then
	echo
	echo "== 1. utility: held-out AUC and log-loss, epsilon per partner (delta 1e-6), plan of $steps evaluations, $runs run(s) per epsilon"
	printf '%-15s %8s | %8s %8s | %9s %9s\n' "data" "epsilon" "AUC" "dAUC" "log-loss" "dlogloss"
	for ds in ${data//,/ }; do
		if [ "$ds" = bank ]; then
			csv=$FL_DATA/bank-marketing/bank.csv FED_SCHEMA=$FL_DATA/bank-marketing/bank-dp.schema.json
		else
			csv=$COIL FED_SCHEMA=$FL_DATA/coil2000/coil2000-dp.schema.json
		fi
		rm -f "$T"/p?.csv "$T/test.csv"
		split_holdout "$csv"
		dp_federation "$T/$ds-plain" 0 || die_run=1
		read -r auc0 ll0 < <(holdout_metrics "$T/$ds-plain/model.fdl")
		printf '%-15s %8s | %8.4f %8s | %9.4f %9s\n' "$ds" "none" "$auc0" "" "$ll0" ""
		diffs=()
		for ((k = 1; k <= runs; k++)); do
			for e in ${eps_list//,/ }; do
				if ! dp_federation "$T/$ds-$e-$k" "$e" "$steps"; then
					printf '%-15s %8s | federation failed (logs in %s)\n' "$ds" "$e" "$T/$ds-$e-$k"
					KEEP=1
					continue
				fi
				read -r auc ll < <(holdout_metrics "$T/$ds-$e-$k/model.fdl")
				printf '%-15s %8s | %8.4f %+8.4f | %9.4f %+9.4f\n' "$ds" "$e" "$auc" \
					"$("$PY" -c "print($auc - $auc0)")" "$ll" "$("$PY" -c "print($ll - $ll0)")"
				diffs+=("$e:$("$PY" -c "print($auc - $auc0)")")
				rm -rf "$T/$ds-$e-$k"
			done
		done
		if [ "$runs" -gt 1 ]; then
			"$PY" - "$ds" "${diffs[@]}" <<'PYEOF'
import statistics, sys
by = {}
for a in sys.argv[2:]:
    e, v = a.split(":")
    by.setdefault(float(e), []).append(float(v))
for e in sorted(by):
    v = by[e]
    print("%-15s %8g | mean dAUC %+.4f, sd %.4f, %d of %d runs more than 0.01 below, worst %+.4f"
          % (sys.argv[1], e, statistics.mean(v), statistics.pstdev(v),
             sum(x < -0.01 for x in v), len(v), min(v)))
PYEOF
		fi
	done
fi

echo
echo "== 2. cost: a partner's noise for 10,000 values against its CPU in one secure round at d = 10,000"
sa=$("$FL_BIN/bench/bench_secagg" --pki "$T/pki" --partners 3 --dims 10000 --no-mask 2>&1)
row=$(grep -E '^ +3 +10000 ' <<<"$sa" | head -n 1)
# "| plain secure ratio |": the secure node CPU is the second time.
secure=$("$PY" - "$row" <<'PYEOF'
import re, sys
t = re.findall(r"([0-9.]+) (s|ms|us)\b", sys.argv[1])
v, u = t[1]
print(float(v) * {"s": 1, "ms": 1e-3, "us": 1e-6}[u])
PYEOF
)
# Noise at both variances, then the gradient pass over each row count
# (bench_dpnoise --rows), all in this run.
dp=$("$FL_BIN/bench/bench_dpnoise" --values 10000 --rows "$rows")
"$PY" - "$secure" "$dp" <<'PYEOF'
import re, sys
secure, out = float(sys.argv[1]), sys.argv[2]
noise = [(m[0], float(m[1])) for m in re.findall(r"^sigma2=(\S+) values=10000 cpu_s=(\S+)$", out, re.M)]
grad = [(int(m[0]), float(m[1])) for m in re.findall(r"^gradient rows=(\d+) features=10000 cpu_s=(\S+)$", out, re.M)]
print("noise, 10,000 values: " + ", ".join("%.3f ms at sigma2=%s" % (1e3 * c, v) for v, c in noise))
print("%-70s %10s | %s" % ("partner CPU in one secure round (3 partners, d = 10,000)", "CPU",
      " | ".join("noise %s" % v for v, _ in noise)))
refs = [("secure aggregation only (bench_secagg: keys, shares, masks, unmask)", secure)]
for n, g in grad:
    refs.append(("+ gradient pass over %s rows (fl_linalg_logistic)" % format(n, ","), secure + g))
for name, cpu in refs:
    print("%-70s %7.2f ms | %s" % (name, 1e3 * cpu,
          " | ".join("%8.1f %%" % (100 * c / cpu) for _, c in noise)))
PYEOF
finish
