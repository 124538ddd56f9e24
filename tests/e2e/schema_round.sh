#!/usr/bin/env bash
# The federated schema round with the real programs over mutual TLS 1.3:
# three partners draft from their own exports, the coordinator merges the
# drafts and proposes the result to every partner, two operators approve
# it, a federation trains with the approved schema, and the node whose
# operator did not approve refuses to join.
#
#  (a) A category value a partner holds k-1 times (k = schema_min_count =
#      10) appears in no message the coordinator receives (its dump of every
#      payload as received), in nothing the node sent (the node's own dump),
#      nor in the proposal; a value it holds k times does (so the check can
#      fail). A clip range is sent only beside a numeric column's transform
#      (schema_round_transforms.sh).
#  (b) The proposal is the union of the values held >= k times, every
#      partner gets the same one (same fingerprint), and the coordinator
#      keeps a copy for the data team.
#  (c) approve pins the fingerprint; the approved schema trains; a node with
#      a proposal not approved, or with another schema than the approved
#      one, refuses to join with an exact message (exit 2).
#  (d) A type disagreement is a conflict reported to every partner and in
#      the coordinator's log, as schema merge reports it, and nothing is
#      written; after people decide, partners send edited drafts
#      (schema propose --draft) and the round proposes a schema.
. "$(dirname "$0")/lib/fed.bash"

pki p1 p2 p3

# leads N SEED SOURCES...: a lead export of N rows; "Lead Source" holds
# each of SOURCES ("NAME*COUNT": COUNT times) in the first rows, and in the
# rest one of the sources listed 20 times or more; Visits is a number; the
# label Converted/Not Converted depends on both with some noise; each lead
# has its own Lead Number (which the draft ignores).
leads() {
	"$PY" - "$@" <<'PYEOF'
import random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
pool, fill = [], []
for s in sys.argv[3:]:
    name, _, count = s.partition("*")
    pool += [name] * int(count)
    if int(count) >= 20:
        fill.append(name)
rng = random.Random(seed)
print("Lead Number,Lead Source,Visits,Country,Converted")
for i in range(n):
    src = pool[i] if i < len(pool) else rng.choice(fill)
    visits = rng.randint(0, 20)
    z = 0.2 * visits - 2 + (1.0 if src == "Google" else 0) + rng.gauss(0, 1)
    print("L-%d-%d,%s,%d,%s,%s" % (seed, i, src, visits, rng.choice(["DE", "FR"]),
                                   "Converted" if z > 0 else "Not Converted"))
PYEOF
}

# p1 holds "Rare Source" 9 times (k - 1) and "Trade Fair" 10 times (k).
# 1000 leads each, Visits whole numbers 0 to 20 (each held about 50
# times): every partner sends a clip range beside its transform, and the
# federation below trains on the proposal's range.
leads 1000 1 "Rare Source*9" "Trade Fair*10" "Google*60" "Direct*60" >"$T/p1.csv"
leads 1000 2 "Google*80" "Direct*80" "Referral*40" >"$T/p2.csv"
leads 1000 3 "Google*70" "Referral*70" >"$T/p3.csv"

# node_conf NAME: the partner's config for the schema round and the join.
node_conf() {
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

# round DIR: a schema-round coordinator in DIR for p1..p3, and the three
# nodes' schema propose; waits for all four. Sets PROPOSE_ST (statuses).
round() {
	local dir=$1 k pids=() st
	coordinator_conf "$dir/coordinator.conf" "p1, p2, p3" "schema_round = on"
	start_coordinator "$dir" --dump-dir "$dir/dump" || return 1
	for k in 1 2 3; do
		node_conf "p$k"
		"$FL_BIN/fedlead-node" schema propose --config "$T/node-p$k/node.conf" \
			--label Converted >"$T/node-p$k/propose.out" 2>"$T/node-p$k/propose.err" &
		pids+=("$!")
		track "$!"
	done
	PROPOSE_ST=()
	for k in 0 1 2; do
		st=0
		wait_pid "${pids[$k]}" 60 || st=$?
		PROPOSE_ST+=("$st")
	done
	COORD_ST=0
	wait_pid "$COORD_PID" 30 || COORD_ST=$?
}

# ---- (a), (b): the round ----------------------------------------------------
round "$T/round"
for k in 1 2 3; do cat "$T/node-p$k/propose.err"; done
must "every partner's schema propose ends with the proposal (statuses ${PROPOSE_ST[*]})" \
	test "${PROPOSE_ST[*]}" = "0 0 0"
check "the schema round's coordinator exits 0 once every partner has the proposal" \
	test "$COORD_ST" = 0
check "the coordinator logs the proposal" \
	log_has "$T/round/coordinator.log" "schema round: proposed the merge of 3 drafts to every partner, fingerprint [0-9a-f]{64}"
P=$T/node-p1/state/schema.proposed.json
fp() { sed -n 's/^fingerprint: //p' "$T/node-$1/propose.out"; }
check "every partner received the same proposal (one fingerprint)" \
	test -n "$(fp p1)" -a "$(fp p1)" = "$(fp p2)" -a "$(fp p1)" = "$(fp p3)"
check "the data team's copy is the partners' proposal" \
	cmp -s <(tr -d '\n' <"$P") <(tr -d '\n' <"$T/round/state/schema.proposed.json")
check "the proposal lists the union of the values held >= 10 times" \
	test "$(jget "$P" '",".join(v for f in j["features"] if f["name"] == "Lead Source" for v in f["values"])')" = \
	"Direct,Google,Referral,Trade Fair"
check "... and a clip range only on Visits, beside the transform every partner proposed" \
	test "$(jget "$P" '",".join(f["name"] + ":" + f.get("transform", "") for f in j["features"] if "clip" in f)')" = "Visits:spline"
check "the coordinator received the drafts (dump of every payload)" \
	test "$(ls "$T/round/dump" | wc -l)" -ge 6
check "a value held 10 times reached the coordinator (so the next check can fail)" \
	grep -rqa "Trade Fair" "$T/round/dump"
check "a value held 9 times is in no message the coordinator received" \
	bash -c "! grep -rqa 'Rare Source' '$T/round/dump'"
check "... nor in anything p1's node sent, nor in the proposal" \
	bash -c "! grep -rqa 'Rare Source' '$T/node-p1/dump' '$P' '$T/node-p1/state/schema.sent.json'"
check "... though p1's data holds it 9 times" \
	test "$(grep -c ',Rare Source,' "$T/p1.csv")" = 9
check "p1's node sent its Hello and its draft, and nothing else" \
	test "$(cd "$T/node-p1/dump" && echo *)" = "000001-hello.bin 000002-schema_draft.bin"
check "no clip range left p1's node but beside a transform" \
	test "$(jget "$T/node-p1/state/schema.sent.json" '",".join(f["name"] for f in j["features"] if "clip" in f or "transform" in f)')" = "Visits"
check "propose tells the operator what the proposal means for its data" \
	grep -qx 'feature "Lead Source": values here the proposal does not list go to "(other)": "Rare Source"' \
	"$T/node-p1/propose.out"

# ---- (c): approval, a federation, refusals ----------------------------------
approve() { # approve NAME ANSWER
	echo "$2" | "$FL_BIN/fedlead-node" schema approve "$T/node-$1/state/schema.proposed.json" \
		--config "$T/node-$1/node.conf" >"$T/node-$1/approve.out" 2>"$T/node-$1/approve.err"
}
st=0
approve p1 no || st=$?
check "approve without \"yes\" changes nothing (exit 2)" test "$st" = 2
check "... and says so" grep -qx 'fedlead-node: not approved (the answer was not "yes"): nothing changed' \
	"$T/node-p1/approve.err"
# A coordinator that deviates could propose a value a partner holds fewer
# than k times (a guess: training's sums would then count it), or names
# with terminal escapes that rewrite what the operator reads. approve shows
# both for what they are.
"$PY" - "$P" "$T/deviant.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
for f in j["features"]:
    if f["name"] == "Lead Source":
        f["values"] = sorted(f["values"] + ["Rare Source"])
j["features"].append({"name": "Notes\u001b[1A\u001b[2K", "type": "numeric"})
j["ignore"].remove("Lead Number")
j["features"].append({"name": "Lead Number", "type": "categorical",
                      "values": ["L-1-17", "L-2-42"], "other": True})
# A feature read from two columns: one lead's number with its country.
j["features"].append({"name": "Lead Country", "type": "categorical",
                      "columns": ["Lead Number", "Country"],
                      "values": ["L-1-17 DE", "L-1-17 FR"], "other": True})
json.dump(j, open(sys.argv[2], "w"), indent=2)
PYEOF
st=0
echo no | "$FL_BIN/fedlead-node" schema approve "$T/deviant.json" --config "$T/node-p1/node.conf" \
	>"$T/deviant.out" 2>&1 || st=$?
check "approve warns of a proposed value this partner holds fewer than k times" grep -qx \
	'WARNING feature "Lead Source": the proposal lists values this partner holds 1 to 9 times (training would count them): "Rare Source"' \
	"$T/deviant.out"
check "... and of values proposed for a column its draft ignores (an identifier)" grep -qx \
	'WARNING feature "Lead Number": the proposal lists 2 values for a column this partner'"'"'s draft ignores (more than 100 distinct values, or none held 10 times): training counts the leads holding each' \
	"$T/deviant.out"
check "... and of a value of a feature read from two columns, joined as the encoder joins them" grep -Eqx \
	'WARNING feature "Lead Country": the proposal lists values this partner holds 1 to 9 times \(training would count them\): "L-1-17 (DE|FR)"' \
	"$T/deviant.out"
check "... which its draft does not propose" grep -qxF \
	"feature \"Lead Country\": reads 2 columns together, which this partner's draft of $T/p1.csv does not propose" \
	"$T/deviant.out"
check "... and refuses it without asking" grep -qxF \
	"fedlead-node: the proposal lists values that $T/p1.csv holds 1 to 9 times (fewer than schema_min_count = 10) in column \"Lead Source\" (and 2 more columns): training would tell the coordinator how many leads hold each; not approved" \
	"$T/deviant.out"
check "... (no question asked)" bash -c "! grep -q 'Type yes' '$T/deviant.out'"
check "... shows a name with terminal escapes with the escapes replaced" grep -qxF \
	"feature \"Notes?[1A?[2K\": is not a column in $T/p1.csv" "$T/deviant.out"
check "... and the proposal's own fingerprint is what it shows" \
	bash -c "grep -q '^fingerprint: ' '$T/deviant.out' && ! grep -qx 'fingerprint: $(fp p1)' '$T/deviant.out'"
check "... and nothing is approved without yes (exit $st)" test "$st" = 2
check "p1's operator approves the proposal" approve p1 yes
check "p2's operator approves the proposal" approve p2 yes
check "approve shows the fingerprint" grep -qx "fingerprint: $(fp p1)" "$T/node-p1/approve.out"
check "approve pins it in the state directory" \
	grep -qx "approved $(fp p1) $(sha256sum "$P" | cut -d' ' -f1)" "$T/node-p1/state/schema.pin"
check "... and keeps the approved schema where a later round does not write" \
	cmp -s "$P" "$T/node-p1/state/schema.approved.json"
check "p3, which did not approve, has the proposal pending" \
	grep -qx "pending $(fp p3)" "$T/node-p3/state/schema.pin"

FED_SCHEMA=$P coordinator_conf "$T/fed/coordinator.conf" "p1, p2" "min_partners = 2" \
	"algorithm = newton" "l2 = 1" "validation_split = 0"
must "a federation of p1 and p2 on the approved schema starts" start_coordinator "$T/fed"
pids=()
for k in 1 2; do
	node_conf "p$k"
	"$FL_BIN/fedlead-node" join --config "$T/node-p$k/node.conf" \
		--schema "$T/node-p$k/state/schema.approved.json" \
		--backoff-initial 0.1 --backoff-max 0.5 2>>"$T/node-p$k/node.log" &
	pids+=("$!")
	track "$!"
done
check "the federation on the approved schema finishes" wait_pid "$COORD_PID" 120
for k in 0 1; do check "p$((k + 1)) saved the model" wait_pid "${pids[$k]}" 30; done

join_refused() { # join_refused NAME SCHEMA: the join's status and message
	local st=0
	"$FL_BIN/fedlead-node" join --config "$T/node-$1/node.conf" --schema "$2" \
		2>"$T/node-$1/refused.err" || st=$?
	echo "$st"
}
check "p3, whose operator did not approve, refuses to join (exit 2)" \
	test "$(join_refused p3 "$T/node-p3/state/schema.proposed.json")" = 2
check "... with the exact message" grep -qx "fedlead-node: the schema round proposed schema $(fp p3 | cut -c1-16)..., which this node's operator has not approved: this node joins no federation until its operator approves a schema (fedlead-node schema approve PROPOSAL.json --config NODE.conf)" \
	"$T/node-p3/refused.err"
check "p1 refuses a schema other than the approved one (exit 2)" \
	test "$(join_refused p1 "$SCHEMA")" = 2
other_fp=$("$FL_BIN/fedlead-coordinator" --config "$T/fed/coordinator.conf" --schema "$SCHEMA" --check |
	sed -n 's/^; configuration OK: schema fingerprint \([0-9a-f]*\),.*/\1/p')
check "... with the exact message" grep -qx "fedlead-node: schema $SCHEMA has fingerprint $(echo "$other_fp" | cut -c1-16)..., not the one this node's operator approved ($(fp p1 | cut -c1-16)...): this node joins no federation with another schema (fedlead-node schema approve approves one)" \
	"$T/node-p1/refused.err"

# ---- (d): conflicts ------------------------------------------------------------
# p3's export now writes Visits as words: numeric at p1 and p2, categorical
# at p3.
sed -i -e '2,$s/^\([^,]*\),\([^,]*\),\([0-9]\)[0-9]*,/\1,\2,v\3,/' "$T/p3.csv"
rm -rf "$T/node-p1/state" "$T/node-p2/state" "$T/node-p3/state"
round "$T/round2"
check "with a conflict every schema propose exits 2 (statuses ${PROPOSE_ST[*]})" \
	test "${PROPOSE_ST[*]}" = "2 2 2"
for k in 1 2 3; do
	check "p$k is told the conflict as schema merge says it" grep -qx \
		'fedlead-node: conflict: features "Visits": type numeric in p1, categorical in p3' \
		"$T/node-p$k/propose.err"
done
check "the coordinator logs it" log_has "$T/round2/coordinator.log" \
	'schema round: conflict: features "Visits": type numeric in p1, categorical in p3$'
check "the coordinator keeps the conflicts for the data team" \
	grep -qx 'features "Visits": type numeric in p1, categorical in p3' "$T/round2/state/schema.conflicts.txt"
check "the coordinator exits 1 (the round failed)" test "$COORD_ST" = 1
check "no proposal is written at any partner, no pin" \
	bash -c "! ls $T/node-p*/state/schema.proposed.json $T/node-p*/state/schema.pin 2>/dev/null | grep -q ."

# People decide: p3 leaves Visits out of the model (ignored) and the others
# agree, each editing the draft it sent; the round is run again with
# --draft.
for k in 1 2 3; do
	"$PY" - "$T/node-p$k/state/schema.sent.json" "$T/node-p$k/edited.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["features"] = [f for f in j["features"] if f["name"] != "Visits"]
j["ignore"].append("Visits")
json.dump(j, open(sys.argv[2], "w"))
PYEOF
done
propose_edited() { # the round again, each partner sending its edited draft
	local k pids=() st
	coordinator_conf "$T/round3/coordinator.conf" "p1, p2, p3" "schema_round = on"
	start_coordinator "$T/round3" || return 1
	for k in 1 2 3; do
		node_conf "p$k"
		"$FL_BIN/fedlead-node" schema propose --config "$T/node-p$k/node.conf" \
			--draft "$T/node-p$k/edited.json" >"$T/node-p$k/propose3.out" \
			2>"$T/node-p$k/propose3.err" &
		pids+=("$!")
		track "$!"
	done
	for k in 0 1 2; do wait_pid "${pids[$k]}" 60 || return 1; done
	wait_pid "$COORD_PID" 30
}
check "after the edit the round proposes a schema to every partner" propose_edited
check "... without Visits" test "$(jget "$T/node-p3/state/schema.proposed.json" \
	'[f["name"] for f in j["features"]] + j["ignore"]')" = "['Lead Source', 'Country', 'Lead Number', 'Visits']"
finish
