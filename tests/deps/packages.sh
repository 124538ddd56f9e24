#!/usr/bin/env bash
# Every library and program the build finds comes from a Debian package that
# deploy/install-deps.sh installs for the mode that needs it.
#
# The README's first command installs only the build packages and then
# configures; if a find call that a build-mode configuration reaches needs a
# package that only the test mode installs, that command fails on a fresh
# machine while CI (which installs everything) stays green. This test is the
# check that catches that.
#
# The find calls are read from the CMake files themselves (pkg_check_modules,
# pkg_search_module, find_package, find_library, find_path, find_file,
# find_program in every CMakeLists.txt and *.cmake), so a new one is checked
# without editing this script. For each configuration checked, a call counts
# as needed when CMakeCache.txt shows it ran; what it found (the .pc file of
# each pkg-config module, the library, header or program) is mapped to its
# Debian package with `dpkg -S`, and that package must be in
# `deploy/install-deps.sh --list MODE` or be pulled in by one of those
# (Depends and Pre-Depends, as installed here).
#
# Configurations checked:
#   - the build directory under test (FL_BIN), against the mode it needs:
#     bench with FL_BUILD_BENCH, test with BUILD_TESTING, build otherwise;
#   - a scratch configure with -DBUILD_TESTING=OFF (what deploy/demo.sh and
#     the Dockerfile run), against the build mode;
#   - a scratch configure with -DBUILD_TESTING=OFF -DFL_BUILD_BENCH=ON, against
#     the bench mode.
# A find call that none of them reaches is a failure too: it would be checked
# by nothing.
#
# Run by ctest with FL_BIN (build directory) and FL_SRC (source root). By hand:
#   FL_BIN=build FL_SRC=. bash tests/deps/packages.sh
#   FL_BIN=build FL_SRC=. bash tests/deps/packages.sh --mode build
# --mode MODE checks only FL_BIN, against MODE (no scratch configures).
# Exits 77 (skipped) where dpkg is not available.
set -euo pipefail

: "${FL_BIN:?FL_BIN must name the build directory}"
: "${FL_SRC:?FL_SRC must name the source root}"
FL_BIN=$(cd "$FL_BIN" && pwd)
FL_SRC=$(cd "$FL_SRC" && pwd)
export LC_ALL=C
only_mode=
case "${1:-}" in
--mode)
	only_mode=${2:?--mode needs build, test or bench}
	;;
"") ;;
*)
	echo "usage: $0 [--mode build|test|bench]" >&2
	exit 2
	;;
esac

if ! command -v dpkg-query >/dev/null || ! dpkg-query -W dpkg >/dev/null 2>&1; then
	echo "skip: dpkg is not available here, so files cannot be mapped to Debian packages"
	exit 77
fi
if [ ! -f "$FL_BIN/CMakeCache.txt" ]; then
	echo "FAIL $FL_BIN/CMakeCache.txt does not exist: configure the build first"
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/fedlead-deps.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
}

# --- the find calls in the CMake files ---------------------------------------
# One line per call, fields separated by US (\037, which read does not merge
# like tabs): KIND, FIRST ARGUMENT, OTHER ARGUMENTS, FILE:LINE.
US=$'\037'
(cd "$FL_SRC" && find . -mindepth 1 \( -name 'build*' -o -name '.*' \) -prune -o \
	\( -name CMakeLists.txt -o -name '*.cmake' \) -type f -print) | sed 's|^\./||' | sort |
	while read -r f; do
		awk -v file="$f" '
		{ sub(/#.*/, ""); text = text $0 "\n" }
		END {
			re = "(^|[^A-Za-z0-9_])(pkg_check_modules|pkg_search_module|find_package|find_library|find_path|find_file|find_program)[ \t]*\\("
			pos = 0
			while (match(text, re)) {
				pre = substr(text, 1, RSTART - 1)
				call = substr(text, RSTART, RLENGTH)
				rest = substr(text, RSTART + RLENGTH)
				sub(/^[^A-Za-z_]/, "", call)
				kind = call
				sub(/[ \t]*\($/, "", kind)
				line = pos + gsub(/\n/, "\n", pre) + 1
				close_at = index(rest, ")")
				args = substr(rest, 1, close_at - 1)
				gsub(/[ \t\n]+/, " ", args)
				sub(/^ /, "", args)
				sub(/ $/, "", args)
				first = args
				sub(/ .*/, "", first)
				others = args
				if (index(others, " "))
					sub(/^[^ ]* /, "", others)
				else
					others = ""
				printf "%s\037%s\037%s\037%s:%d\n", kind, first, others, file, line
				consumed = substr(text, 1, RSTART + RLENGTH + close_at - 1)
				pos += gsub(/\n/, "\n", consumed)
				text = substr(text, RSTART + RLENGTH + close_at)
			}
		}' "$FL_SRC/$f"
	done >"$T/calls"
if [ ! -s "$T/calls" ]; then
	bad "no find call found in the CMake files under $FL_SRC: the parser is broken"
	exit 1
fi

# --- packages: owners of files, and what each mode installs ------------------
# Installed packages: NAME <tab> PROVIDES <tab> PRE-DEPENDS, DEPENDS
dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\t${Provides}\t${Pre-Depends}, ${Depends}\n' |
	awk -F'\t' '$2 ~ /^ii/ { print $1 "\t" $3 "\t" $4 }' >"$T/installed"

# closure MODE: the packages `install-deps.sh MODE` leaves installed, i.e. its
# list and everything installed here that they depend on (every installed
# alternative of an "a | b" dependency, and the providers of virtual ones).
closure() {
	bash "$FL_SRC/deploy/install-deps.sh" --list "$1" >"$T/list-$1"
	awk -F'\t' '
	function clean(d) {
		sub(/\(.*/, "", d)
		sub(/:.*/, "", d)
		gsub(/[ \t]/, "", d)
		return d
	}
	function add(p,   i, n, groups, g, alts, a, j) {
		if (p == "" || (p in seen))
			return
		seen[p] = 1
		if (p in deps) {
			n = split(deps[p], groups, ",")
			for (i = 1; i <= n; i++) {
				g = split(groups[i], alts, "|")
				for (j = 1; j <= g; j++) {
					a = clean(alts[j])
					if (a in deps)
						add(a)
					if (a in provider)
						for (k in providers)
							if (providers[k] == a)
								add(substr(k, 1, index(k, SUBSEP) - 1))
				}
			}
		}
	}
	FILENAME == ARGV[1] {
		deps[$1] = $3
		np = split($2, pv, ",")
		for (i = 1; i <= np; i++) {
			v = clean(pv[i])
			if (v != "") {
				provider[v] = 1
				providers[$1, v] = v
			}
		}
		next
	}
	{ add($1) }
	END { for (p in seen) print p }' "$T/installed" "$T/list-$1" | sort >"$T/closure-$1"
}

# owners FILE...: looks up, with as few dpkg-query runs as possible, the
# Debian package that ships each FILE (following symlinks that dpkg does not
# know, such as the alternatives behind /usr/bin/cc) into OWNER[FILE]; empty
# when no installed package ships it.
declare -A OWNER
owners() {
	local f todo=() real=()
	for f in "$@"; do
		[ -n "${OWNER[$f]+x}" ] || todo+=("$f")
	done
	[ ${#todo[@]} -gt 0 ] || return 0
	# "pkg[:arch][, pkg...]: /path"; several packages share only directories.
	while IFS= read -r line; do
		f=${line#*: }
		OWNER[$f]=$(printf '%s' "${line%%: /*}" | sed 's/[:,].*//')
	done < <(dpkg-query -S "${todo[@]}" 2>/dev/null | grep -v '^diversion ')
	for f in "${todo[@]}"; do
		if [ -z "${OWNER[$f]:-}" ]; then
			real+=("$(readlink -f "$f")")
		fi
	done
	if [ ${#real[@]} -gt 0 ]; then
		while IFS= read -r line; do
			OWNER[${line#*: }]=$(printf '%s' "${line%%: /*}" | sed 's/[:,].*//')
		done < <(dpkg-query -S "${real[@]}" 2>/dev/null | grep -v '^diversion ')
	fi
	for f in "${todo[@]}"; do
		if [ -z "${OWNER[$f]:-}" ]; then
			OWNER[$f]=${OWNER[$(readlink -f "$f")]:-}
		fi
	done
}

# cache NAME: the value of NAME in the CMakeCache.txt in $cache_file.
cache() {
	sed -n "s|^$1:[A-Z]*=||p" "$cache_file" | head -n 1
}

# evidence CALL-LINE: prints "FILE" lines, the files the call found in the
# configuration of $cache_file; nothing if the call did not run there.
evidence() {
	local kind=$1 first=$2 others=$3 v name dir m pc args pcexe
	case $kind in
	pkg_check_modules | pkg_search_module)
		args=$(cache "__pkg_config_arguments_$first")
		[ -n "$args" ] && [ "$(cache "${first}_FOUND")" = 1 ] || return 0
		pcexe=$(cache PKG_CONFIG_EXECUTABLE)
		for m in ${args//;/ }; do
			case $m in
			REQUIRED | QUIET | IMPORTED_TARGET | GLOBAL | NO_CMAKE_PATH | NO_CMAKE_ENVIRONMENT_PATH) continue ;;
			esac
			m=${m%%[<>=]*}
			if pc=$("${pcexe:-pkg-config}" --path "$m" 2>/dev/null); then
				echo "$pc"
			else
				echo "MISSING pkg-config module $m"
			fi
		done
		sed -n "s|^pkgcfg_lib_${first}_[^:]*:FILEPATH=||p" "$cache_file"
		;;
	find_library | find_program | find_file)
		v=$(cache "$first")
		[ -n "$v" ] && [[ $v != *-NOTFOUND ]] && echo "$v"
		;;
	find_path)
		v=$(cache "$first")
		[ -n "$v" ] && [[ $v != *-NOTFOUND ]] || return 0
		for name in $others; do
			# NAMES a b ...; the next upper-case keyword (HINTS, PATHS,
			# REQUIRED ...) ends the names.
			[ "$name" = NAMES ] && continue
			[[ $name =~ ^[A-Z][A-Z_]*$ ]] && break
			if [ -e "$v/$name" ]; then
				echo "$v/$name"
				return 0
			fi
		done
		echo "MISSING none of the names of $first is in $v"
		;;
	find_package)
		# A find module leaves its results in cache entries named after the
		# package (OPENSSL_SSL_LIBRARY); PkgConfig is the exception. A
		# config-file package leaves NAME_DIR, the folder of its config file.
		local prefixes=("${first^^}_" "${first}_")
		[ "$first" = PkgConfig ] && prefixes+=(PKG_CONFIG_)
		for v in "${prefixes[@]}"; do
			sed -n "s|^${v}[A-Za-z0-9_]*:FILEPATH=||p" "$cache_file" | grep -v -- '-NOTFOUND$' || true
		done | sort -u
		v=$(cache "${first}_DIR")
		if [ -n "$v" ] && [[ $v != *-NOTFOUND ]]; then
			ls "$v"/*[Cc]onfig.cmake 2>/dev/null | head -n 1
		fi
		;;
	esac
}

# check LABEL CACHE MODE: every find call that ran in the configuration of
# CACHE needs only packages that `install-deps.sh MODE` installs.
check() {
	local label=$1 mode=$3 kind first others where files f pkg what n i
	local -a whats=() found=()
	cache_file=$2
	closure "$mode"
	# The tools every configuration uses, whatever the CMake files say.
	{
		printf 'project()%sCMAKE_C_COMPILER%s%sthe C compiler\n' "$US" "$US" "$US"
		printf 'project()%sCMAKE_MAKE_PROGRAM%s%sthe build tool\n' "$US" "$US" "$US"
		printf 'project()%sCMAKE_COMMAND%s%scmake\n' "$US" "$US" "$US"
		cat "$T/calls"
	} >"$T/calls-$mode"
	while IFS=$US read -r kind first others where; do
		if [ "$kind" = "project()" ]; then
			files=$(cache "$first")
			what="$first ($where)"
		else
			files=$(evidence "$kind" "$first" "$others")
			what="$first ($kind at $where)"
		fi
		[ -n "$files" ] || continue
		echo "$kind $first $where" >>"$T/reached"
		whats+=("$what")
		found+=("$files")
	done <"$T/calls-$mode"
	mapfile -t files < <(printf '%s\n' "${found[@]}" | grep -v '^MISSING ')
	owners "${files[@]}"
	for i in "${!whats[@]}"; do
		what=${whats[$i]}
		n=0
		pkgs=()
		while read -r f; do
			if [[ $f == MISSING* ]]; then
				bad "$label: $what: ${f#MISSING }"
				n=-1000
				continue
			fi
			pkg=${OWNER[$f]:-}
			if [ -z "$pkg" ]; then
				bad "$label: $what found $f, which no Debian package installed here ships"
				n=-1000
			elif ! grep -qx "$pkg" "$T/closure-$mode"; then
				bad "$label: $what needs $pkg (it found $f), which \`deploy/install-deps.sh $mode\` does not install"
				n=-1000
			else
				n=$((n + 1))
				pkgs+=("$pkg")
			fi
		done <<<"${found[$i]}"
		if [ $n -gt 0 ]; then
			ok "$label: $what: $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')"
		fi
	done
}

mode_of() {
	cache_file=$1
	if [ "$(cache FL_BUILD_BENCH)" = ON ]; then
		echo bench
	elif [ "$(cache BUILD_TESTING)" = ON ]; then
		echo test
	else
		echo build
	fi
}

: >"$T/reached"
if [ -n "$only_mode" ]; then
	check "$only_mode-mode check of $(basename "$FL_BIN")" "$FL_BIN/CMakeCache.txt" "$only_mode"
else
	check "$(basename "$FL_BIN")" "$FL_BIN/CMakeCache.txt" "$(mode_of "$FL_BIN/CMakeCache.txt")"
	# The same compiler as the build under test: a clang build checks clang.
	cc=$(sed -n 's|^CMAKE_C_COMPILER:[A-Z]*=||p' "$FL_BIN/CMakeCache.txt")
	for mode in build bench; do
		opts=(-DBUILD_TESTING=OFF)
		[ $mode = bench ] && opts+=(-DFL_BUILD_BENCH=ON)
		if ! cmake -S "$FL_SRC" -B "$T/$mode" -DCMAKE_C_COMPILER="$cc" "${opts[@]}" \
			>"$T/$mode.log" 2>&1; then
			bad "$mode mode: cmake ${opts[*]} failed:"
			sed 's/^/     /' "$T/$mode.log" | tail -n 20
			continue
		fi
		check "$mode mode (${opts[*]})" "$T/$mode/CMakeCache.txt" $mode
	done
	# A call that no configuration above reached is checked by nothing.
	while IFS=$US read -r kind first others where; do
		if ! grep -qx "$kind $first $where" "$T/reached"; then
			bad "$kind($first) at $where ran in none of the configurations checked (or left nothing in CMakeCache.txt this script knows how to read): it is not checked"
		fi
	done <"$T/calls"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
