#!/usr/bin/env bash
# Differential privacy that keeps the model useful (issue 11): the bank
# marketing leads split in three partners with every 4th lead held out;
# a federation without differential privacy, then three whose every node
# spends privacy_epsilon = 1 (delta 1e-6) under the coordinator's fixed
# plan v7 of 4 evaluations (the Hessian once, then the gradient alone,
# each row's term clipped to 0.8 R) after the statistics release (a tenth
# of the budget), each noised for 2 honest partners of 3 (max_colluders =
# 1). The three take the same split and fresh noise each (the nodes'
# CSPRNG). On the held-out leads the private models' AUC is on average at
# most 0.01 below the other's (the issue's target), and each one at most
# 0.015 below.
#
# Why the mean of 3: one federation misses 0.01 now and then. In 60 real
# federations (bench/README.md, plan v7) the gap was 0.0041 on average, sd
# 0.0024, 1 of 60 more than 0.01 below (0.0117); simulated (bench/dp_mech.py
# gclip4-80), 0.0042, sd 0.0023. The mean of 3 has sd 0.0024 / sqrt(3) =
# 0.0014, so 0.01 is (0.01 - 0.0041) / 0.0014 = 4.3 sd from the measured
# mean (a normal tail of about one test in 100,000); each run's 0.015 is
# (0.015 - 0.0041) / 0.0024 = 4.5 sd (about one test in 120,000 for any of
# the 3). The plan before (v6: 0.0087 below, sd 0.0032) would fail the mean
# about one test in 4.
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
read -r auc0 ll0 < <(holdout_metrics "$T/plain/model.fdl")
echo "     held-out AUC without differential privacy: $auc0 (log-loss $ll0)"
gaps=()
for run in 1 2 3; do
	must "federation $run at epsilon 1 completes" dp_federation "$T/dp$run" 1
	read -r auc1 ll1 < <(holdout_metrics "$T/dp$run/model.fdl")
	gap=$("$PY" -c "print('%.6f' % ($auc0 - $auc1))")
	gaps+=("$gap")
	echo "     run $run at epsilon 1: held-out AUC $auc1 (log-loss $ll1), $gap below"
	check "run $run at epsilon 1: the AUC is at most 0.015 below the model without" \
		"$PY" -c "import sys; sys.exit(0 if $gap <= 0.015 else 1)"
done
mean=$("$PY" -c "import sys; g = [float(v) for v in sys.argv[1:]]; print('%.6f' % (sum(g) / len(g)))" "${gaps[@]}")
echo "     mean of the 3 runs: $mean below"
check "over the 3 runs at epsilon 1 the AUC is on average at most 0.01 below the model without" \
	"$PY" -c "import sys; sys.exit(0 if $mean <= 0.01 else 1)"
for run in 1 2 3; do for k in 1 2 3; do
	check "run $run: p$k released the statistics and exactly the 4 planned evaluations, spending epsilon 1 at most" "$PY" - \
		"$T/dp$run/node-p$k/audit.jsonl" <<'PYEOF'
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
done; done
finish
