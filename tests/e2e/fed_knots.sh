#!/usr/bin/env bash
# Knots from the federation's data: three partners train with federated
# Newton over mutual TLS with secure aggregation on a schema whose spline
# and bins features give only a knot count. The knots the model records
# are the quantiles of the pooled leads' 256-bin histogram (computed here
# in Python, independently of fedlead), within one bin of the pooled
# values' own quantiles, every node saves the same model, and the model
# equals the one the core trainer makes from the pooled leads with those
# knots written in the schema.
. "$(dirname "$0")/lib/fed.bash"

# 900 leads over three partners and their schema (lib/knots_data.py).
"$PY" "$FL_SRC/tests/e2e/lib/knots_data.py" "$T"
export FED_SCHEMA=$T/knots.schema.json NODE_SCHEMA=$T/knots.schema.json

pki p1 p2 p3
coordinator_conf "$T/coord/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
	"algorithm = newton" "l2 = 1" "validation_split = 0"
start_coordinator "$T/coord" || { bad "coordinator starts"; finish; exit 1; }
nodes=()
for k in 1 2 3; do start_node "p$k" "$T/p$k.csv"; nodes+=("$NODE_PID"); done
check "coordinator finishes with status 0" wait_pid "$COORD_PID" 120
for k in 1 2 3; do
	check "node p$k finishes with status 0" wait_pid "${nodes[$((k - 1))]}" 30
done
for k in 1 2 3; do
	check "node p$k saved the coordinator's model" cmp -s "$T/coord/model.fdl" \
		"$T/node-p$k/model.fdl"
done
check "the coordinator logged the knots round" grep -q \
	"knots of 2 features placed at the quantiles of the 3 partners' summed histograms" \
	"$T/coord/coordinator.log"
model_json "$T/coord/model.fdl" >"$T/fed.json"

# The pooled histogram's quantiles, by hand: 256 bins over the clip range,
# each bin's count spread evenly over it.
"$PY" - "$T" <<'PYEOF' >"$T/knots-check"
import csv, json, sys
t = sys.argv[1]
m = json.load(open(f"{t}/fed.json"))
got = m["knots"]
rows = list(csv.DictReader(open(f"{t}/pooled.csv")))
worst_hist = worst_q = 0.0
for name, lo, hi, K in (("spend", 0, 5000, 6), ("tenure", 0, 60, 5)):
    vals = sorted(min(hi, max(lo, float(r[name]))) for r in rows if r[name] != "")
    B, w = 256, (hi - lo) / 256
    c = [0] * B
    for v in vals:
        c[min(B - 1, max(0, int((v - lo) / (hi - lo) * B)))] += 1
    N = len(vals)
    for j in range(K):
        q = j / (K - 1) * N
        cum = 0
        for b in range(B):
            if c[b] > 0 and cum + c[b] >= q:
                break
            cum += c[b]
        want = lo + (b + min(1, max(0, (q - cum) / c[b]))) * w
        pos = j / (K - 1) * (N - 1)
        i0 = int(pos)
        quant = vals[i0] + (pos - i0) * (vals[min(i0 + 1, N - 1)] - vals[i0])
        worst_hist = max(worst_hist, abs(got[name][j] - want) / w)
        worst_q = max(worst_q, abs(got[name][j] - quant) / w)
print(worst_hist, worst_q)
s = json.load(open(f"{t}/knots.schema.json"))
for f in s["features"]:
    f["knots"] = got[f["name"]]
json.dump(s, open(f"{t}/pooled.schema.json", "w"))
PYEOF
read -r dh dq <"$T/knots-check"
echo "federated knots vs the pooled histogram's quantiles: $dh bins; vs the pooled quantiles: $dq bins"
check "the model's knots are the pooled histogram's quantiles (1e-9 of a bin)" le "$dh" 1e-9
check "and within one bin of the pooled values' quantiles" le "$dq" 1

"$FL_BIN/fedlead-node" train --schema "$T/pooled.schema.json" --data "$T/pooled.csv" --l2 1 \
	--solver newton --out "$T/pooled.fdl" --quiet >/dev/null
weights "$T/coord/model.fdl" >"$T/w-fed"
weights "$T/pooled.fdl" >"$T/w-pooled"
check "the model has spend's 8 spline columns and its missing indicator, tenure's 4 bins and the intercept" \
	test "$(wc -l <"$T/w-fed")" = 14
d=$(rel_diff "$T/w-fed" "$T/w-pooled")
echo "federated vs pooled with the same knots: relative difference $d"
check "federated newton with knots from data equals pooled newton to 1e-6 relative" le "$d" 1e-6

# A coordinator refuses such a schema while a feature has no clip range.
"$PY" -c 'import json, sys
s = json.load(open(sys.argv[1])); del s["features"][1]["clip"]
json.dump(s, open(sys.argv[2], "w"))' "$T/knots.schema.json" "$T/noclip.schema.json"
N=$T/noclip
FED_SCHEMA=$T/noclip.schema.json coordinator_conf "$N/coordinator.conf" "p1, p2, p3" \
	"min_partners = 3" "algorithm = newton" "l2 = 1" "validation_split = 0"
rc=0
out=$("$FL_BIN/fedlead-coordinator" --config "$N/coordinator.conf" --check 2>&1) || rc=$?
check "coordinator --check with an unclipped knots-from-data feature exits 2" test "$rc" = 2
check "and names the feature" grep -qxF \
	"fedlead-coordinator: $T/noclip.schema.json: feature \"tenure\" places its knots from the federation's data, which needs a clip range in the schema (the partners' fine histograms span it); add \"clip\": [low, high] or write the knot values" <<<"$out"
rc=0
out=$(timeout 30 "$FL_BIN/fedlead-coordinator" --config "$N/coordinator.conf" 2>&1) || rc=$?
check "a coordinator with an unclipped knots-from-data feature does not start (exit 2)" test "$rc" = 2
check "and names the feature" grep -qF \
	"feature \"tenure\" places its knots from the federation's data, which needs a clip range in the schema" <<<"$out"
finish
