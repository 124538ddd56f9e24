#!/usr/bin/env bash
# The coordinator's HTTP endpoint, as an operator and Prometheus see it,
# before, during and after a federation: /healthz, /status (JSON),
# /metrics (Prometheus text format), 404 for other paths, and other
# methods than GET and HEAD refused.
# "During" is made deterministic by the nodes stopping themselves just
# after advertising their keys for round 5 (FEDLEAD_FAULT=pause@key_advert@5):
# the coordinator then waits in the middle of training, four rounds done.
. "$(dirname "$0")/lib/fed.bash"
need_fault_points

pki p1 p2
split_coil 2
coordinator_conf "$T/coord/coordinator.conf" "p1, p2" "min_partners = 2" "algorithm = newton" \
	"l2 = 1" "validation_split = 0.2"
LOG=$T/coord/coordinator.log
start_coordinator "$T/coord" || { bad "coordinator starts"; finish; exit 1; }

get() { http_get "$1" >"$T/resp"; } # get PATH: status, type, body in $T/resp
code() { sed -n 1p "$T/resp"; }
ctype() { sed -n 2p "$T/resp"; }
body() { tail -n +3 "$T/resp"; }
status_has() { # status_has PYTHON-CONDITION on j = /status
	get /status && [ "$(code)" = 200 ] && body >"$T/status.json" &&
		"$PY" -c 'import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$T/status.json" "$1"
}
# metrics_ok: /metrics is valid Prometheus text: every sample has # HELP and
# # TYPE before it, a legal name, labels and a value Go's ParseFloat takes.
metrics_ok() {
	get /metrics && [ "$(code)" = 200 ] && body >"$T/metrics.txt" &&
		"$PY" - "$T/metrics.txt" <<'PYEOF'
import re, sys
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? '
                    r'([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?i:inf|nan))$')
help_, type_, seen, bad = set(), {}, set(), []
text = open(sys.argv[1]).read()
if not text.endswith("\n"):
    bad.append("no final newline")
for line in text.splitlines():
    if line.startswith("# HELP "):
        help_.add(line.split()[2])
    elif line.startswith("# TYPE "):
        _, _, name, kind = line.split(None, 3)
        type_[name] = kind
        if kind not in ("counter", "gauge", "histogram", "summary", "untyped"):
            bad.append("type %s" % kind)
    elif line.startswith("#") or not line:
        continue
    else:
        m = sample.match(line)
        if not m:
            bad.append("not a sample: %r" % line)
            continue
        name = m.group(1)
        if name not in help_ or name not in type_:
            bad.append("%s without HELP/TYPE before it" % name)
        seen.add(name)
for want in ("fedlead_round", "fedlead_partners_connected"):
    if want not in seen:
        bad.append("no %s" % want)
for b in bad[:10]:
    print("  metrics: " + b)
sys.exit(1 if bad else 0)
PYEOF
}
metric() { # metric NAME: its value
	sed -n "s/^$1{federation=\"test-federation\"} //p" "$T/metrics.txt"
}

# ---- waiting for partners ----
get /healthz
check "/healthz answers 200 ok" test "$(code) $(body)" = "200 ok"
get /status
check "/status is JSON (Content-Type)" test "$(ctype)" = application/json
check "/status while waiting: federation, phase, round 0, partners 2/0/0" \
	status_has 'j["federation"] == "test-federation" and j["phase"] == "waiting" and j["round"] == 0
and j["partners"] == {"expected": 2, "connected": 0, "participating": 0}'
check "/status lists both partners, none connected" \
	status_has '[(p["name"], p["connected"]) for p in j["partner_list"]] == [("p1", False), ("p2", False)]'
check "/metrics is valid Prometheus text with fedlead_round and fedlead_partners_connected" metrics_ok
check "/metrics content type is Prometheus text 0.0.4" \
	test "$(ctype)" = "text/plain; version=0.0.4"
check "/metrics while waiting: round 0, nobody connected, phase 0" \
	test "$(metric fedlead_round) $(metric fedlead_partners_connected) $(metric fedlead_phase)" = "0 0 0"

# ---- one partner in ----
FEDLEAD_FAULT=pause@key_advert@5 start_node p1 "$T/p1.csv" --min-partners 2 # two partners: lowered explicitly
n1=$NODE_PID
check "/status counts p1 once it has joined" wait_for 20 status_has \
	'j["partners"]["connected"] == 1 and j["phase"] == "waiting" and j["partner_list"][0]["connected"]'
metrics_ok
check "/metrics counts p1" test "$(metric fedlead_partners_connected)" = 1

# ---- training, paused ----
FEDLEAD_FAULT=pause@key_advert@5 start_node p2 "$T/p2.csv" --min-partners 2
n2=$NODE_PID
must "training reaches round 5: p1 pauses there" wait_paused 60 "$n1" "$T/node-p1/node.log" key_advert@5
must "training reaches round 5: p2 pauses there" wait_paused 60 "$n2" "$T/node-p2/node.log" key_advert@5
check "/status mid-training: phase training, round >= 4, partners 2/2/2, history" \
	status_has 'j["phase"] == "training" and j["round"] >= 4
and j["partners"] == {"expected": 2, "connected": 2, "participating": 2}
and len(j["history"]) >= 3 and j["history"][0]["kind"] == "stats"
and 0 < j["valid_auc"] < 1 and j["train_loss"] > 0 and j["algorithm"] == "newton"'
round=$(jget "$T/status.json" 'j["round"]')
check "/metrics is still valid mid-training" metrics_ok
check "/metrics round agrees with /status ($round)" test "$(metric fedlead_round)" = "$round"
check "/metrics mid-training: 2 connected, 2 participating, phase 2" \
	test "$(metric fedlead_partners_connected) $(metric fedlead_partners_participating) $(metric fedlead_phase)" = "2 2 2"
check "/metrics validation AUC agrees with /status" \
	"$PY" -c "import sys; sys.exit(0 if abs(float('$(metric fedlead_valid_auc)') - $(jget "$T/status.json" 'j["valid_auc"]')) < 1e-9 else 1)"

# ---- anything else ----
get /nope
check "an unknown path is 404" test "$(code)" = 404
get /status/extra
check "a path below /status is 404" test "$(code)" = 404
get /Status
check "paths are case-sensitive: /Status is 404" test "$(code)" = 404
# method CODE METHOD PATH [BODY]: the endpoint answers METHOD with CODE.
method() {
	"$PY" - "$HTTP_PORT" "$@" <<'PYEOF'
import sys, urllib.request, urllib.error
port, want, meth, path = sys.argv[1:5]
data = sys.argv[5].encode() if len(sys.argv) > 5 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=data, method=meth)
try:
    r = urllib.request.urlopen(req, timeout=5)
    code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, b""
if meth == "HEAD" and body:
    print("HEAD %s: a body of %d bytes" % (path, len(body)))
    sys.exit(1)
sys.exit(0 if code == int(want) else 1)
PYEOF
}
check "HEAD /healthz answers 200 without a body" method 200 HEAD /healthz
check "POST /status is not implemented (501)" method 501 POST /status ""
check "POST /status with a body is refused (413: no request bodies)" method 413 POST /status x
check "DELETE /status is not implemented (501)" method 501 DELETE /status

check "p1 resumes" resume "$n1" "$T/node-p1/node.log" key_advert@5
check "p2 resumes" resume "$n2" "$T/node-p2/node.log" key_advert@5
check "the federation finishes with status 0" wait_pid "$COORD_PID" 90
check "node p1 finishes" wait_pid "$n1" 30
check "node p2 finishes" wait_pid "$n2" 30
check "the HTTP endpoint is gone with the coordinator" \
	bash -c "! $PY -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:$HTTP_PORT/healthz\", timeout=2)' 2>/dev/null"
check "no sanitizer report in any log" sanitizer_clean
finish
