#!/usr/bin/env bash
# End-to-end test of the deployment files: `cmake --install` into temporary
# DESTDIRs (every expected file, its mode, templates filled in for the
# prefix, an operator's configuration kept on reinstall), the systemd units
# (systemd-analyze verify and an offline security review; the hardening a
# security team asks for is really there), the sysusers.d entry, the man
# pages (rendered without a warning by every renderer present, and listing
# every option and setting the programs' --help lists, with its default), and
# the installed example configurations (accepted by the installed programs'
# --check with certificates from the installed fedlead-ca).
#
# Nothing is written outside a temporary directory: every install uses
# DESTDIR. Checks whose tool is missing are skipped, and say so; the test then
# exits 77 (ctest: skipped) unless something failed.
#
# Run by ctest with FL_BIN (build directory) and FL_SRC (source root). By hand:
#   FL_BIN=build FL_SRC=. bash tests/e2e/deploy.sh
set -euo pipefail

: "${FL_BIN:?FL_BIN must name the build directory}"
: "${FL_SRC:?FL_SRC must name the source root}"
FL_BIN=$(cd "$FL_BIN" && pwd)
FL_SRC=$(cd "$FL_SRC" && pwd)
SCHEMA=$FL_SRC/tests/data/coil2000/coil2000.schema.json
export LC_ALL=C
# The configuration directory the build was configured with (FL_SYSCONFDIR).
SYSCONF=$(sed -n 's/^FL_SYSCONFDIR:[A-Z]*=//p' "$FL_BIN/CMakeCache.txt")
SYSCONF=${SYSCONF:-/etc/fedlead}

T=$(mktemp -d "${TMPDIR:-/tmp}/fedlead-deploy.XXXXXX")
passed=0
failed=0
skipped=0
cleanup() {
	if [ "$failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT

ok() {
	passed=$((passed + 1))
	echo "ok   $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	for line in "$@"; do echo "     $line"; done
}
skip() {
	skipped=$((skipped + 1))
	echo "skip $1"
}
# check NAME COMMAND...: the command's output is shown only when it fails.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}

# install_to DESTDIR PREFIX: cmake --install of the build, log in DESTDIR.log.
install_to() {
	DESTDIR=$1 cmake --install "$FL_BIN" --prefix "$2" >"$1.log" 2>&1
}

# ---- 1. the default install: /usr/local and /etc/fedlead ----------------
R=$T/root
P=$R/usr/local
if install_to "$R" /usr/local; then
	ok "cmake --install into DESTDIR succeeds"
else
	bad "cmake --install into DESTDIR succeeds" "$(tail -n 20 "$R.log")"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
fi

# expect MODE PATH...: each file exists, is a regular file and has MODE.
expect() {
	local mode=$1 f m
	shift
	for f in "$@"; do
		if [ ! -f "$f" ]; then
			bad "installed: ${f#"$R"}" "missing"
			continue
		fi
		m=$(stat -c %a "$f")
		if [ "$m" = "$mode" ]; then ok "installed: ${f#"$R"} (mode $m)"; else
			bad "installed: ${f#"$R"}" "mode $m, expected $mode"
		fi
	done
}
expect 755 "$P/bin/fedlead-coordinator" "$P/bin/fedlead-node" "$P/bin/fedlead-score" \
	"$P/bin/fedlead-ca"
expect 644 "$P/lib/systemd/system/fedlead-coordinator.service" \
	"$P/lib/systemd/system/fedlead-node.service" "$P/lib/sysusers.d/fedlead.conf" \
	"$P/lib/systemd/system/fedlead-score-serve.service" \
	"$P/share/man/man1/fedlead-coordinator.1" "$P/share/man/man1/fedlead-node.1" \
	"$P/share/man/man1/fedlead-score.1" "$P/share/man/man1/fedlead-ca.1" \
	"$P/share/man/man1/fedlead-score-serve.1" \
	"$P/share/man/man5/fedlead.conf.5" \
	"$R$SYSCONF/coordinator.conf" "$R$SYSCONF/node.conf" "$R$SYSCONF/score-serve.conf" \
	"$P/share/doc/fedlead/examples/coordinator.conf" \
	"$P/share/doc/fedlead/examples/node.conf" \
	"$P/share/doc/fedlead/examples/score-serve.conf"

stray=$(find "$R" -mindepth 1 \( -type f -o -type l \) | grep -v -e "^$R/usr/local/" -e "^$R$SYSCONF/" || true)
if [ -z "$stray" ]; then ok "nothing installed outside the prefix and $SYSCONF"; else
	bad "nothing installed outside the prefix and $SYSCONF" "$stray"
fi
loose=$(find "$R" \( -perm -o+w -o -perm -u+s -o -perm -g+s \) ! -type l || true)
if [ -z "$loose" ]; then ok "no installed file or directory is world-writable, setuid or setgid"; else
	bad "no installed file or directory is world-writable, setuid or setgid" "$loose"
fi
left=$(grep -rl '@FL_[A-Z_]*@' "$R" || true)
if [ -z "$left" ]; then ok "every template placeholder is filled in"; else
	bad "every template placeholder is filled in" "$left"
fi

# The installed programs run and agree on the version the man pages carry.
version=$("$P/bin/fedlead-coordinator" --version | awk '{ print $2 }')
for prog in fedlead-coordinator fedlead-node fedlead-score fedlead-ca; do
	check "installed $prog --version says $version" \
		grep -qx "$prog $version" <("$P/bin/$prog" --version)
done
for page in "$P"/share/man/man1/*.1 "$P"/share/man/man5/*.5; do
	check "$(basename "$page") is for fedlead $version" \
		grep -q "^\.TH .* \"fedlead $version\"" "$page"
done

# ---- 2. the units --------------------------------------------------------
U=$P/lib/systemd/system
check "coordinator unit starts the installed program with the installed configuration" \
	grep -qxF "ExecStart=/usr/local/bin/fedlead-coordinator --config $SYSCONF/coordinator.conf" \
	"$U/fedlead-coordinator.service"
check "node unit starts the installed program with the installed configuration" \
	grep -qxF "ExecStart=/usr/local/bin/fedlead-node join --config $SYSCONF/node.conf" \
	"$U/fedlead-node.service"
check "coordinator unit reloads with SIGHUP" \
	grep -qxF "ExecReload=/bin/kill -HUP \$MAINPID" "$U/fedlead-coordinator.service"
check "coordinator unit allows max_connections' worth of descriptors" \
	grep -qx 'LimitNOFILE=65536' "$U/fedlead-coordinator.service"
for unit in fedlead-coordinator fedlead-node fedlead-score-serve; do
	missing=()
	for line in User=fedlead Group=fedlead NoNewPrivileges=yes ProtectSystem=strict \
		ProtectHome=yes PrivateTmp=yes PrivateDevices=yes "StateDirectory=$unit" \
		CapabilityBoundingSet= AmbientCapabilities= UMask=0077 \
		'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service \
		SystemCallArchitectures=native LockPersonality=yes MemoryDenyWriteExecute=yes \
		ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
		ProtectControlGroups=yes RestrictNamespaces=yes RestrictRealtime=yes \
		RestrictSUIDSGID=yes Restart=on-failure RestartPreventExitStatus=2 \
		KillSignal=SIGTERM TimeoutStopSec=30s; do
		grep -qxF "$line" "$U/$unit.service" || missing+=("$line")
	done
	if [ ${#missing[@]} -eq 0 ]; then ok "$unit unit has the hardening and restart settings"; else
		bad "$unit unit has the hardening and restart settings" "missing: ${missing[*]}"
	fi
done
check "coordinator unit keeps $SYSCONF read-only" \
	grep -qxF "ReadOnlyPaths=$SYSCONF" "$U/fedlead-coordinator.service"
check "node unit keeps $SYSCONF and the lead export read-only" \
	grep -qxF "ReadOnlyPaths=$SYSCONF -/srv/crm-export" "$U/fedlead-node.service"
check "node unit reloads with SIGHUP" \
	grep -qxF "ExecReload=/bin/kill -HUP \$MAINPID" "$U/fedlead-node.service"
check "scoring service unit starts the installed program with the installed configuration" \
	grep -qxF "ExecStart=/usr/local/bin/fedlead-score serve --config $SYSCONF/score-serve.conf" \
	"$U/fedlead-score-serve.service"
check "scoring service unit reloads the model with SIGHUP" \
	grep -qxF "ExecReload=/bin/kill -HUP \$MAINPID" "$U/fedlead-score-serve.service"
check "scoring service unit reads the model and the configuration, never writes them" \
	grep -qxF "ReadOnlyPaths=$SYSCONF -/var/lib/fedlead-node -/srv/crm-export" \
	"$U/fedlead-score-serve.service"

if command -v systemd-analyze >/dev/null 2>&1; then
	# The units name /usr/local/bin; verify copies that point into the
	# DESTDIR, so the programs they start exist. MANPATH lets verify find the
	# man pages the units' Documentation= names.
	mkdir -p "$T/units"
	for unit in fedlead-coordinator fedlead-node fedlead-score-serve; do
		sed "s#^ExecStart=/usr/local/bin/#ExecStart=$P/bin/#" "$U/$unit.service" >"$T/units/$unit.service"
	done
	if out=$(MANPATH=$P/share/man systemd-analyze verify "$T/units/fedlead-coordinator.service" \
		"$T/units/fedlead-node.service" "$T/units/fedlead-score-serve.service" 2>&1) &&
		[ -z "$out" ]; then
		ok "systemd-analyze verify: the three units clean, their man pages found"
	else
		bad "systemd-analyze verify: the three units clean, their man pages found" "$out"
	fi
	for unit in fedlead-coordinator fedlead-node fedlead-score-serve; do
		# --threshold is ten times the exposure level printed: at most 2.0.
		if out=$(systemd-analyze security --offline=yes --man=no --threshold=20 \
			"$T/units/$unit.service" 2>&1); then
			ok "systemd-analyze security: $unit $(printf '%s\n' "$out" | grep -o 'exposure level.*' | tail -n 1)"
		else
			bad "systemd-analyze security: $unit exposure at most 2.0" \
				"$(printf '%s\n' "$out" | grep -E '✗|Overall')"
		fi
	done
else
	skip "systemd-analyze verify and security (systemd-analyze not installed: apt-get install systemd)"
fi

if command -v systemd-sysusers >/dev/null 2>&1; then
	if out=$(systemd-sysusers --root="$T/sysroot" --dry-run "$P/lib/sysusers.d/fedlead.conf" 2>&1) &&
		grep -q "Creating user 'fedlead'" <<<"$out" && grep -q "Creating group 'fedlead'" <<<"$out"; then
		ok "sysusers.d entry creates the fedlead user and group"
	else
		bad "sysusers.d entry creates the fedlead user and group" "$out"
	fi
else
	skip "sysusers.d entry (systemd-sysusers not installed)"
fi

# ---- 3. the man pages ------------------------------------------------------
pages=("$P"/share/man/man1/*.1 "$P"/share/man/man5/*.5)
renderers=0
if command -v mandoc >/dev/null 2>&1; then
	renderers=$((renderers + 1))
	for page in "${pages[@]}"; do
		if out=$(mandoc -T lint -W warning "$page" 2>&1) && [ -z "$out" ]; then
			ok "mandoc -T lint: $(basename "$page") has no warning"
		else bad "mandoc -T lint: $(basename "$page") has no warning" "$out"; fi
	done
else
	skip "mandoc -T lint (mandoc not installed: apt-get install mandoc)"
fi
if command -v groff >/dev/null 2>&1; then
	renderers=$((renderers + 1))
	for page in "${pages[@]}"; do
		if out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) && [ -z "$out" ]; then
			ok "groff -ww: $(basename "$page") renders without a warning"
		else bad "groff -ww: $(basename "$page") renders without a warning" "$out"; fi
	done
else
	skip "groff (groff-base not installed)"
fi

# The options and settings each program's --help lists, against the rendered
# pages: every one documented, and with the default --help gives.
if command -v man >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
	renderers=$((renderers + 1))
	mkdir -p "$T/txt" "$T/help"
	for page in "${pages[@]}"; do
		MANWIDTH=1000 man -l "$page" 2>"$T/txt/$(basename "$page").err" | col -bx \
			>"$T/txt/$(basename "$page").txt"
		if [ -s "$T/txt/$(basename "$page").err" ] || ! grep -q '^NAME' "$T/txt/$(basename "$page").txt"; then
			bad "man -l renders $(basename "$page")" "$(cat "$T/txt/$(basename "$page").err")"
		else
			ok "man -l renders $(basename "$page")"
		fi
	done
	"$P/bin/fedlead-coordinator" --help >"$T/help/coordinator"
	"$P/bin/fedlead-node" join --help >"$T/help/join"
	"$P/bin/fedlead-node" --help >"$T/help/node"
	"$P/bin/fedlead-score" --help >"$T/help/score"
	"$P/bin/fedlead-ca" --help >"$T/help/ca"
	if out=$(python3 - "$T/help" "$T/txt" 2>&1 <<'EOF'
import re, sys

helpdir, txtdir = sys.argv[1], sys.argv[2]
def read(p):
    return open(p, encoding="utf-8", errors="replace").read()
problems = []

def settings(helptext):
    """(section, flag, default or None) for each setting line of --help."""
    out, section = [], None
    for line in helptext.splitlines():
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^  (--[a-z0-9-]+) ", line)
        if m and section:
            d = re.search(r"\(default: (.*)\)\s*$", line)
            out.append((section, m.group(1), d.group(1) if d else None))
    return out

def entry(text, start_re):
    """The text of the man page entry whose first line matches start_re."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(start_re, line):
            body = [line]
            for nxt in lines[i + 1:]:
                if nxt.strip() and not nxt.startswith("\t") and not nxt.startswith("        "):
                    break
                body.append(nxt)
            return " ".join(" ".join(body).split())
    return None

def has_default(body, dflt):
    d = re.escape(dflt)
    return re.search(r"default:? " + d + r"(?![\w.])", body, re.I) or \
        re.search(r"(?<![\w.])" + d + r" \(default\)", body, re.I)

def part(text, start, end=None):
    i = text.find(start)
    if i < 0:
        return ""
    j = text.find(end, i + len(start)) if end else -1
    return text[i:j] if j >= 0 else text[i:]

conf5 = read(f"{txtdir}/fedlead.conf.5.txt")
for prog, helpfile, page, page_from, conf_from, conf_to in [
        ("fedlead-coordinator", "coordinator", "fedlead-coordinator.1", "OPTIONS",
         "COORDINATOR SETTINGS", "NODE SETTINGS"),
        ("fedlead-node join", "join", "fedlead-node.1", "join settings",
         "NODE SETTINGS", "UNDER SYSTEMD")]:
    man1 = part(read(f"{txtdir}/{page}.txt"), page_from)
    confpart = part(conf5, conf_from, conf_to)
    for section, flag, dflt in settings(read(f"{helpdir}/{helpfile}")):
        body = entry(man1, r"^\s+" + re.escape(flag) + r"\b")
        if body is None:
            problems.append(f"{page}: {flag} ({prog} --help) is not documented")
        elif dflt is not None and not has_default(body, dflt):
            problems.append(f"{page}: {flag}: default {dflt!r} (--help) not stated: {body[:160]}")
        key = flag[2:].replace("-", "_")
        sec = part(confpart, f"[{section}]\n", "\n   [")
        body = entry(sec, r"^\s+" + re.escape(key) + r"\b")
        if body is None:
            problems.append(f"fedlead.conf.5: {key} is not documented in [{section}] for {prog}")
        elif dflt is not None and not has_default(body, dflt):
            problems.append(f"fedlead.conf.5: {key}: default {dflt!r} (--help) not stated: {body[:160]}")

# Programs with plain options: every --option of --help is on the page.
for helpfile, page in [("node", "fedlead-node.1"), ("score", "fedlead-score.1"),
                       ("ca", "fedlead-ca.1")]:
    text = read(f"{txtdir}/{page}.txt")
    for opt in sorted(set(re.findall(r"--[a-z][a-z0-9-]*", read(f"{helpdir}/{helpfile}")))):
        if not re.search(re.escape(opt) + r"(?![a-z0-9-])", text):
            problems.append(f"{page}: {opt} (--help) is not documented")
node_cmds = re.findall(r"^([a-z]+) {2,}\S", read(f"{helpdir}/node"), re.M)
if len(node_cmds) < 5:
    problems.append(f"fedlead-node --help lists only the commands {node_cmds}")
for cmd in node_cmds:
    if not re.search(r"^   " + cmd + r"$", read(f"{txtdir}/fedlead-node.1.txt"), re.M):
        problems.append(f"fedlead-node.1: no section for the {cmd} command")
for cmd in ["init", "issue", "csr", "sign", "renew", "revoke", "crl", "list"]:
    if not re.search(r"^\s+" + cmd + r" --", read(f"{txtdir}/fedlead-ca.1.txt"), re.M):
        problems.append(f"fedlead-ca.1: no entry for the {cmd} command")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
	); then
		ok "man pages document every option and setting of --help, with its default"
	else
		bad "man pages document every option and setting of --help, with its default" "$out"
	fi
else
	skip "man -l rendering and option coverage (man-db or python3 not installed)"
fi
if [ "$renderers" -eq 0 ]; then
	skip "man pages not rendered at all: apt-get install groff-base man-db mandoc"
fi

# ---- 4. the installed example configurations are accepted -----------------
# Certificates from the installed fedlead-ca; the examples' paths moved into
# the temporary directory. --check loads the schema, CA, certificate and key.
if command -v openssl >/dev/null 2>&1; then
	E=$T/etc
	mkdir -p "$E/pki"
	"$P/bin/fedlead-ca" init --dir "$E/ca" >/dev/null
	"$P/bin/fedlead-ca" issue --dir "$E/ca" --name coordinator --role coordinator \
		--dns coordinator.example.org --out "$E/pki/coordinator" >/dev/null
	"$P/bin/fedlead-ca" issue --dir "$E/ca" --name acme --role partner --out "$E/pki/acme" >/dev/null
	cp "$E/ca/ca.crt" "$E/ca/crl.pem" "$E/pki/"
	cp "$SCHEMA" "$E/leads.schema.json"
	for conf in coordinator node; do
		sed -e "s#$SYSCONF/#$E/#g" -e "s#/var/lib/fedlead-#$T/state-#g" \
			-e "s#^; crl = #crl = #" "$R$SYSCONF/$conf.conf" >"$E/$conf.conf"
	done
	sed -i "s#^data = .*#data = $FL_SRC/tests/data/coil2000/train.csv#" "$E/node.conf"
	check "installed coordinator.conf passes fedlead-coordinator --check" \
		"$P/bin/fedlead-coordinator" --config "$E/coordinator.conf" --check
	check "installed node.conf passes fedlead-node join --check" \
		"$P/bin/fedlead-node" join --config "$E/node.conf" --check
else
	skip "installed example configurations (openssl not installed)"
fi

# ---- 5. the Docker demo's files, without Docker ----------------------------
# demo-init.sh (the compose init service) with the installed fedlead-ca, then
# every compose.yaml service command, paths moved into the temporary
# directory, run with --check by the installed programs: the configurations
# it mounts and the flags it adds are accepted, and the certificates the init
# service made load.
if command -v openssl >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
	D=$T/docker
	mkdir -p "$D/share" "$D/etc"
	cp "$FL_SRC/tests/data/coil2000/train.csv" "$SCHEMA" "$D/share/"
	if out=$(PATH=$P/bin:$PATH FL_DEMO_SHARE=$D/share FL_DEMO_CA=$D/ca/ca FL_DEMO_OUT=$D/srv \
		bash "$FL_SRC/deploy/docker/demo-init.sh" 2>&1) &&
		[ -f "$D/srv/.ready" ] && [ "$(stat -c %a "$D/srv/pki/acme.key")" = 600 ] &&
		[ "$(stat -c %a "$D/srv/dashboard.token")" = 600 ] &&
		grep -qxE '[0-9a-f]{64}' "$D/srv/dashboard.token"; then
		ok "docker demo-init.sh mints the certificates and the dashboard token and splits the leads"
	else
		bad "docker demo-init.sh mints the certificates and the dashboard token and splits the leads" "$out"
	fi
	for f in acme globex initech holdout; do tail -n +2 "$D/srv/data/$f.csv"; done | sort >"$D/split"
	tail -n +2 "$FL_SRC/tests/data/coil2000/train.csv" | sort >"$D/all"
	check "docker demo-init.sh puts every lead in exactly one file" cmp "$D/split" "$D/all"
	for conf in coordinator node; do
		sed -e "s#/srv/fedlead#$D/srv#g" -e "s#/var/lib/fedlead#$D/state#g" \
			"$FL_SRC/deploy/docker/$conf.conf" >"$D/etc/$conf.conf"
	done
	if out=$(python3 - "$FL_SRC/deploy/docker/compose.yaml" "$P/bin" "$D" 2>&1 <<'EOF_PY'
import json, re, subprocess, sys

compose, bindir, d = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(compose).read()
services = re.findall(r"^  ([a-z]+):\n((?:    .*\n|\n)*)", 
                      text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0], re.M)
problems, seen = [], []
for name, body in services:
    m = re.search(r"^    command: (\[.*?\])", body, re.M | re.S)
    if not m:
        problems.append(f"{name}: no command")
        continue
    argv = json.loads(m.group(1))
    if name == "init":
        if argv != ["/usr/local/share/fedlead/demo/demo-init.sh"]:
            problems.append(f"init: unexpected command {argv}")
        continue
    seen.append(name)
    argv = [a.replace("/srv/fedlead", f"{d}/srv").replace("/etc/fedlead", f"{d}/etc")
             .replace("/var/lib/fedlead", f"{d}/state") for a in argv]
    argv[0] = f"{bindir}/{argv[0]}"
    r = subprocess.run(argv + ["--check"], capture_output=True, text=True)
    if r.returncode != 0:
        problems.append(f"{name}: {' '.join(argv)} --check: exit {r.returncode}: {r.stderr.strip()}")
if sorted(seen) != ["acme", "coordinator", "globex", "initech"]:
    problems.append(f"services found: {seen}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF_PY
	); then
		ok "every compose.yaml service command passes --check"
	else
		bad "every compose.yaml service command passes --check" "$out"
	fi
else
	skip "docker demo files (openssl or python3 not installed)"
fi

# ---- 6. another prefix: units and pages follow it, /etc/fedlead does not ----
O=$T/opt
if install_to "$O" /opt/fedlead; then
	check "--prefix /opt/fedlead: the coordinator unit starts /opt/fedlead/bin/fedlead-coordinator" \
		grep -qxF "ExecStart=/opt/fedlead/bin/fedlead-coordinator --config $SYSCONF/coordinator.conf" \
		"$O/opt/fedlead/lib/systemd/system/fedlead-coordinator.service"
	check "--prefix /opt/fedlead: the node unit starts /opt/fedlead/bin/fedlead-node" \
		grep -qxF "ExecStart=/opt/fedlead/bin/fedlead-node join --config $SYSCONF/node.conf" \
		"$O/opt/fedlead/lib/systemd/system/fedlead-node.service"
	check "--prefix /opt/fedlead: the man page names the unit under the prefix" \
		grep -q '^\.I /opt/fedlead/lib/systemd/system/fedlead-coordinator.service' \
		"$O/opt/fedlead/share/man/man1/fedlead-coordinator.1"
	check "--prefix /opt/fedlead: configuration still goes to $SYSCONF" \
		test -f "$O$SYSCONF/coordinator.conf" -a -f "$O$SYSCONF/node.conf"
else
	bad "cmake --install --prefix /opt/fedlead succeeds" "$(tail -n 20 "$O.log")"
fi

# ---- 7. reinstalling keeps an operator's configuration ---------------------
K=$T/keep
mkdir -p "$K$SYSCONF"
printf '; edited by the operator\n[federation]\nid = ours\n' >"$K$SYSCONF/coordinator.conf"
cp "$K$SYSCONF/coordinator.conf" "$T/edited.conf"
sed "s#/etc/fedlead#$SYSCONF#g" "$FL_SRC/deploy/config/node.conf" >"$T/node.conf.expected"
if install_to "$K" /usr/local; then
	check "reinstall keeps an edited $SYSCONF/coordinator.conf" \
		cmp "$T/edited.conf" "$K$SYSCONF/coordinator.conf"
	check "reinstall says it kept the file" grep -qF "Keeping: $K$SYSCONF/coordinator.conf" "$K.log"
	check "reinstall still installs the missing node.conf" \
		cmp "$T/node.conf.expected" "$K$SYSCONF/node.conf"
	check "reinstall installs the pristine example next to the documentation" \
		cmp "$FL_SRC/deploy/config/coordinator.conf" \
		"$K/usr/local/share/doc/fedlead/examples/coordinator.conf"
else
	bad "cmake --install over an existing configuration succeeds" "$(tail -n 20 "$K.log")"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
# A check that could not run is not a pass: 77 is ctest's "skipped", with
# the reasons listed above ("skip ...").
[ "$skipped" -eq 0 ] || exit 77
