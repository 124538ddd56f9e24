#!/usr/bin/env bash
# A deviating coordinator against stock nodes (issue 10). deviant_coord
# (tests/tools/deviant_coord.c) is built from fedlead's own libraries and
# speaks the real protocol over TLS 1.3 with mutual certificates; each case
# below runs it with one scripted attack against three stock fedlead-node
# processes (four where the attack needs n - 1 >= 3) with their default
# policy, and asserts:
#   - the exact refusal in each node's log,
#   - how the node ended: its exit status, and whether it stopped by itself
#     or reconnected (a reconnecting node gets deviant_coord's permanent
#     Reject "deviant coordinator: the attack is over", and exits on that);
#   - what deviant_coord received from each partner (its dump, the stock
#     coordinator's --dump-dir layout), message by message with its round:
#     nothing derived from a partner's rows beyond what the policy allows.
# The cases:
#   (1) downgrade        (2) plaintext-task  (3) bound          (3b) bound-change
#  (3c) rounds          (3d) epochs          (4) sub2
#   (5) keylist2         (6) weights         (7) survivors      (8) replay-round
#   (9) replay-attempt  (10) differencing   (11) sub-n-1
#  (12) n - 1 across runs: "honest" over four partners, then over three
#       after the nodes restart (the node's ledger keeps the set)
#  (13) the refusals of cases 7, 9, 10, 11 and 14 are audited and end the node
#  (14) frame, frame-forged: a task without p4 carrying "evidence" that p4
#       revealed a bad share (its real signed reply of round 1, or that
#       reply with one signed value changed): each node checks it itself
# (see deviant_coord.c for what each attack sends).
. "$(dirname "$0")/lib/fed.bash"

DEV=${DEVIANT_COORD:-$FL_BIN/tests/deviant_coord}
[ -x "$DEV" ] || { bad "no $DEV: build the test tools (BUILD_TESTING)"; finish; exit 1; }

pki p1 p2 p3 p4
split_coil 4

# received DIR WHO: what deviant_coord received from WHO, one word per message,
# space-separated: TYPE, or TYPE:ROUND for a message of a round; an unmask
# reply also names the kinds of share it reveals, [1] self-mask seed shares
# (of survivors), [2] mask-secret shares (of dropped partners).
received() {
	"$PY" - "$1/dump" "$2" <<'PYEOF'
import os, sys
names = {1: "hello", 9: "update", 10: "status", 11: "key_advert", 13: "share_set",
         14: "masked_update", 16: "unmask_reply", 18: "consistency_signature"}

def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        wt = key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield key >> 3, v

def varint(b, i):
    v, s = 0, 0
    while True:
        v |= (b[i] & 0x7F) << s
        s += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i

d, who, out = sys.argv[1], sys.argv[2], []
for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    if not f.endswith("-%s.bin" % who):
        continue
    (tag, body), = list(fields(open(os.path.join(d, f), "rb").read()))
    word = names.get(tag, "field-%d" % tag)
    if tag != 1:
        ref = dict(fields(dict(fields(body)).get(1, b"")))
        word += ":%d" % ref.get(2, 0)
    if tag == 16:
        kinds = sorted({dict(fields(v)).get(2) for k, v in fields(body) if k == 2})
        word += "[%s]" % ",".join(str(k) for k in kinds)
    out.append(word)
print(" ".join(out))
PYEOF
}

# audit_refusal AUDIT RULE REASON: the node's audit log holds the refusal.
audit_refusal() {
	"$PY" - "$@" <<'PYEOF'
import json, sys
path, rule, reason = sys.argv[1:4]
try:
    ev = [json.loads(l) for l in open(path)]
except FileNotFoundError:
    sys.exit(1)
sys.exit(0 if any(e["event"] == "refuse" and e["rule"] == rule and e["reason"] == reason
                  for e in ev) else 1)
PYEOF
}

OVER='deviant coordinator: the attack is over'

# logged_error LOG MSG: the node logged exactly MSG as an error
# ("TIME fedlead-node[PID] error: MSG").
logged_error() {
	sed -n 's/^[^ ]* fedlead-node\[[0-9]*\] error: //p' "$1" | grep -qxF -- "$2"
}

# play CASE ATTACK N: deviant_coord plays ATTACK against stock nodes p1..pN;
# waits until it has played and every node has exited (60 s each). Sets D
# (the case's directory: deviant_coord's output and dump), H (where the
# nodes keep their files: $PLAY_HOME, or D) and ST[k] (node pk's exit
# status, 124: still running after 60 s, then killed).
play() {
	local name=$1 attack=$2 n=$3 k
	D=$T/$name
	H=${PLAY_HOME:-$D}
	mkdir -p "$D"
	"$DEV" --attack "$attack" --partners "$n" --schema "$SCHEMA" --ca "$T/pki/ca/ca.crt" \
		--cert "$T/pki/coordinator.crt" --key "$T/pki/coordinator.key" \
		--dump-dir "$D/dump" >"$D/deviant.out" 2>"$D/deviant.log" &
	DEV_PID=$!
	track "$DEV_PID"
	if ! wait_log 30 "$D/deviant.out" '^listening on 127\.0\.0\.1:[0-9]+$' "$DEV_PID"; then
		bad "($name) deviant_coord listens"
		return 1
	fi
	PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$D/deviant.out")
	declare -gA NPID=()
	declare -gA ST=()
	for k in $(seq 1 "$n"); do
		NODE_HOME=$H start_node "p$k" "$T/p$k.csv"
		NPID[$k]=$NODE_PID
	done
	wait_log 120 "$D/deviant.out" "^attack $attack: played\$" "$DEV_PID" ||
		bad "($name) deviant_coord played $attack"
	for k in $(seq 1 "$n"); do
		ST[$k]=0
		wait_pid "${NPID[$k]}" 60 || ST[$k]=$?
	done
	kill "$DEV_PID" 2>/dev/null || true
	wait_pid "$DEV_PID" 10 || true
}

# refused CASE K RULE MSG: node pK stopped by itself on a policy refusal:
# exit status 1 without reconnecting, the refusal in its log and as its
# last word, and in its audit log.
refused() {
	local name=$1 k=$2 rule=$3 msg=$4 L=$H/node-p$2
	check "($name) p$k exits with status 1 and never reconnects" \
		bash -c "[ '${ST[$k]}' = 1 ] && ! grep -q '^reconnect p$k\$' '$D/deviant.out'"
	check "($name) p$k logs the refusal" logged_error "$L/node.log" "$msg"
	check "($name) p$k's last word is the refusal" \
		test "$(tail -n 1 "$L/node.log")" = "fedlead-node: $msg"
	check "($name) p$k's audit log records it" audit_refusal "$L/audit.jsonl" "$rule" "$msg"
}

# declined CASE K MSG: node pK declined the step with MSG (an error that
# closes the connection, not a policy refusal), reconnected, and exited on
# deviant_coord's permanent Reject.
declined() {
	local name=$1 k=$2 msg=$3 L=$H/node-p$2
	check "($name) p$k logs: $msg" logged_error "$L/node.log" "$msg"
	check "($name) p$k reconnected and ended on the coordinator's Reject (status 1)" \
		bash -c "[ '${ST[$k]}' = 1 ] && grep -q '^reconnect p$k\$' '$D/deviant.out' &&
			tail -n 1 '$L/node.log' | grep -qF 'refused this partner: $OVER'"
}

# ended CASE K: node pK, which refused nothing, ended on the Reject.
ended() {
	local name=$1 k=$2 L=$H/node-p$2
	check "($name) p$k ended on the coordinator's Reject (status 1)" \
		bash -c "[ '${ST[$k]}' = 1 ] && tail -n 1 '$L/node.log' | grep -qF 'refused this partner: $OVER'"
}

# got CASE K EXPECTED: deviant_coord received exactly EXPECTED from pK.
got() {
	local s
	s=$(received "$D" "p$2")
	if [ "$s" = "$3" ]; then
		ok "($1) received from p$2: $3"
	else
		bad "($1) received from p$2: $3"
		echo "     it received: $s"
	fi
}

# no_secret_shares N: no unmask reply from p1..pN reveals a mask-secret share.
no_secret_shares() {
	local k
	for k in $(seq 1 "$1"); do
		! received "$D" "p$k" | grep -Eq 'unmask_reply:[0-9]+\[[0-9,]*2' || return 1
	done
}

ROUND1='key_advert:1 share_set:1 masked_update:1 consistency_signature:1 unmask_reply:1[1]'

# ---- (1) downgrade: a plan without secure aggregation ----
play 1 downgrade 3
for k in 1 2 3; do
	refused 1 $k require_secure_aggregation 'policy require_secure_aggregation: coordinator runs federation "test-federation" without secure aggregation, so this partner'"'"'s updates would reach it in plaintext; refused'
	got 1 $k "hello"
done

# ---- (2) a secure plan, then a task without secure aggregation ----
play 2 plaintext-task 3
for k in 1 2 3; do
	refused 2 $k require_secure_aggregation 'policy require_secure_aggregation: coordinator sent stats_task without secure aggregation in a secure federation; refused'
	got 2 $k "hello"
done

# ---- (3) a fixed-point bound of the coordinator's choosing ----
play 3 bound 3
for k in 1 2 3; do
	refused 3 $k bound 'policy bound: coordinator sent stats_task with the fixed-point bound 1000.5, which is not the bound of a federation of 2 to 255 partners; refused'
	got 3 $k "hello"
done

# ---- (3b) a valid bound, but another than the federation started with ----
play 3b bound-change 3
read -r OLD NEW < <(sed -n 's/^bounds: \([^ ]*\) then \([^ ]*\)$/\1 \2/p' "$D/deviant.out")
for k in 1 2 3; do
	refused 3b $k bound "policy bound: coordinator sent stats_task with the fixed-point bound $NEW, but this federation uses $OLD; refused"
	got 3b $k "hello $ROUND1"
done

# ---- (3c) a round beyond max_rounds ----
play 3c rounds 3
for k in 1 2 3; do
	refused 3c $k max_rounds 'policy max_rounds: coordinator sent stats_task for round 10001, beyond max_rounds = 10000; refused'
	got 3c $k "hello"
done

# ---- (3d) local training with a million epochs ----
play 3d epochs 3
for k in 1 2 3; do
	refused 3d $k max_local_epochs 'policy max_local_epochs: coordinator sent local_train with 1000000 epochs, more than max_local_epochs = 100; refused'
	got 3d $k "hello"
done

# ---- (4) a sub-federation of two: the task names p1 and p2 ----
play 4 sub2 3
for k in 1 2; do
	refused 4 $k min_partners 'policy min_partners: round 1: the task names 2 participants, fewer than min_partners = 3; refused'
	got 4 $k "hello"
done
ended 4 3
got 4 3 "hello"

# ---- (5) a task naming all three, then a key list of two ----
play 5 keylist2 3
for k in 1 2 3; do
	refused 5 $k min_partners 'policy min_partners: round 1: the key list names 2 partners, fewer than min_partners = 3; refused'
	got 5 $k "hello key_advert:1"
done

# ---- (6) other weights for p1 than for p2 and p3 ----
play 6 weights 3
W='was given a different task than this partner (weights, round, participants or parameters); refused: a coordinator that does this can isolate one partner'"'"'s update'
declined 6 1 "partner p2 $W"
declined 6 2 "partner p1 $W"
declined 6 3 "partner p1 $W"
for k in 1 2 3; do got 6 $k "hello key_advert:1 hello"; done

# ---- (7) survivor sets: p3 told p4 dropped, the others that all survived ----
play 7 survivors 4
refused 7 2 consistency_check "coordinator: the unmask request's survivor set differs from the one this partner signed; refused"
refused 7 3 consistency_check "coordinator: only 1 survivors' signatures of the survivor set verify, fewer than the threshold 3; refused"
# p1 and p4 signed the set everyone was in and got it back with three
# signatures: they reveal self-mask seed shares, as for any honest round.
ended 7 1
ended 7 4
for k in 1 4; do got 7 $k "hello $ROUND1"; done
for k in 2 3; do got 7 $k "hello key_advert:1 share_set:1 masked_update:1 consistency_signature:1"; done
check "(7) nobody revealed a share of anyone's mask secret" no_secret_shares 4
check "(7) deviant_coord unmasked no sum" bash -c "! grep -q '^round 1: sum' '$D/deviant.out'"

# ---- (8) round 2 answered with round 1's key list ----
play 8 replay-round 3
for k in 1 2 3; do
	declined 8 $k "coordinator: stale key_list for round 1, round 2 was already seen"
	got 8 $k "hello $ROUND1 key_advert:2 hello"
done

# ---- (9) attempt A's signed unmask request in attempt B of round 1 ----
play 9 replay-attempt 3
A='key_advert:1 share_set:1 masked_update:1 consistency_signature:1'
for k in 1 2 3; do
	refused 9 $k consistency_check "coordinator: only 0 survivors' signatures of the survivor set verify, fewer than the threshold 3; refused"
	got 9 $k "hello $A $A"
done

# ---- (10) a sum over all four, then the same task over three survivors ----
# (p4's masked input ignored as if lost): the difference would be p4's
# statistics.
DIFF='node policy: this federation'"'"'s sums so far were over {p1,p2,p3,p4}; the coordinator now asks to reveal a sum over {p1,p2,p3}, which would let the two be differenced; refused (allow_participant_change permits it)'
R2='key_advert:2 share_set:2 masked_update:2'
play 10 differencing 4
for k in 1 2 3; do
	refused 10 $k allow_participant_change "$DIFF"
	got 10 $k "hello $ROUND1 $R2"
done
ended 10 4
got 10 4 "hello $ROUND1 $R2"
check "(10) nobody revealed a share of anyone's mask secret" no_secret_shares 4
check "(10) deviant_coord unmasked round 1's sum, not round 2's" \
	bash -c "grep -q '^round 1: sum' '$D/deviant.out' && ! grep -q '^round 2: sum' '$D/deviant.out'"

# ---- (11) a sum over all four, then a task naming p1, p2, p3 only ----
# The nodes refuse the task itself, before anything of round 2 leaves.
play 11 sub-n-1 4
for k in 1 2 3; do
	refused 11 $k allow_participant_change 'policy allow_participant_change: round 2: the task'"'"'s participants {p1,p2,p3} are not the set {p1,p2,p3,p4} this data'"'"'s sums were revealed over in this federation: the two could be differenced; refused'
	got 11 $k "hello $ROUND1"
done
ended 11 4
got 11 4 "hello $ROUND1"
check "(11) deviant_coord unmasked round 1's sum, not round 2's" \
	bash -c "grep -q '^round 1: sum' '$D/deviant.out' && ! grep -q '^round 2: sum' '$D/deviant.out'"

# ---- (12) a sub-federation of n - 1 across runs ----
# The same federation twice on the same data: first over p1..p4, then,
# after the nodes restart (same data, same state directory, so the same
# ledger), over p1, p2, p3 only. Each run on its own is honest; together
# the two sums difference to p4's statistics. A node must refuse the second
# sum (issue 10: "a node refuses to join a second federation on the same
# data with a participant set that, together with earlier ones, would let
# sums be differenced, unless its operator allows it").
PLAY_HOME=$T/12 play 12a honest 4
for k in 1 2 3 4; do
	ended 12a $k
	got 12a $k "hello $ROUND1"
done
SUM4=$(sed -n 's/^round 1: sum\[0\] = //p' "$D/deviant.out")
PLAY_HOME=$T/12 play 12b honest 3
SUM3=$(sed -n 's/^round 1: sum\[0\] = //p' "$D/deviant.out")
ROWS4=$(($(wc -l <"$T/p4.csv") - 1))
for k in 1 2 3; do
	refused 12b $k allow_participant_change 'policy allow_participant_change: round 1: the task'"'"'s participants {p1,p2,p3} are not the set {p1,p2,p3,p4} this data'"'"'s sums were revealed over in federation "test-federation": the two could be differenced; refused'
	check "(12) p$k, restarted, stops by itself (status 1, no reconnect, not on the Reject)" \
		bash -c "[ '${ST[$k]}' = 1 ] && ! grep -q '^reconnect p$k\$' '$D/deviant.out' &&
			! tail -n 1 '$H/node-p$k/node.log' | grep -qF '$OVER'"
	check "(12) p$k revealed no shares for the sum over p1, p2, p3" \
		bash -c "! grep -q unmask_reply <<<'$(received "$D" "p$k")'"
done
echo "     sums of rows: ${SUM4:-none} over p1..p4, ${SUM3:-none} over p1..p3; p4 has $ROWS4 rows"
check "(12) deviant_coord did not learn p4's row count as the difference of the two sums" \
	"$PY" -c "import sys; sys.exit(0 if '$SUM3' == '' or float('$SUM4') - float('$SUM3') != $ROWS4 else 1)"

# ---- (14) excluding an honest partner with "evidence" ----
# After an honest round over all four, a task over p1, p2, p3 that carries
# evidence against p4 made of round 1's real signed messages. Each node
# checks it against its own record of round 1 and refuses, naming what
# failed; nothing of round 2 leaves.
play 14 frame 4
for k in 1 2 3; do
	refused 14 $k allow_participant_change 'policy allow_participant_change: round 2: the coordinator'"'"'s evidence against p4 does not verify: the share p4 revealed matches p1'"'"'s signed commitment; refused'
	got 14 $k "hello $ROUND1"
done
ended 14 4
got 14 4 "hello $ROUND1"
play 14b frame-forged 4
for k in 1 2 3; do
	refused 14b $k allow_participant_change 'policy allow_participant_change: round 2: the coordinator'"'"'s evidence against p4 does not verify: the unmask reply it shows does not carry p4'"'"'s signature; refused'
	got 14b $k "hello $ROUND1"
done
ended 14b 4

# ---- (13) refusals in secure aggregation end the node ----
# Issue 10: "every refusal is a clear log line naming the rule, an
# audit-log entry, and a non-zero exit when the federation cannot proceed
# within the policy". What only the coordinator can have done (cases 7, 9,
# 10, 11: survivor sets, signatures it relays, a sum over another set)
# ends the node. Cases 6 and 8 close the connection and the node
# reconnects: in 6 the advertisement that signs another task may be the
# other partner's own lie (stopping would let one hostile partner stop every
# honest one), and 8 is a stale message; either way nothing was revealed.
for ck in 7:2 7:3 9:1 9:2 9:3 10:1 10:2 10:3 11:1 11:2 11:3 14:1 14:2 14:3 14b:1 14b:2 14b:3; do
	c=${ck%:*} k=${ck#*:}
	check "(13) case $c: p$k's refusal is in its audit log and it stopped without reconnecting" \
		bash -c "grep -q '\"event\": *\"refuse\"' '$T/$c/node-p$k/audit.jsonl' &&
			! grep -q '^reconnect p$k\$' '$T/$c/deviant.out'"
done

check "no sanitizer report in any log" sanitizer_clean

finish
