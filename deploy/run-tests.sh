#!/usr/bin/env bash
# What CI checks (.ci/run runs this): installs what is missing, then
#   normal  gcc, -Werror, fault injection compiled in: the whole suite
#   asan    the same with AddressSanitizer + UndefinedBehaviorSanitizer:
#           the whole suite
#   clang   clang, -Werror, fault injection, everything built (benchmarks
#           too): the unit tests
#   fuzz    clang's libFuzzer build: every fuzz_<target> replays its
#           checked-in corpus tests/fuzz/corpus/<target>
#   format  clang-format --dry-run -Werror (.clang-format) over every tracked
#           .c and .h file
# and prints the tests ctest skipped in each build and, last, one line
# "N passed, N failed" over all of them (a fuzz target's replay, the format
# check and a build that fails count as one each). Exits 1 if anything failed.
# The build directories build-test-* are kept, so a second run only rebuilds
# what changed. Safe to run again.
# Usage: deploy/run-tests.sh [STEP...]   (STEP: normal asan clang fuzz format;
# default all of them, which is what CI runs)
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
all_steps="normal asan clang fuzz format"
steps=" ${*:-$all_steps} "
for s in $steps; do
	case " $all_steps " in
	*" $s "*) ;;
	*)
		echo "usage: $0 [STEP...]; steps: $all_steps" >&2
		exit 2
		;;
	esac
done
want() { [[ $steps == *" $1 "* ]]; }
bash deploy/install-deps.sh test || exit 1

jobs=$(nproc)
export OPENBLAS_NUM_THREADS=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
logs=$src/build-test-logs
mkdir -p "$logs"
start=$SECONDS

passed=0
failed=0
skipped_report=()
failures=()
count() { # count passed|failed WHAT
	if [ "$1" = passed ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$2")
	fi
}
elapsed() {
	local s=$((SECONDS - start))
	printf '%d:%02d' $((s / 60)) $((s % 60))
}

# build VARIANT CC CMAKE-OPTIONS... [-- TARGETS...]: configures and builds
# build-test-VARIANT with the compiler CC; the log is kept in build-test-logs.
build() {
	local variant=$1 cc=$2 dir=build-test-$1 opts=() targets=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	if [ $# -gt 0 ]; then
		shift
		targets=(--target "$@")
	fi
	echo "== $variant build ($dir) [$(elapsed)]"
	if ! { CC=$cc cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${opts[@]}" &&
		cmake --build "$dir" -j"$jobs" "${targets[@]}"; } >"$logs/$variant-build.log" 2>&1; then
		tail -n 40 "$logs/$variant-build.log"
		echo "FAIL $variant build (log: $logs/$variant-build.log)"
		count failed "$variant build"
		return 1
	fi
}

# tests VARIANT [CTEST-OPTIONS...]: runs ctest in build-test-VARIANT and
# counts every test's result; the tests ctest skipped are listed at the end.
tests() {
	local variant=$1 dir=build-test-$1 log=$logs/$1-ctest.log name status
	shift
	echo "== $variant tests [$(elapsed)]"
	ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 900 "$@" 2>&1 | tee "$log"
	# "  3/41 Test  #3: unit_encode ......   Passed    0.02 sec", or
	# "***Failed", "***Skipped", "***Timeout", "***Exception: ...", "***Not Run".
	local skipped=()
	while read -r name status; do
		case $status in
		Passed) count passed ;;
		Skipped) skipped+=("$name") ;;
		Not) count failed "$variant: $name (Not Run)" ;;
		*) count failed "$variant: $name ($status)" ;;
		esac
	done < <(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ *]*\)[ .]*\**\([A-Za-z]*\).*/\1 \2/p' "$log")
	if ! grep -q '^ *[0-9]*/[0-9]* Test *#' "$log"; then
		count failed "$variant: ctest ran no test"
	fi
	skipped_report+=("$variant: ${#skipped[@]} skipped${skipped[*]:+: ${skipped[*]}}")
}

fl_fault=-DFL_FAULT_INJECTION=ON

want normal && build normal cc -DFL_WERROR=ON $fl_fault && tests normal
want asan && build asan cc -DFL_WERROR=ON $fl_fault -DFL_ENABLE_ASAN=ON && tests asan
want clang && build clang clang -DFL_WERROR=ON $fl_fault -DFL_BUILD_BENCH=ON &&
	tests clang -R '^unit_'

# The libFuzzer binaries themselves (the replay_<target> ctests of the other
# builds use a plain main()): every corpus input once, no fuzzing
# (-runs=0); a crash, a sanitizer report or a leak fails the target.
fuzz_targets=$(sed -n 's/^set(FL_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)
if ! want fuzz; then
	:
elif [ -z "$fuzz_targets" ]; then
	echo "FAIL fuzz: no FL_FUZZ_TARGETS in tests/fuzz/CMakeLists.txt"
	count failed "fuzz: target list"
elif build fuzz clang -DFL_BUILD_FUZZERS=ON -- $(printf 'fuzz_%s ' $fuzz_targets); then
	echo "== fuzz corpora replayed by the libFuzzer builds [$(elapsed)]"
	for t in $fuzz_targets; do
		log=$logs/fuzz-$t.log
		n=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
		if [ "$n" -eq 0 ]; then
			echo "FAIL fuzz_$t: tests/fuzz/corpus/$t is empty"
			count failed "fuzz_$t: empty corpus"
		elif build-test-fuzz/tests/fuzz/fuzz_$t -runs=0 -artifact_prefix="$logs/fuzz-$t-" \
			"tests/fuzz/corpus/$t" >"$log" 2>&1; then
			echo "ok   fuzz_$t: $n inputs"
			count passed
		else
			tail -n 40 "$log"
			echo "FAIL fuzz_$t (log: $log)"
			count failed "fuzz_$t"
		fi
	done
fi

if want format; then
	echo "== format [$(elapsed)]"
	if bash deploy/check-format.sh; then count passed; else count failed "format"; fi
fi

echo "== summary [$(elapsed)]"
for line in "${skipped_report[@]}"; do echo "skipped in $line"; done
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
