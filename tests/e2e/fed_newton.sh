#!/usr/bin/env bash
# Headline property: three partners train with federated Newton over mutual
# TLS, and the model every partner receives equals the model the core trainer
# makes from the pooled leads with the same l2, to 1e-6 relative.
. "$(dirname "$0")/lib/fed.bash"

pki p1 p2 p3
split_coil 3
coordinator_conf "$T/coord/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
	"algorithm = newton" "l2 = 1" "validation_split = 0"
start_coordinator "$T/coord" || { bad "coordinator starts"; finish; exit 1; }
nodes=()
for k in 1 2 3; do start_node "p$k" "$T/p$k.csv"; nodes+=("$NODE_PID"); done
check "coordinator finishes with status 0" wait_pid "$COORD_PID" 120
for k in 1 2 3; do
	check "node p$k finishes with status 0" wait_pid "${nodes[$((k - 1))]}" 30
	check "node p$k holds the coordinator's signed model" \
		cmp -s "$T/node-p$k/model.fdl" "$T/coord/model.fdl"
done

"$FL_BIN/fedlead-node" train --schema "$SCHEMA" --data "$T/pooled.csv" --l2 1 \
	--solver newton --out "$T/pooled.fdl" >/dev/null
weights "$T/coord/model.fdl" >"$T/w-fed"
weights "$T/pooled.fdl" >"$T/w-pooled"
d=$(rel_diff "$T/w-fed" "$T/w-pooled")
echo "federated vs pooled: relative difference $d"
check "federated newton equals pooled newton to 1e-6 relative" le "$d" 1e-6

check "the model verifies against the federation CA" \
	"$FL_BIN/fedlead-score" --model "$T/node-p1/model.fdl" --verify-ca "$T/pki/ca/ca.crt" \
	--explain --quiet
prov=$("$FL_BIN/fedlead-score" --model "$T/coord/model.fdl" --export json)
check "provenance names the federation and all three participants" \
	"$PY" -c 'import json,sys; p=json.loads(sys.argv[1])["provenance"]; sys.exit(0 if p["federation_id"]=="test-federation" and sorted(p["participants"])==["p1","p2","p3"] and p["rounds"]>3 and p["solver"]=="newton" else 1)' "$prov"
check "the coordinator's audit log records joins and rounds" \
	grep -q '"event": *"round"' "$T/coord/audit.jsonl"
check "each node's audit log records what it sent" grep -q '"event": *"send"' "$T/node-p1/audit.jsonl"
finish
