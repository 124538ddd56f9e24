#!/usr/bin/env bash
# Differential privacy that keeps the model useful (issue 11): the bank
# marketing leads split in three partners with every 4th lead held out;
# a federation without differential privacy, then one whose every node
# spends privacy_epsilon = 1 (delta 1e-6) under the coordinator's fixed
# plan v7 of 4 evaluations (the Hessian once, then the gradient alone,
# each row's term clipped to 0.8 R) after the statistics release (a tenth
# of the budget), each noised for 2 honest partners of 3 (max_colluders =
# 1). On the held-out leads the private model's AUC is at most 0.015 below
# the other's, and the test says whether this run met the issue's target,
# 0.01.
#
# Why not 0.01: over noise draws the plan is 0.004 below on average and
# misses 0.01 now and then. Simulated (bench/dp_mech.py gclip4-80), 0.0042
# below, sd 0.0023, 0 of 200 runs more than 0.01 below; in 60 real
# federations (bench/README.md), 0.0041 below, sd 0.0024, 1 of 60 more than
# 0.01 below (0.0117). 0.015 is 4.5 deviations from that mean; the plan
# before (v6: 0.0087 below, sd 0.0032) would fail it about one run in 40.
. "$(dirname "$0")/lib/fed.bash"
. "$(dirname "$0")/lib/dp.bash"

BANK=$FL_DATA/bank-marketing/bank.csv
FED_SCHEMA=$FL_DATA/bank-marketing/bank-dp.schema.json
pki p1 p2 p3
split_holdout "$BANK"
must "the split holds every lead once" test \
	"$(($(wc -l <"$T/p1.csv") + $(wc -l <"$T/p2.csv") + $(wc -l <"$T/p3.csv") + $(wc -l <"$T/test.csv") - 4))" \
	= "$(($(wc -l <"$BANK") - 1))"

must "the federation without differential privacy completes" dp_federation "$T/plain" 0
must "the federation at epsilon 1 completes" dp_federation "$T/dp" 1
read -r auc0 ll0 < <(holdout_metrics "$T/plain/model.fdl")
read -r auc1 ll1 < <(holdout_metrics "$T/dp/model.fdl")
echo "     held-out AUC: $auc0 without, $auc1 at epsilon 1; log-loss $ll0 and $ll1"
check "at epsilon 1 the AUC is at most 0.015 below the model without" \
	"$PY" -c "import sys; sys.exit(0 if $auc1 >= $auc0 - 0.015 else 1)"
if "$PY" -c "import sys; sys.exit(0 if $auc1 >= $auc0 - 0.01 else 1)"; then
	echo "     this run met the issue's target (at most 0.01 below)"
else
	echo "     this run missed the issue's target (at most 0.01 below) by" \
		"$("$PY" -c "print('%.4f' % ($auc0 - 0.01 - $auc1))")"
fi
for k in 1 2 3; do
	check "p$k released the statistics and exactly the 4 planned evaluations, spending epsilon 1 at most" "$PY" - \
		"$T/dp/node-p$k/audit.jsonl" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
r = [e for e in ev if e["event"] == "privacy_release"]
stats = [e for e in r if e.get("kind") == "stats"]
evals = [e for e in r if e.get("kind") != "stats"]
hess = [e for e in evals if any(b["block"] == "hessian" for b in e["blocks"])]
grad = [b for e in evals for b in e["blocks"] if b["block"] == "gradient"]
clip = evals[0]["clip"]
# The first evaluation carries the Hessian; the three after it bound
# their gradients by 0.8 R (plan v7).
sys.exit(0 if len(stats) == 1 and r[0] is stats[0] and len(evals) == 4 and len(hess) == 1 and
         evals[0] is hess[0] and all(abs(b["sensitivity"] - 0.8 * clip) < 1e-9 * clip
                                     for b in grad[1:]) and
         0.99 < r[-1]["epsilon"] <= 1 else 1)
PYEOF
done
finish
