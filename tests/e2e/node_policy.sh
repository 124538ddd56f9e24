#!/usr/bin/env bash
# The partner's node enforces its own privacy policy, whatever the
# coordinator is configured to do (issue 10):
#   (a) downgrade: a coordinator started with --secure-aggregation no; the
#       stock node refuses with the exact message, writes the refusal to its
#       audit log and exits non-zero, and the coordinator's dump of what it
#       received holds nothing from that node but its Hello;
#   (b) a two-partner federation: stock nodes refuse the key list of two
#       (a sum over two partners tells each the other's update) and exit
#       non-zero, and no masked update reaches the coordinator;
#   (c) the same federation with min_partners = 2 set explicitly on both
#       nodes: it completes, and each node warns on every round;
#   (d) --check shows the policy with its safe defaults, and contradictory
#       or missing policy settings are refused before anything connects.
. "$(dirname "$0")/lib/fed.bash"

pki p1 p2 p3
split_coil 3

# types DUMP-DIR PARTNER: the message types the coordinator received from
# PARTNER, one per line (its dump holds each frame's Envelope, without the
# length prefix; the body's first tag is the message type, proto/wire.proto).
types() {
	"$PY" - "$1" "$2" <<'PYEOF'
import os, sys
names = {1: "hello", 9: "update", 10: "status", 11: "key_advert", 13: "share_set",
         14: "masked_update", 16: "unmask_reply"}
d, who = sys.argv[1], sys.argv[2]
for f in sorted(os.listdir(d)):
    if not f.endswith("-%s.bin" % who):
        continue
    b = open(os.path.join(d, f), "rb").read()
    tag, shift, i = 0, 0, 0
    while True:
        tag |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            break
    print(names.get(tag >> 3, "field-%d" % (tag >> 3)))
PYEOF
}

# audit_refusal AUDIT RULE REASON: the node's audit log holds the refusal.
audit_refusal() {
	"$PY" - "$@" <<'PYEOF'
import json, sys
path, rule, reason = sys.argv[1:4]
ev = [json.loads(l) for l in open(path)]
sys.exit(0 if any(e["event"] == "refuse" and e["rule"] == rule and e["reason"] == reason
                  for e in ev) else 1)
PYEOF
}

# ---- (a) downgrade ----
D=$T/downgrade
coordinator_conf "$D/coordinator.conf" "p1, p2, p3" "min_partners = 3" "algorithm = newton" \
	"l2 = 1" "validation_split = 0"
start_coordinator "$D" --secure-aggregation no --dump-dir "$D/dump" ||
	{ bad "(a) coordinator starts"; finish; exit 1; }
NODE_HOME=$D start_node p1 "$T/p1.csv"
st=0
wait_pid "$NODE_PID" 30 || st=$?
MSG='policy require_secure_aggregation: coordinator runs federation "test-federation" without secure aggregation, so this partner'"'"'s updates would reach it in plaintext; refused'
check "(a) the stock node exits with status 1 (not a timeout)" test "$st" = 1
check "(a) its log has the refusal, naming the rule" \
	grep -qF "error: $MSG" "$D/node-p1/node.log"
check "(a) its last word is the refusal" \
	test "$(tail -n 1 "$D/node-p1/node.log")" = "fedlead-node: $MSG"
check "(a) its audit log records the refusal" \
	audit_refusal "$D/node-p1/audit.jsonl" require_secure_aggregation "$MSG"
check "(a) it never reconnected: one Hello in the coordinator's log" \
	test "$(grep -c "partner p1 joined" "$D/coordinator.log")" = 1
check "(a) the coordinator received only p1's Hello" \
	test "$(types "$D/dump" p1 | tr '\n' ' ')" = "hello "
check "(a) ... and nothing it sent on p1's behalf is an update" \
	bash -c "! grep -q 'send.*update' '$D/node-p1/audit.jsonl'"
kill "$COORD_PID" 2>/dev/null || true
wait_pid "$COORD_PID" 10 || true

# ---- (b) two partners, stock nodes ----
D=$T/two
coordinator_conf "$D/coordinator.conf" "p1, p2" "min_partners = 2" "algorithm = newton" \
	"l2 = 1" "validation_split = 0"
start_coordinator "$D" --dump-dir "$D/dump" --late-policy wait ||
	{ bad "(b) coordinator starts"; finish; exit 1; }
NODE_HOME=$D start_node p1 "$T/p1.csv"
n1=$NODE_PID
NODE_HOME=$D start_node p2 "$T/p2.csv"
n2=$NODE_PID
MSG='policy min_partners: round 1: the task names 2 participants, fewer than min_partners = 3; refused'
for k in 1 2; do
	st=0
	wait_pid "$([ "$k" = 1 ] && echo "$n1" || echo "$n2")" 60 || st=$?
	check "(b) stock node p$k exits with status 1" test "$st" = 1
	check "(b) p$k's log has the refusal" grep -qF "error: $MSG" "$D/node-p$k/node.log"
	check "(b) p$k's audit log records it" \
		audit_refusal "$D/node-p$k/audit.jsonl" min_partners "$MSG"
	types "$D/dump" "p$k" >"$D/types-p$k"
	# Refused on the task's participant list, before any key advertisement.
	check "(b) the coordinator received from p$k its Hello only" \
		test "$(sort -u "$D/types-p$k" | tr '\n' ' ')" = "hello "
done
check "(b) no model was written" test ! -e "$D/model.fdl"
kill "$COORD_PID" 2>/dev/null || true
wait_pid "$COORD_PID" 10 || true

# ---- (c) two partners, lowered explicitly ----
D=$T/two-allowed
coordinator_conf "$D/coordinator.conf" "p1, p2" "min_partners = 2" "algorithm = newton" \
	"l2 = 1" "validation_split = 0"
start_coordinator "$D" --late-policy wait || { bad "(c) coordinator starts"; finish; exit 1; }
NODE_HOME=$D start_node p1 "$T/p1.csv" --min-partners 2
n1=$NODE_PID
NODE_HOME=$D start_node p2 "$T/p2.csv" --min-partners 2
n2=$NODE_PID
check "(c) the coordinator finishes with status 0" wait_pid "$COORD_PID" 120
check "(c) node p1 finishes with status 0" wait_pid "$n1" 30
check "(c) node p2 finishes with status 0" wait_pid "$n2" 30
check "(c) both hold the model" \
	bash -c "cmp -s '$D/node-p1/model.fdl' '$D/model.fdl' && cmp -s '$D/node-p2/model.fdl' '$D/model.fdl'"
for k in 1 2; do
	L=$D/node-p$k/node.log
	check "(c) p$k warns at start" grep -qF "warn: min_partners = 2: a sum may cover only 2 partners, from which each can compute the other's update" "$L"
	adverts=$(grep -c '"type": *"key_advert"' "$D/node-p$k/audit.jsonl" || true)
	warned=$(grep -c "warn: round [0-9]*: min_partners = 2 allows a sum over 2 partners, from which each of them can compute the other's update" "$L" || true)
	echo "p$k: $adverts secure rounds, $warned warnings"
	check "(c) p$k warns on every round (one per key advertisement, more than one round)" \
		bash -c "[ '$adverts' -gt 1 ] && [ '$adverts' = '$warned' ]"
done

# ---- (d) configuration ----
J=("$FL_BIN/fedlead-node" join --schema "$SCHEMA" --data "$T/p1.csv" --address 127.0.0.1:1
	--ca "$T/pki/ca/ca.crt" --cert "$T/pki/p1.crt" --key "$T/pki/p1.key"
	--model-out "$T/cfg/model.fdl")
mkdir -p "$T/cfg"
"${J[@]}" --federation test-federation --check >"$T/cfg/check.out" 2>"$T/cfg/check.err" ||
	bad "(d) --check passes"
for line in "require_secure_aggregation = true" "allow_plaintext_updates = false" \
	"min_partners = 3" "max_local_epochs = 100" "max_rounds = 10000" "max_federations = 10"; do
	check "(d) --check shows $line" grep -qxF "$line" "$T/cfg/check.out"
done
st=0
"${J[@]}" --check >/dev/null 2>"$T/cfg/nofed.err" || st=$?
check "(d) no federation id: exit status 2 and the setting named" \
	bash -c "[ $st = 2 ] && grep -qxF 'fedlead-node: setting \"federation\" is required (config file or --federation)' '$T/cfg/nofed.err'"
st=0
"${J[@]}" --federation f --require-secure-aggregation no --check >/dev/null 2>"$T/cfg/half.err" || st=$?
check "(d) require_secure_aggregation = no alone is refused" \
	bash -c "[ $st = 2 ] && grep -qxF 'fedlead-node: require_secure_aggregation = no needs allow_plaintext_updates = yes as well: plaintext updates show this partner'\"'\"'s sums to the coordinator' '$T/cfg/half.err'"
st=0
"${J[@]}" --federation f --min-partners 1 --check >/dev/null 2>"$T/cfg/one.err" || st=$?
check "(d) min_partners = 1 is out of range" \
	bash -c "[ $st = 2 ] && grep -q 'min_partners' '$T/cfg/one.err'"

check "no sanitizer report in any log" sanitizer_clean
finish
