#!/usr/bin/env bash
# Monotone effects under differential privacy (issue 14, "must work under
# differential privacy"): the bank-marketing leads split in three
# partners, the DP schema with age a spline on fixed knots declared
# "increasing" (its true effect is U-shaped: young and old leads convert
# more, so the constraint binds), campaign a spline declared "decreasing"
# and balance, a plain value, "increasing". Every node spends
# privacy_epsilon = 1 over the plan's statistics release and 4
# evaluations, exactly as without the constraints: the coordinator keeps
# them by solving each Newton step's quadratic model over them,
# post-processing of the same noised sums. Each node checks the final
# model's monotone curves itself before it saves it; each saves it, and
# the curves fedlead-score --explain prints move only the declared way.
# The same federation without "monotone" gives an age curve that falls
# somewhere: the constraint binds.
. "$(dirname "$0")/lib/fed.bash"
. "$(dirname "$0")/lib/dp.bash"

BANK=$FL_DATA/bank-marketing/bank.csv
FED_SCHEMA=$T/bank-monotone.schema.json
"$PY" - "$FL_DATA/bank-marketing/bank-dp.schema.json" "$FED_SCHEMA" "$T/bank-free.schema.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
for f in s["features"]:
    if f["name"] == "age":
        f.update(transform="spline", knots=[20, 30, 40, 50, 60, 82], monotone="increasing")
    elif f["name"] == "campaign":
        f.update(transform="spline", knots=[1, 2, 3, 5, 11], monotone="decreasing")
    elif f["name"] == "balance":
        f["monotone"] = "increasing"
json.dump(s, open(sys.argv[2], "w"), indent=1)
for f in s["features"]:
    f.pop("monotone", None)
json.dump(s, open(sys.argv[3], "w"), indent=1)
PYEOF
# curves EXPLAIN: each spline's effect at the points --explain prints, as
# "name v1 v2 ..." lines (special values left out).
curves() {
	"$PY" - "$1" <<'PYEOF'
import re, sys
cur = None
for line in open(sys.argv[1]):
    m = re.match(r"Effect of (\w+) \(", line)
    if m:
        cur = [m.group(1)]
        continue
    m = re.match(r"\s+(-?[0-9.e+]+)\s+([+-][0-9.]+)\s", line)
    if cur is not None and m and "special" not in line:
        cur.append(m.group(2))
    elif cur is not None and not line.strip():
        print(" ".join(cur))
        cur = None
if cur is not None:
    print(" ".join(cur))
PYEOF
}
# curves_hold CURVES EXPR: the Python expression EXPR holds of c, the
# curves of CURVES by name, with rises(v) and falls(v) (never falls,
# never rises).
curves_hold() {
	"$PY" - "$1" "$2" <<'PYEOF'
import sys
c = {l.split()[0]: [float(v) for v in l.split()[1:]] for l in open(sys.argv[1])}
rises = lambda v: all(b >= a for a, b in zip(v, v[1:]))
falls = lambda v: all(b <= a for a, b in zip(v, v[1:]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PYEOF
}
pki p1 p2 p3
split_holdout "$BANK"

must "the federation at epsilon 1 with monotone features completes" dp_federation "$T/dp" 1
for k in 1 2 3; do
	check "p$k checked the model's monotone curves and saved it" \
		grep -q "final model signed by coordinator saved to" "$T/dp/node-p$k/node.log"
	check "p$k released the statistics and exactly the 4 planned evaluations, within epsilon 1" "$PY" - \
		"$T/dp/node-p$k/audit.jsonl" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
r = [e for e in ev if e["event"] == "privacy_release"]
sys.exit(0 if len(r) == 5 and r[0].get("kind") == "stats" and 0.99 < r[-1]["epsilon"] <= 1 else 1)
PYEOF
done
grep -o "round [0-9]*: the Newton step keeps the monotone features: [0-9]* of [0-9]* increments held" \
	"$T/dp/coordinator.log" | sed 's/^/     /' || true
check "the coordinator held some of age's or campaign's increments at their bound" \
	grep -Eq "keeps the monotone features: [1-9][0-9]* of [0-9]+ increments held" "$T/dp/coordinator.log"
"$FL_BIN/fedlead-score" --model "$T/dp/model.fdl" --explain >"$T/explain.txt"
curves "$T/explain.txt" >"$T/curves.txt"
sed 's/^/     /' "$T/curves.txt"
check "age's effect never falls, campaign's never rises (the curves --explain prints)" \
	curves_hold "$T/curves.txt" \
	'len(c["age"]) == 11 and len(c["campaign"]) == 9 and rises(c["age"]) and falls(c["campaign"])'
read -r auc ll < <(holdout_metrics "$T/dp/model.fdl")
echo "     held-out AUC at epsilon 1 with monotone features: $auc (log-loss $ll)"
check "the monotone model still ranks leads (held-out AUC above 0.7)" \
	"$PY" -c "import sys; sys.exit(0 if $auc > 0.7 else 1)"

FED_SCHEMA=$T/bank-free.schema.json
must "the same federation without \"monotone\" completes" dp_federation "$T/free" 1
"$FL_BIN/fedlead-score" --model "$T/free/model.fdl" --explain >"$T/explain-free.txt"
curves "$T/explain-free.txt" >"$T/curves-free.txt"
sed 's/^/     /' "$T/curves-free.txt"
check "without the constraint age's effect falls somewhere (the constraint binds)" \
	curves_hold "$T/curves-free.txt" 'len(c["age"]) == 11 and not rises(c["age"])'
finish
