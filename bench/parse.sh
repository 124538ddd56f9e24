#!/usr/bin/env bash
# The parsing figure: fedlead's CSV reader (bench_csvparse --reader fl:
# fl_csv_next() and fl_parse_double() on every field) against a
# std::from_chars loop over the same file (bench_fromchars), on the 1M x 64
# numeric file bench_gen writes and on a CRM-like mixed file
# (bench_csvparse --write-crm). Target: reader throughput >= 0.8x the
# from_chars loop's on both.
#
# Usage: bench/parse.sh [--bin DIR] [--workdir DIR] [--rows N] [--reps N]
#   --bin DIR      the bench programs (default build-bench/bench, configured as
#                  run.sh does: cmake -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_BENCH=ON;
#                  cmake --build build-bench --target bench_gen bench_csvparse bench_fromchars)
#   --workdir DIR  where the two files are written once (default
#                  /tmp/fedlead-bench; about 0.7 GB for 1,000,000 rows)
#   --rows N       rows of each file (default 1,000,000)
#   --reps N       interleaved repetitions; the best of each is kept (default 5)
#
# Both programs print the rows, fields, numbers and a checksum of the
# numbers; they must agree, or the timings compare different work. Times are
# CPU seconds (user + system) and wall seconds, best of the repetitions; the
# ratio is the from_chars loop's time over the reader's (>= 1: the reader is
# as fast). The machine's load is printed beside them.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build-bench/bench
workdir=/tmp/fedlead-bench
rows=1000000
reps=5
while [ $# -gt 0 ]; do
	case $1 in
	--bin) bin=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--rows) rows=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	*) echo "usage: $0 [--bin DIR] [--workdir DIR] [--rows N] [--reps N]" >&2; exit 2 ;;
	esac
done
for p in bench_gen bench_csvparse; do
	if [ ! -x "$bin/$p" ]; then
		echo "parse.sh: $bin/$p is not built (cmake -DFL_BUILD_BENCH=ON, or --bin DIR)" >&2
		exit 1
	fi
done
if [ ! -x "$bin/bench_fromchars" ]; then
	echo "parse.sh: $bin/bench_fromchars is not built: the build found no C++ compiler" \
		"(install g++ and configure again); there is no reference to measure against" >&2
	exit 1
fi
mkdir -p "$workdir"
num=$workdir/parse-num-$rows.csv
crm=$workdir/parse-crm-$rows.csv
[ -s "$num" ] || "$bin/bench_gen" --rows "$rows" --cols 64 --seed 42 --csv "$num" \
	--svm /dev/null --schema /dev/null >/dev/null
[ -s "$crm" ] || "$bin/bench_csvparse" --write-crm "$rows" "$crm"

# field NAME FILE: the value of line "NAME value" of a program's output
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%s, %s\n' "$(uname -m)" "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
printf 'load before: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %10s %10s %10s %10s %10s %8s %8s\n' file MB reader_cpu ref_cpu reader_MB/s ref_MB/s cpu_ratio wall_ratio
for name in num crm; do
	f=${!name}
	rc='' rw='' fc='' fw=''
	for ((i = 1; i <= reps; i++)); do
		"$bin/bench_csvparse" --reader fl "$f" >"$out/fl"
		"$bin/bench_fromchars" "$f" >"$out/fc"
		for k in rows fields numbers checksum; do
			if [ "$(field $k "$out/fl")" != "$(field $k "$out/fc")" ]; then
				echo "parse.sh: $f: the reader and the reference disagree on $k:" \
					"$(field $k "$out/fl") against $(field $k "$out/fc")" >&2
				exit 1
			fi
		done
		rc=$(min "$rc" "$(field cpu "$out/fl")")
		rw=$(min "$rw" "$(field seconds "$out/fl")")
		fc=$(min "$fc" "$(field cpu "$out/fc")")
		fw=$(min "$fw" "$(field seconds "$out/fc")")
	done
	bytes=$(field bytes "$out/fl")
	awk -v n="$name" -v b="$bytes" -v rc="$rc" -v rw="$rw" -v fc="$fc" -v fw="$fw" 'BEGIN {
		mb = b / 1e6
		printf "%-6s %10.1f %10.3f %10.3f %10.0f %10.0f %8.2f %8.2f\n", n, mb, rc, fc,
		       mb / rc, mb / fc, fc / rc, fw / rw }'
done
printf 'load after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
