#!/usr/bin/env bash
# The federation's schema round proposes transforms (issue "Explainable
# non-linear effects"), with the real programs over mutual TLS 1.3: each
# partner's draft carries, for a numeric column its local draft gives a
# transform, that transform and a clip range from its 1st and 99th
# percentiles but at least k = schema_min_count values from each end,
# rounded outward to two significant digits, each bound one that at least
# k values round to (else moved inward), and no range for a column of
# fewer than max(4 k, 50) values (the fourth privacy review's finding 1
# and its review); the coordinator proposes the transform a majority
# proposed, with the union of the ranges sent.
#   (a) "Visits" has many distinct values at every partner: the proposal
#       has a spline with the union of p1's and p2's ranges, computed here
#       from the data independently of fedlead; p3 (120 leads, 100 of
#       them spread over [0, 1000], no rounding cell holding 10) sent the
#       spline without a range;
#   (b) "Rooms" has few distinct values everywhere: no transform, no clip;
#       "Score" has many at p1 only: no transform, and a note says who
#       proposed what;
#   (c) every partner's k smallest and k largest values (distinctive
#       numbers held by one lead each) are in nothing its node sent, nor in
#       any message the coordinator received, nor are their roundings (at
#       p1, 1000 leads, the 1st percentile by rank is the 10th smallest
#       value);
#   (d) each operator sees the proposed transform beside its own draft's;
#   (e) a month and a day column are drafted as one categorical feature,
#       the calendar date ("columns": ["month", "day"]), each partner
#       sending the dates it holds at least k times, and the proposal
#       lists the dates every partner sent (a date another partner holds
#       1 to k - 1 times would make it refuse the schema).
. "$(dirname "$0")/lib/fed.bash"

pki p1 p2 p3

# k = 10 (schema_min_count); p1 1000 leads, p2 1500, p3 120 (its values
# are all different, which count 12 at k = 10: enough for a spline; no
# rounding cell of them holds 10: no range); Visits uniform over [0, 1000]
# with two decimals but 10 leads at distinctive minima and 10 at
# distinctive maxima;
# Rooms in {0.5, 1.5, 2.5, 3.5}; Score with many values at p1, four
# elsewhere.
"$PY" - "$T" <<'PYEOF'
import random, sys
t = sys.argv[1]
ext = {1: (-37000.123, 730000.77), 2: (-52000.456, 810000.33), 3: (-61000.789, 930000.11)}
# (e) the dates each partner's leads were contacted on, every one held at
# least 10 times, and "feb 2" held 5 times (the first 5 leads).
dates = {1: [("may", 5), ("may", 6), ("jun", 12), ("jan", 3)],
         2: [("may", 5), ("dec", 31), ("apr", 1)],
         3: [("may", 5), ("jun", 12), ("nov", 20)]}
for k in (1, 2, 3):
    rng = random.Random(k)
    drng = random.Random(100 + k)
    rows = []
    for i in range({1: 1000, 2: 1500, 3: 120}[k]):
        visits = round(rng.uniform(0, 1000), 2)
        if 17 <= i < 27:
            visits = round(ext[k][0] - 1234.567 * (i - 17), 3)
        if 70 <= i < 80:
            visits = round(ext[k][1] + 12345.67 * (i - 70), 2)
        rooms = rng.choice([0.5, 1.5, 2.5, 3.5])
        score = round(rng.uniform(0, 10), 3) if k == 1 else rng.choice([0.5, 1.5, 2.5, 3.5])
        z = 0.002 * min(visits, 1000) - 1 + 0.3 * rooms + rng.gauss(0, 1)
        # The contact's date (e): its own generator, so the other
        # columns' values are what they were.
        month, day = drng.choice(dates[k]) if i >= 5 else ("feb", 2)
        rows.append("%d,%r,%r,%r,%s,%d,%s\n" % (i, visits, rooms, score, month, day,
                                                "Converted" if z > 0 else "Not Converted"))
    open(f"{t}/p{k}.csv", "w").write("Lead Number,Visits,Rooms,Score,month,day,Converted\n" +
                                     "".join(rows))
PYEOF

node_conf() { # node_conf NAME: the partner's config for the schema round
	local home=$T/node-$1
	mkdir -p "$home"
	cat >"$home/node.conf" <<EOF
[node]
data = $T/$1.csv
federation = test-federation
[coordinator]
address = 127.0.0.1:$PORT
server_name = localhost
[tls]
ca = $T/pki/ca/ca.crt
cert = $T/pki/$1.crt
key = $T/pki/$1.key
[state]
state_dir = $home/state
model_out = $home/model.fdl
dump_dir = $home/dump
[policy]
schema_min_count = 10
min_partners = 2
EOF
}

D=$T/round
coordinator_conf "$D/coordinator.conf" "p1, p2, p3" "schema_round = on"
start_coordinator "$D" --dump-dir "$D/dump" || { bad "coordinator starts"; finish; exit 1; }
pids=()
for k in 1 2 3; do
	node_conf "p$k"
	"$FL_BIN/fedlead-node" schema propose --config "$T/node-p$k/node.conf" \
		--label Converted >"$T/node-p$k/propose.out" 2>"$T/node-p$k/propose.err" &
	pids+=("$!")
	track "$!"
done
st=()
for k in 0 1 2; do
	s=0
	wait_pid "${pids[$k]}" 60 || s=$?
	st+=("$s")
done
for k in 1 2 3; do cat "$T/node-p$k/propose.err"; done
must "every partner's schema propose ends with the proposal (statuses ${st[*]})" \
	test "${st[*]}" = "0 0 0"
check "the coordinator exits 0" wait_pid "$COORD_PID" 30
P=$T/node-p1/state/schema.proposed.json

# The ranges by hand (lib/round_clip.py), independently of fedlead.
"$PY" "$FL_SRC/tests/e2e/lib/round_clip.py" 10 Visits "$T/p1.csv" "$T/p2.csv" "$T/p3.csv" \
	>"$T/ranges"
cat "$T/ranges"
read -r _ ulo uhi < <(grep '^union' "$T/ranges")

# ---- (a) ----
check "(a) the proposal has a spline for Visits" \
	test "$(jget "$P" '[(f.get("transform"), f.get("knots")) for f in j["features"] if f["name"] == "Visits"][0]')" = "('spline', 5)"
check "(a) p3 (120 leads, no rounding cell of 10) sent none" grep -qx 'p3 none' "$T/ranges"
check "(a) with the union of p1's and p2's ranges [$ulo, $uhi]" "$PY" -c "
import json, sys
j = json.load(open('$P'))
c = [f['clip'] for f in j['features'] if f['name'] == 'Visits'][0]
sys.exit(0 if abs(c[0] - $ulo) <= 1e-9 * abs($ulo) + 1e-12 and abs(c[1] - $uhi) <= 1e-9 * abs($uhi) else 1)"
check "(a) every partner is told who proposed it" grep -qx \
	"fedlead-node: note: features \"Visits\": spline proposed by p1, p2, p3; clip \[$ulo, $uhi\], the union of their ranges" \
	<(sed 's/\.0\b//g' "$T/node-p2/propose.err")
check "(a) the node says what it sends" grep -qxF \
	"fedlead-node: sending this partner's draft (category values held at least 10 times, clip ranges only beside a transform, from the 1st and 99th percentiles but at least 10 values from each end, each bound one at least 10 values round to, none for a column of fewer than 50 values; a copy is in the state directory as schema.sent.json)" \
	"$T/node-p1/propose.err"

# ---- (b) ----
check "(b) no transform and no clip range for Rooms (few distinct values)" \
	test "$(jget "$P" '[sorted(f) for f in j["features"] if f["name"] == "Rooms"][0]')" = "['missing', 'name', 'type']"
check "(b) nor for Score (many distinct values at p1 only)" \
	test "$(jget "$P" '[sorted(f) for f in j["features"] if f["name"] == "Score"][0]')" = "['missing', 'name', 'type']"
check "(b) a note says p1 alone proposed a spline for Score" grep -qxF \
	'fedlead-node: note: features "Score": no transform: spline proposed by p1, not a majority of the 3 partners' \
	"$T/node-p3/propose.err"
check "(b) p2 sent no transform and no clip range for Rooms or Score" \
	test "$(jget "$T/node-p2/state/schema.sent.json" '",".join(f["name"] for f in j["features"] if "clip" in f or "transform" in f)')" = "Visits"
check "(b) p3 sent Visits's spline without a clip range (120 leads, no rounding cell of 10)" \
	test "$(jget "$T/node-p3/state/schema.sent.json" '[sorted(f) for f in j["features"] if f["name"] == "Visits"][0]')" = "['knots', 'missing', 'name', 'transform', 'type']"

# ---- (c) ----
check "(c) the coordinator received the drafts (dump of every payload)" \
	test "$(ls "$D/dump" | wc -l)" -ge 6
for k in 1 2 3; do
	check "(c) p$k's 10 smallest and 10 largest values, and their roundings, are in nothing it sent" \
		"$PY" - "$T/p$k.csv" "$T/node-p$k/state/schema.sent.json" "$T/node-p$k/dump" "$D/dump" <<'PYEOF'
import csv, json, math, os, sys
def outward(x, up):
    k = 1 - math.floor(math.log10(abs(x)))
    p = 10 ** abs(k)
    f = math.ceil if up else math.floor
    return f(x * p) / p if k >= 0 else f(x / p) * p
cells = [r["Visits"] for r in csv.DictReader(open(sys.argv[1]))]
v = sorted(float(c) for c in cells)
ext = v[:10] + v[-10:]
bad = set(ext) | {outward(x, up) for x in ext for up in (0, 1)}
nums = []
def walk(x):
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        nums.append(float(x))
    elif isinstance(x, dict):
        [walk(y) for y in x.values()]
    elif isinstance(x, list):
        [walk(y) for y in x]
walk(json.load(open(sys.argv[2])))
hit = [x for x in nums if any(abs(x - b) <= 1e-9 * abs(b) for b in bad)]
# Every byte the node sent and the coordinator received, as text.
blob = b"".join(open(os.path.join(d, f), "rb").read() for d in sys.argv[3:5]
                for f in os.listdir(d))
texts = [c for c in cells if float(c) in ext] + ["%g" % b for b in bad]
found = [s for s in texts if s.encode() in blob]
print("     extremes %r .. %r, %r .. %r; sent numbers %d; matches %r %r"
      % (ext[0], ext[9], ext[10], ext[19], len(nums), hit, found))
sys.exit(1 if hit or found else 0)
PYEOF
done

# ---- (d) ----
read -r _ l1 h1 < <(grep '^p1' "$T/ranges")
check "(d) p1's operator sees the proposed spline beside its own draft's range" grep -qx \
	"feature \"Visits\": spline, 5 knots placed from the federation's data, clip \[$ulo, $uhi\] (this partner's draft: \[$l1, $h1\])" \
	<(sed 's/\.0\b//g' "$T/node-p1/propose.out")

# ---- (e) ----
date_feature() { # FILE: the "month day" feature's columns and values, or none
	jget "$1" '[(f["columns"], f["values"]) for f in j["features"] if f["name"] == "month day"] or "none"'
}
check "(e) p1 sent its dates held at least 10 times, in calendar order, not \"feb 2\" (5 leads)" \
	test "$(date_feature "$T/node-p1/state/schema.sent.json")" = \
	"[(['month', 'day'], ['jan 3', 'may 5', 'may 6', 'jun 12'])]"
check "(e) p3 (120 leads) sent its three" \
	test "$(date_feature "$T/node-p3/state/schema.sent.json")" = \
	"[(['month', 'day'], ['may 5', 'jun 12', 'nov 20'])]"
check "(e) the proposal reads month and day together, the dates every partner sent" \
	test "$(date_feature "$P" | "$PY" -c 'import ast, sys; [(c, v)] = ast.literal_eval(sys.stdin.read()); print(c, sorted(v))')" = \
	"['month', 'day'] ['may 5']"
finish
