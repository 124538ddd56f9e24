#!/usr/bin/env bash
# Installs what is missing, builds fedlead twice (normal, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs the whole test
# suite in both builds. Safe to run again.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
bash deploy/install-deps.sh test

jobs=$(nproc)
export OPENBLAS_NUM_THREADS=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

status=0
for variant in normal asan; do
	dir=build-test-$variant
	opts=(-DFL_WERROR=ON)
	[ "$variant" = asan ] && opts+=(-DFL_ENABLE_ASAN=ON)
	echo "== $variant build ($dir)"
	bash deploy/build.sh "$dir" "${opts[@]}"
	echo "== $variant tests"
	if ! ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 900; then
		status=1
	fi
done
if [ $status -ne 0 ]; then
	echo "fedlead: some tests failed (see above)" >&2
fi
exit $status
