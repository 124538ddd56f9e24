#!/usr/bin/env bash
# Scale benchmark (bench/README.md, "Many partners"): one coordinator and
# 200 partner processes on this machine run a secure federation on slices
# of CoIL: the statistics round and Newton rounds, each a secure
# aggregation over all 200. It is tests/e2e/scale.sh with more partners;
# that script checks the outcome (every node holds the model, every round
# a secure sum over all partners, the statistics sum equal to the pooled
# counts) and reports each round's time and the coordinator's peak
# resident memory (from its /metrics).
#
#   bash bench/scale.sh [options]    # ~10 minutes the first time (200 certificates), ~3 after
#
#   --partners N    partners (default 200; at most 255: Shamir over GF(256))
#   --rows N        leads per partner (default 25; CoIL has 5,822)
#   --iterations N  Newton iterations (default 2: statistics + 3 evaluation rounds)
#   --narrow        CoIL's first 16 numeric columns (17 weights) instead of the
#                   whole schema (321 weights: 52,003 values in a Newton round)
#   --build DIR     build directory (default: build-bench/ in the source tree,
#                   Release mode, with -DFL_BUILD_BENCH=ON as bench/run.sh makes it)
#   --no-build      use the programs already built in --build
#   --workdir DIR   where the PKI is kept for the next run (default /tmp/fedlead-scalebench)
#   --keep          keep the run's directory (logs, audit logs, models)
# Every process it starts is on 127.0.0.1, bounded in time (DEADLINE,
# 900 s) and stopped by PID when it ends.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
workdir=/tmp/fedlead-scalebench
partners=200
rows=25
iterations=2
keep=
wide=1
build_it=1
while [ $# -gt 0 ]; do
	case $1 in
	--partners) partners=$2; shift 2 ;;
	--rows) rows=$2; shift 2 ;;
	--iterations) iterations=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--no-build) build_it=; shift ;;
	--narrow) wide=0; shift ;;
	-h | --help) sed -n '2,24p' "$0"; exit 0 ;;
	*) echo "bench/scale.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [ "$partners" -gt 255 ] || [ "$partners" -lt 2 ]; then
	echo "bench/scale.sh: --partners must be 2 to 255 (Shamir over GF(256))" >&2
	exit 2
fi
if [ $((partners * rows)) -gt 5822 ]; then
	echo "bench/scale.sh: $partners x $rows leads: CoIL has 5,822" >&2
	exit 2
fi
if [ -n "$build_it" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$build" -j2 --target fedlead-coordinator fedlead-node fedlead-score >/dev/null
fi
mkdir -p "$workdir"

echo "fedlead scale benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM," \
	"load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$partners partners x $rows leads, Newton, max_iterations $iterations, secure aggregation on," \
	"$([ "$wide" = 1 ] && echo "the whole CoIL schema (321 weights)" || echo "16 numeric columns (17 weights)")"
start=$SECONDS
export OPENBLAS_NUM_THREADS=1
WIDE=$wide KEEP=$keep PKI_CACHE=$workdir/pki PARTNERS=$partners ROWS=$rows ITER=$iterations DEADLINE=900 \
	FL_BIN=$build FL_SRC=$src bash "$src/tests/e2e/scale.sh"
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); total $((SECONDS - start)) s"
