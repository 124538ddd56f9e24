#!/usr/bin/env bash
# Differential privacy at each partner's node (issue 11), three partners on
# the CoIL split, secure aggregation 3 of 3:
#   (a) --check shows the [privacy] settings; a coordinator with privacy = on
#       and the stock CoIL schema (no clip ranges) is refused by --check;
#   (b) a federation with privacy_epsilon = 1 on every node completes under a
#       coordinator with privacy = on and no max_iterations (a fixed plan
#       of 5 releases: the statistics round, whose sums the nodes noise
#       within the schema's clip ranges, then the plan's 4 Newton steps, no
#       line search, no validation), announced up front with where the 4
#       came from; each node's audit log records its plan and
#       exactly the 5 planned releases with epsilon (the first the
#       statistics), its ledger holds one "stats" and four "evaluate"
#       releases, and `fedlead-node privacy` prints the ledger: the releases,
#       the rho spent and what is left;
#       Before the first task the coordinator logs and audits its plan line
#       naming the tightest partner budget; the model records each
#       partner's privacy, which `fedlead-node inspect`, `fedlead-score
#       --explain` and the HTML report say in plain words;
#   (c) a second federation on the same nodes, which would spend the whole
#       budget again, is refused by the coordinator at the Hello (the node
#       announced what its ledger has left) with the exact message, the
#       coordinator refuses to start, and the node exits 1 without answering
#       a task. (The node's own refusal at the Welcome, with its exact
#       message, is test_dp_node.c's test_budget_across_federations.)
. "$(dirname "$0")/lib/fed.bash"

# The CoIL schema with the clip range every numeric feature needs under
# differential privacy (from the data dictionary; no value of the file is
# outside): without it the statistics round is refused (test_dp_node.c).
SCHEMA=$FL_DATA/coil2000/coil2000-dp.schema.json

pki p1 p2 p3
split_coil 3

# The clip is stated, so the model's record of it is known here.
DP=(--privacy-epsilon 1 --privacy-delta 1e-6 --privacy-releases 30 --privacy-clip 3)

# ---- (a) --check ----
out=$("$FL_BIN/fedlead-node" join --schema "$SCHEMA" --data "$T/p1.csv" \
	--address 127.0.0.1:1 --federation f --ca "$T/pki/ca/ca.crt" --cert "$T/pki/p1.crt" \
	--key "$T/pki/p1.key" --model-out "$T/x/model.fdl" "${DP[@]}" --check 2>&1)
check "(a) --check shows [privacy]" grep -qx '\[privacy\]' <<<"$out"
check "(a) --check shows privacy_epsilon" grep -qx 'privacy_epsilon = 1' <<<"$out"
check "(a) --check shows privacy_releases" grep -qx 'privacy_releases = 30' <<<"$out"

# ---- (a) the coordinator refuses privacy = on with a schema lacking clip ranges ----
N=$T/noclip
FED_SCHEMA=$FL_DATA/coil2000/coil2000.schema.json coordinator_conf "$N/coordinator.conf" \
	"p1, p2, p3" "min_partners = 3" "algorithm = newton" "l2 = 1" "validation_split = 0" \
	"max_iterations = 4" "privacy = on"
rc=0
out=$("$FL_BIN/fedlead-coordinator" --config "$N/coordinator.conf" --check 2>&1) || rc=$?
check "(a) coordinator --check without clip ranges exits 2" test "$rc" = 2
check "(a) coordinator --check names the feature without a clip range" grep -qxF \
	"fedlead-coordinator: $FL_DATA/coil2000/coil2000.schema.json: privacy = on needs a clip range on every numeric feature of the schema, which bounds each lead's part in the statistics round: feature \"MAANTHUI\" has none" <<<"$out"

# ---- (b) a federation under DP ----
# max_iterations not set: under privacy = on the coordinator takes the plan's
# 4 evaluations, which the nodes' privacy_releases (5 with the statistics) fit.
D=$T/dp
coordinator_conf "$D/coordinator.conf" "p1, p2, p3" "min_partners = 3" "algorithm = newton" \
	"l2 = 1" "validation_split = 0" "privacy = on"
out=$("$FL_BIN/fedlead-coordinator" --config "$D/coordinator.conf" --check 2>&1)
check "(b) coordinator --check shows privacy" grep -qx 'privacy = true' <<<"$out"
check "(b) coordinator --check shows the plan" grep -qx '; privacy plan: 5 releases per partner (the statistics round and 4 evaluations)' <<<"$out"
start_coordinator "$D" || { bad "(b) coordinator starts"; finish; exit 1; }
for k in 1 2 3; do
	NODE_HOME=$D start_node p$k "$T/p$k.csv" "${DP[@]}"
	eval "n$k=\$NODE_PID"
done
check "(b) the coordinator finishes with status 0" wait_pid "$COORD_PID" 240
for k in 1 2 3; do
	eval "pid=\$n$k"
	check "(b) node p$k finishes with status 0" wait_pid "$pid" 60
done
check "(b) the coordinator announces the plan" grep -qF "differential privacy: 4 Newton steps per l2 value (max_iterations not set: the plan fedlead-dp-v7 takes 4), a fixed plan of 5 releases per partner (the statistics round + 1 l2 value x (4 Newton steps)); a partner whose privacy_releases are fewer refuses at the Welcome" "$D/coordinator.log"
check "(b) the coordinator audits the releases issued" "$PY" - "$D/audit.jsonl" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = [e for e in ev if e["event"] == "privacy_trained"]
sys.exit(0 if len(t) == 1 and t[0]["planned"] == 5 and t[0]["issued"] == 5 else 1)
PYEOF
check "(b) no release was issued again" bash -c "! grep -q 'issued again' '$D/coordinator.log'"
check "(b) every node holds the model" bash -c "for k in 1 2 3; do cmp -s $D/node-p\$k/model.fdl $D/model.fdl || exit 1; done"
for k in 1 2 3; do
	A=$D/node-p$k/audit.jsonl
	check "(b) p$k audits its plan: epsilon 1, delta 1e-6, 30 releases" "$PY" - "$A" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
p = [e for e in ev if e["event"] == "privacy_plan"]
sys.exit(0 if p and p[0]["epsilon"] == 1 and p[0]["delta"] == 1e-6 and p[0]["releases"] == 30 else 1)
PYEOF
	check "(b) p$k audits each release with its epsilon, growing to at most 1" "$PY" - "$A" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
r = [e for e in ev if e["event"] == "privacy_release"]
eps = [e["epsilon"] for e in r]
ok = len(r) == 5 and eps == sorted(eps) and 0 < eps[-1] <= 1 and all(
    e["mechanism"] == "distributed discrete Gaussian" and e["honest_partners"] == 2 for e in r)
# The statistics round comes first and is the only release of its kind.
ok = ok and [e.get("kind") for e in r] == ["stats"] + ["evaluate"] * 4
ok = ok and not any(e["event"] == "privacy_unprotected" for e in ev)
print("     releases %d, epsilon spent %.4f" % (len(r), eps[-1] if eps else -1))
sys.exit(0 if ok else 1)
PYEOF
	check "(b) p$k's ledger holds the statistics release and the 4 evaluations" \
		ledger_kinds "$D/node-p$k/privacy.ledger" stats evaluate evaluate evaluate evaluate
done
check "(b) the coordinator took the noisy statistics" grep -qE 'statistics: [0-9]+ training rows' "$D/coordinator.log"
check "(b) the coordinator logs its plan up front, naming the tightest budget" "$PY" - "$D/coordinator.log" <<'PYEOF'
import re, sys
log = open(sys.argv[1]).read()
m = re.search(r'privacy plan: 5 releases per partner; tightest budget: p1, epsilon 1 \(delta 1e-06\) '
              r'for this federation, 30 releases \(rho ([0-9.e-]+) of the ([0-9.e-]+) its window '
              r'has left\)\n', log)
# Fresh ledgers: the federation's 30 releases are the whole window's budget.
sys.exit(0 if m and m.group(1) == m.group(2) and log.index(m.group(0)) < log.index("round 2") else 1)
PYEOF
check "(b) the coordinator audits the plan line" "$PY" - "$D/audit.jsonl" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
p = [e for e in ev if e["event"] == "privacy_plan"]
sys.exit(0 if len(p) == 1 and p[0]["tightest"] == "p1" and p[0]["releases"] == 5 and
         p[0]["partners_with_noise"] == 3 and p[0]["plan"].startswith("privacy plan: 5 releases") else 1)
PYEOF
DPLINE="trained with differential privacy: ε = 1, δ = 10⁻⁶ per partner (distributed discrete Gaussian under secure aggregation, zCDP accountant, 5 of 30 releases, clip 3, each lead's gradient clipped to 2.4 in the evaluations without the Hessian)"
echo "     $DPLINE"
check "(b) inspect says the model's privacy" grep -qxF "T${DPLINE:1}" <("$FL_BIN/fedlead-node" inspect "$D/model.fdl")
check "(b) inspect names the federation, its rounds and partners" \
	grep -qxE "Federation: test-federation, [0-9]+ rounds, 3 partners: p1, p2, p3" \
	<("$FL_BIN/fedlead-node" inspect "$D/model.fdl")
check "(b) --explain says the model's privacy" grep -qxF "T${DPLINE:1}" <("$FL_BIN/fedlead-score" --model "$D/model.fdl" --explain)
"$FL_BIN/fedlead-score" --model "$D/model.fdl" --data "$T/p1.csv" --eval --report "$D/report.html" >/dev/null 2>&1
# The report escapes the apostrophe (&#39;).
HTMLLINE=$(sed "s/'/\&#39;/g" <<<"$DPLINE")
check "(b) the report says the model's privacy" grep -qF "<tr><td>Differential privacy</td><td>$HTMLLINE</td></tr>" "$D/report.html"
"$FL_BIN/fedlead-score" --model "$D/model.fdl" --export json >"$D/model.json"
check "(b) the model records each partner's terms" "$PY" - "$D/model.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))["provenance"]["privacy"]
ok = (p["mechanism"] == "distributed discrete Gaussian" and p["accountant"] == "zCDP" and
      p["releases"] == 5 and p["threshold"] == 3 and p["gradient_clip"] == 0.8 and
      [q["partner"] for q in p["partners"]] == ["p1", "p2", "p3"] and
      all(q["epsilon"] == 1 and q["delta"] == 1e-6 and q["releases"] == 30 and
          q["clip"] == 3 and q["max_colluders"] == 1 and q["rho"] > 0
          for q in p["partners"]))
sys.exit(0 if ok else 1)
PYEOF
priv=$("$FL_BIN/fedlead-node" privacy --state-dir "$D/node-p1" "${DP[@]}" 2>&1)
nrel=$("$PY" -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)['event']=='privacy_release'))" "$D/node-p1/audit.jsonl")
check "(b) privacy prints the ledger's releases" grep -qF "privacy ledger $D/node-p1/privacy.ledger: $nrel releases" <<<"$priv"
check "(b) privacy prints the budget" grep -qF "budget: epsilon 1, delta 1e-06 per 31536000 s" <<<"$priv"
check "(b) privacy prints the federation" grep -qE "^test-federation +$nrel " <<<"$priv"

# ---- (c) a second federation beyond the budget ----
ledger_b=$(sha256sum <"$D/node-p1/privacy.ledger")
E=$T/dp2
coordinator_conf "$E/coordinator.conf" "p1, p2, p3" "min_partners = 3" "algorithm = newton" \
	"l2 = 1" "validation_split = 0" "max_iterations = 4" "privacy = on"
sed -i 's/^id = test-federation$/id = second-federation/' "$E/coordinator.conf"
start_coordinator "$E" || { bad "(c) coordinator starts"; finish; exit 1; }
# The node's state (and ledger) stays where federation (b) left it.
mkdir -p "$E/node-p1"
NODE_HOME=$E NODE_FEDERATION=second-federation start_node p1 "$T/p1.csv" "${DP[@]}" \
	--state-dir "$D/node-p1"
m1=$NODE_PID
rc=0
wait_pid "$m1" 60 || rc=$? # under set -e, the status is the assertion's
check "(c) node p1 exits 1" test "$rc" = 1
crc=0
wait_pid "$COORD_PID" 60 || crc=$?
check "(c) the coordinator refuses to start (exit 1)" test "$crc" = 1
msg=$(grep -o 'rejected partner p1: .*' "$E/coordinator.log" | head -n 1)
echo "     $msg"
check "(c) the coordinator's refusal names the partner and its budget" "$PY" - "$msg" <<'PYEOF'
import re, sys
m = re.fullmatch(r'rejected partner p1: privacy budget of partner p1 cannot pay for this '
                 r'federation: its 30 releases would spend rho ([0-9.e-]+) \(epsilon 1, delta '
                 r'1e-06\), and its window has rho ([0-9.e-]+) left', sys.argv[1])
# The first federation made 5 of the 30 releases the window holds: the
# statistics (a tenth of the budget) and 4 evaluations (each a 29th of the
# other nine tenths).
sys.exit(0 if m and abs(float(m.group(2)) / float(m.group(1)) - (1 - 0.1 - 4 * 0.9 / 29)) < 1e-4 else 1)
PYEOF
check "(c) the coordinator says it cannot start" grep -qF "federation second-federation failed: cannot start within the partners' privacy: ${msg#rejected partner p1: }" "$E/coordinator.log"
check "(c) the node prints the coordinator's reason" grep -qF "refused this partner: ${msg#rejected partner p1: }" "$E/node-p1/node.log"
check "(c) the node's ledger is as federation (b) left it" test "$(sha256sum <"$D/node-p1/privacy.ledger")" = "$ledger_b"
check "(c) nothing of a task was answered" bash -c "! grep -q '\"privacy_release\"\\|key_advert' '$E/node-p1/audit.jsonl'"
stop_mine
finish
