#!/usr/bin/env bash
# Checks that every tracked .c and .h file is formatted as .clang-format says
# (clang-format 14, Debian 12's): lists the files that are not and exits 1.
# Fix one with `clang-format -i FILE`. Usage: deploy/check-format.sh
# Outside a git checkout (an unpacked archive) it checks the .c and .h files
# of the source tree, leaving out build directories.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null; then
	echo "format: $cf is not installed (Debian package clang-format)" >&2
	exit 1
fi
if [ ! -f .clang-format ]; then
	echo "format: $src/.clang-format is missing" >&2
	exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files -- '*.c' '*.h')
else
	mapfile -t files < <(find . -mindepth 1 \( -name 'build*' -o -name '.*' \) -prune -o \
		-type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
fi
if [ ${#files[@]} -eq 0 ]; then
	echo "format: no .c or .h file found" >&2
	exit 1
fi
# One run over all files; every violation is reported as
# "FILE:LINE:COL: error: code should be clang-formatted [...]".
out=$("$cf" --style=file --dry-run -Werror "${files[@]}" 2>&1) && rc=0 || rc=$?
mapfile -t bad < <(printf '%s\n' "$out" |
	sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
if [ $rc -ne 0 ] && [ ${#bad[@]} -eq 0 ]; then
	echo "format: $cf failed:" >&2
	printf '%s\n' "$out" | tail -n 20 >&2
	exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
	echo "format: ${#bad[@]} of ${#files[@]} files are not formatted as .clang-format says" \
		"(clang-format -i FILE fixes one):"
	printf '  %s\n' "${bad[@]}"
	exit 1
fi
echo "format: all ${#files[@]} .c and .h files are formatted"
