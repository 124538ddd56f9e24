#!/usr/bin/env bash
# An adversarial review of fedlead-node schema approve and the schema pin
# (src/cli/node_schema_round.c), with the real program and no coordinator:
# what a partner's operator relies on when approving a proposal from a
# coordinator that may deviate. A check that fails on the reviewed code
# demonstrates a finding (each says which).
#
#  (a) What approve pins is what it showed: the approved copy is the text
#      whose fingerprint the operator saw, even if the proposal file changes
#      while approve waits for "yes" (it reads the file again after the
#      answer; a variant with the same fingerprint, here with a number
#      format that rereads this partner's numbers, is then what the node
#      joins with).
#  (b) A proposal whose label says the other value means converted than
#      this partner's own data says (its words: Converted / Not Converted)
#      is not approved silently: the model would rank its leads upside down.
#  (c) The pin holds for the node, not for one invocation's paths: a join
#      with the same config but another model_out (hence another state
#      directory when state_dir is not set) still refuses a schema that is
#      not the approved one.
#  (d) approve's WARNING of a proposed value this partner holds fewer than
#      k times (a guess the coordinator plants: training's statistics round
#      then sums its indicator column, i.e. counts the leads holding it)
#      covers every column: also one with more distinct values than a
#      draft lists (a company name, where guesses pay) and one that is
#      numeric in this partner's export (a postcode) but categorical in the
#      proposal.
#  (e) What a planted value is worth to the coordinator: p1 approves the
#      proposal of (d) (nothing warned it of "Acme Rare"), joins a
#      federation of three with it, and the first statistics round (secure
#      aggregation, stock nodes; tests/tools/deviant_coord in its honest
#      mode records what a coordinator unmasks) gives the coordinator the
#      number of leads holding "Acme Rare": 3, a value p1 holds fewer than
#      k = 10 times, which the round itself never sent.
#  (f) Nothing approve prints carries the proposal's control characters:
#      its summary's "cannot compare" line quotes an error that holds the
#      proposal's label value as sent.
#  (g) "values held fewer than schema_min_count times never leave the site"
#      (the policy key's description) holds for schema propose --draft too:
#      a draft made without min_count (plain fedlead-node schema, which the
#      operator then edits) carries values the node's data holds fewer
#      than k times, and the node, which has the data, sends them. The
#      evidence is STATE_DIR/schema.sent.json, written before the node
#      connects ("what was sent"); no coordinator listens here.
#  (h) A feature read from several columns is reviewed by its columns, not
#      its name: a proposal named like this partner's drafted calendar date
#      ("month day") that reads the month with the e-mail column (an
#      identifier the draft ignores) was summarised as that date, without
#      a word of the e-mail column, and approved on "yes" when the planted
#      pair was held by no lead.
. "$(dirname "$0")/lib/fed.bash"

pki p1 p2 p3

"$PY" - "$T/p1.csv" <<'PYEOF'
import random, sys
rng = random.Random(7)
with open(sys.argv[1], "w") as f:
    f.write("Lead Source,Amount,Converted\n")
    for i in range(200):
        src = rng.choice(["Google", "Direct", "Referral"])
        f.write("%s,%d.%d,%s\n" % (src, rng.randint(1, 9), rng.randint(0, 9),
                                   rng.choice(["Converted", "Not Converted"])))
PYEOF

# proposal FILE [EXTRA-JSON-PYTHON]: a proposal as a coordinator sends it,
# the merge of drafts of this export; EXTRA edits j (a dict) before writing.
proposal() {
	"$PY" - "$1" "${2:-}" <<'PYEOF'
import json, sys
j = {"fedlead_schema": 1,
     "comment": "Merged by fedlead-node schema merge from the partners' drafts: review every feature before approving it.",
     "label": {"column": "Converted", "positive": "Converted", "negative": "Not Converted"},
     "features": [{"name": "Lead Source", "type": "categorical",
                   "values": ["Direct", "Google", "Referral"], "other": True},
                  {"name": "Amount", "type": "numeric", "missing": "error"}],
     "ignore": []}
exec(sys.argv[2])
with open(sys.argv[1], "w") as f:
    json.dump(j, f, indent=2)
    f.write("\n")
PYEOF
}

# node_conf NAME [STATE_DIR_LINE]: p1's config; without a state_dir line the
# state is model_out's directory.
node_conf() {
	local home=$T/$1
	mkdir -p "$home"
	cat >"$home/node.conf" <<EOF
[node]
data = $T/p1.csv
schema = $home/schema.approved.json
federation = test-federation
[coordinator]
address = 127.0.0.1:1
server_name = localhost
[tls]
ca = $T/pki/ca/ca.crt
cert = $T/pki/p1.crt
key = $T/pki/p1.key
[state]
model_out = $home/model.fdl
${2:-}
[policy]
schema_min_count = 10
EOF
}

fingerprint() { # the fingerprint approve shows for FILE (answering no)
	echo no | "$FL_BIN/fedlead-node" schema approve "$1" --config "$T/a/node.conf" 2>/dev/null |
		sed -n 's/^fingerprint: //p' || true
}

# ---- (a) the approved copy is the text approved --------------------------------
node_conf a "state_dir = $T/a"
proposal "$T/a/proposal.json"
cp "$T/a/proposal.json" "$T/a/shown.json"
# The same schema with a number format for Amount (decimal comma, "." for
# thousands): outside the fingerprint, so approve shows the same one.
proposal "$T/a/variant.json" 'j["features"][1].update({"decimal": ",", "thousands": "."})'
# (The variant has the proposal's fingerprint: test_schema_review.c,
# test_proposal_with_dialect_refused.) Since the fix, approve refuses it on
# its own: a number format is outside the schema contract.
st=0
echo yes | "$FL_BIN/fedlead-node" schema approve "$T/a/variant.json" --config "$T/a/node.conf" \
	>"$T/a/variant.out" 2>&1 || st=$?
check "approve refuses the variant (exit $st)" test "$st" = 2
check "... naming the key, its path and the file" grep -qxF \
	"fedlead-node: $T/a/variant.json carries \"decimal\" at \$.features[1].decimal, which is not part of the schema contract: refused; not approved" \
	"$T/a/variant.out"
mkfifo "$T/a/answer"
"$FL_BIN/fedlead-node" schema approve "$T/a/proposal.json" --config "$T/a/node.conf" \
	<"$T/a/answer" >"$T/a/approve.out" 2>&1 &
approve_pid=$!
track "$approve_pid"
exec 7>"$T/a/answer"
must "approve asks the operator" wait_log 30 "$T/a/approve.out" 'Type yes to approve' "$approve_pid"
# While the operator reads, the file changes (another schema propose --out
# to the same path, or anyone who can write there).
mv "$T/a/variant.json" "$T/a/proposal.json"
echo yes >&7
exec 7>&-
st=0
wait_pid "$approve_pid" 30 || st=$?
check "approve pins (exit $st)" test "$st" = 0
check "FINDING: the approved copy is the text whose fingerprint was shown (fails: approve reads the file again after yes)" \
	cmp -s "$T/a/shown.json" "$T/a/schema.approved.json"
check "... so the node does not join with a number format nobody approved (fails)" \
	bash -c "! grep -q '\"decimal\"' '$T/a/schema.approved.json'"
check "the pin holds the approved file's SHA-256" grep -qx \
	"approved $(fingerprint "$T/a/shown.json") $(sha256sum "$T/a/shown.json" | cut -d' ' -f1)" \
	"$T/a/schema.pin"
# The same schema, other bytes (indented otherwise): the same fingerprint.
"$PY" -c 'import json, sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
	"$T/a/shown.json" "$T/a/respaced.json"
st=0
"$FL_BIN/fedlead-node" join --config "$T/a/node.conf" --schema "$T/a/respaced.json" --check \
	>/dev/null 2>"$T/a/join.err" || st=$?
check "join refuses a file with the approved fingerprint but other bytes (exit $st)" test "$st" = 2
check "... with the exact message" grep -qxF \
	"fedlead-node: schema $T/a/respaced.json has the approved fingerprint but not the approved bytes (SHA-256 $(sha256sum "$T/a/respaced.json" | cut -c1-16)..., approved $(sha256sum "$T/a/shown.json" | cut -c1-16)...): this node joins only with the file its operator approved (schema.approved.json in its state directory)" \
	"$T/a/join.err"
# A pin of the version before (no SHA-256) still holds for the fingerprint.
echo "approved $(fingerprint "$T/a/shown.json")" >"$T/a/schema.pin"
st=0
"$FL_BIN/fedlead-node" join --config "$T/a/node.conf" --schema "$T/a/respaced.json" --check \
	>/dev/null 2>"$T/a/join-old.err" || st=$?
check "an earlier version's pin (fingerprint only) lets the same schema join (exit $st)" test "$st" = 0
proposal "$T/a/other.json" 'j["features"][0]["values"].append("Guessed")'
st=0
"$FL_BIN/fedlead-node" join --config "$T/a/node.conf" --schema "$T/a/other.json" --check \
	>/dev/null 2>"$T/a/join-old2.err" || st=$?
check "... and refuses another fingerprint (exit $st)" test "$st" = 2

# ---- (b) a label the other way round ------------------------------------------
# approve compares the label with what this partner sent in the round
# (STATE_DIR/schema.sent.json, as schema propose writes it).
node_conf b "state_dir = $T/b"
proposal "$T/b/schema.sent.json"
proposal "$T/b/flipped.json" 'j["label"].update({"positive": "Not Converted", "negative": "Converted"})'
st=0
echo yes | "$FL_BIN/fedlead-node" schema approve "$T/b/flipped.json" --config "$T/b/node.conf" \
	>"$T/b/approve.out" 2>&1 || st=$?
cat "$T/b/approve.out"
check "FINDING: a proposal whose positive label value contradicts this partner's data is not approved by a plain yes (fails: exit $st)" \
	test "$st" != 0
check "... and nothing is pinned (fails)" test ! -e "$T/b/schema.pin"
check "... exit 2 with the exact message" grep -qxF \
	'fedlead-node: the proposal'"'"'s label is the other way round: it says "Not Converted" means converted, this partner sent "Converted" (schema.sent.json), and the model would rank this partner'"'"'s leads upside down; not approved' \
	"$T/b/approve.out"
proposal "$T/b/column.json" 'j["label"]["column"] = "Amount"; j["features"].pop()'
st=0
echo yes | "$FL_BIN/fedlead-node" schema approve "$T/b/column.json" --config "$T/b/node.conf" \
	>"$T/b/column.out" 2>&1 || st=$?
check "a proposal with another label column is refused (exit $st)" test "$st" = 2
check "... with the exact message" grep -qxF \
	'fedlead-node: the proposal'"'"'s label column is "Amount", this partner sent "Converted" (schema.sent.json); not approved' \
	"$T/b/column.out"
proposal "$T/b/values.json" 'j["label"]["negative"] = "Lost"'
st=0
echo yes | "$FL_BIN/fedlead-node" schema approve "$T/b/values.json" --config "$T/b/node.conf" \
	>"$T/b/values.out" 2>&1 || st=$?
check "a proposal with other label values is refused (exit $st)" test "$st" = 2
check "... with the exact message" grep -qxF \
	'fedlead-node: the proposal'"'"'s label values are "Converted" (converted) and "Lost", this partner sent "Converted" and "Not Converted" (schema.sent.json); not approved' \
	"$T/b/values.out"
check "nothing is pinned" test ! -e "$T/b/schema.pin"

# ---- (c) the pin and the state directory -------------------------------------------
# Since the fix, approve (and propose) need state_dir: a pin next to
# model_out held only for commands naming the same model_out.
node_conf c
proposal "$T/c/proposal.json"
st=0
echo yes | "$FL_BIN/fedlead-node" schema approve "$T/c/proposal.json" --config "$T/c/node.conf" \
	>"$T/c/approve0.out" 2>&1 || st=$?
check "approve without state_dir refuses (exit $st)" test "$st" = 2
check "... with the exact message" grep -qxF \
	"fedlead-node: schema approve needs the node's state_dir ([state] state_dir): the schema pin must hold for this node whatever model_out a later command names" \
	"$T/c/approve0.out"
check "... and pins nothing" test ! -e "$T/c/schema.pin"
node_conf c "state_dir = $T/c/state"
check "p1's operator approves a proposal (the pin goes to state_dir)" \
	bash -c "echo yes | '$FL_BIN/fedlead-node' schema approve '$T/c/proposal.json' --config '$T/c/node.conf' >/dev/null"
check "... pinned in the state directory" test -e "$T/c/state/schema.pin"
proposal "$T/c/other.json" 'j["features"][0]["values"].append("Guessed Rare Customer")'
st=0
"$FL_BIN/fedlead-node" join --config "$T/c/node.conf" --schema "$T/c/other.json" --check \
	>/dev/null 2>"$T/c/join1.err" || st=$?
check "join refuses another schema (exit $st)" test "$st" = 2
mkdir -p "$T/c/elsewhere"
st=0
"$FL_BIN/fedlead-node" join --config "$T/c/node.conf" --schema "$T/c/other.json" --check \
	--model-out "$T/c/elsewhere/model.fdl" >/dev/null 2>"$T/c/join2.err" || st=$?
check "FINDING: ... also when the same node is run with another model_out (exit $st)" \
	test "$st" = 2
check "... with the exact message" grep -qxF \
	"fedlead-node: schema $T/c/other.json has fingerprint $(fingerprint "$T/c/other.json" | cut -c1-16)..., not the one this node's operator approved ($(fingerprint "$T/c/proposal.json" | cut -c1-16)...): this node joins no federation with another schema (fedlead-node schema approve approves one)" \
	"$T/c/join2.err"

# ---- (d) the rare-value warning on every column ---------------------------------
# Company: 150 distinct names, "Acme Rare" 3 times; Zip: numbers, 10117 twice.
"$PY" - "$T/d.csv" <<'PYEOF'
import random, sys
rng = random.Random(9)
with open(sys.argv[1], "w") as f:
    f.write("Lead Source,Company,Zip,Converted\n")
    for i in range(400):
        company = "Acme Rare" if i < 3 else "Company %d" % rng.randint(1, 150)
        zipc = 10117 if i < 2 else rng.choice([20095, 80331, 50667])
        f.write("%s,%s,%d,%s\n" % (rng.choice(["Google", "Direct"]), company, zipc,
                                   rng.choice(["Converted", "Not Converted"])))
PYEOF
node_conf d "state_dir = $T/d"
sed -i "s|^data = .*|data = $T/d.csv|" "$T/d/node.conf"
proposal "$T/d/guess.json" '
j["features"] = [{"name": "Lead Source", "type": "categorical", "values": ["Direct", "Google"], "other": True},
                 {"name": "Company", "type": "categorical", "values": ["Acme Rare"], "other": True},
                 {"name": "Zip", "type": "categorical", "values": ["10117"], "other": True}]'
echo no | "$FL_BIN/fedlead-node" schema approve "$T/d/guess.json" --config "$T/d/node.conf" \
	>"$T/d/approve.out" 2>&1 || true
cat "$T/d/approve.out"
check "the data holds the guesses fewer than k = 10 times (3 and 2)" \
	test "$(grep -c ',Acme Rare,' "$T/d.csv") $(grep -c ',10117,' "$T/d.csv")" = "3 2"
check "FINDING: approve warns of \"Acme Rare\" in a column with more distinct values than a draft lists (fails: that column is skipped)" \
	grep -q '^WARNING feature "Company": .*"Acme Rare"' "$T/d/approve.out"
check "FINDING: approve warns of \"10117\" in a column numeric here, categorical in the proposal (fails: nothing is said)" \
	grep -q '^WARNING feature "Zip": .*"10117"' "$T/d/approve.out"
check "approve refuses the proposal without asking" grep -qxF \
	"fedlead-node: the proposal lists values that $T/d.csv holds 1 to 9 times (fewer than schema_min_count = 10) in column \"Company\" (and 1 more column): training would tell the coordinator how many leads hold each; not approved" \
	"$T/d/approve.out"
check "... (no question asked, nothing pinned)" \
	bash -c "! grep -q 'Type yes' '$T/d/approve.out' && test ! -e '$T/d/schema.pin'"
# No data to compare with: refused too.
node_conf d2 "state_dir = $T/d2"
sed -i '/^data = /d' "$T/d2/node.conf"
st=0
echo yes | "$FL_BIN/fedlead-node" schema approve "$T/d/guess.json" --config "$T/d2/node.conf" \
	>"$T/d2/approve.out" 2>&1 || st=$?
check "approve without data in the config refuses (exit $st)" test "$st" = 2
check "... with the exact message" grep -qxF \
	"fedlead-node: no data in the node's config ([node] data): the proposal cannot be compared with this partner's data; not approved" \
	"$T/d2/approve.out"
# Data that cannot be read: refused too.
sed -i "s|^\[node\]|[node]\ndata = $T/d2/absent.csv|" "$T/d2/node.conf"
st=0
echo yes | "$FL_BIN/fedlead-node" schema approve "$T/d/guess.json" --config "$T/d2/node.conf" \
	>"$T/d2/absent.out" 2>&1 || st=$?
check "approve with data it cannot read refuses (exit $st)" test "$st" = 2
check "... with the exact message" grep -qxF \
	"fedlead-node: cannot compare the proposal with $T/d2/absent.csv: $T/d2/absent.csv: No such file or directory; not approved" \
	"$T/d2/absent.out"

# ---- (e) the planted value in training ---------------------------------------------
DEV=${DEVIANT_COORD:-$FL_BIN/tests/deviant_coord}
E=$T/e
mkdir -p "$E/node-p1"
# p1's node keeps its state next to its model (start_node: $E/node-p1).
sed -e "s|^state_dir = .*|state_dir = $E/node-p1|" "$T/d/node.conf" >"$E/node.conf"
# Approved while p1's data did not hold the planted values (the other rows
# of d.csv), the proposal is refused at join once the data holds them:
# the data may change between approval and training.
grep -v -e ',Acme Rare,' -e ',10117,' "$T/d.csv" >"$T/e-clean.csv"
sed -i "s|^data = .*|data = $T/e-clean.csv|" "$E/node.conf"
check "p1's operator approves the proposal while the data does not hold the planted values" \
	bash -c "echo yes | '$FL_BIN/fedlead-node' schema approve '$T/d/guess.json' --config '$E/node.conf' >'$E/approve.out' 2>&1"
cp "$T/d.csv" "$T/e-p1.csv"
"$DEV" --attack honest --partners 3 --schema "$T/d/guess.json" --ca "$T/pki/ca/ca.crt" \
	--cert "$T/pki/coordinator.crt" --key "$T/pki/coordinator.key" --dump-dir "$E/dump" \
	--record "$E/sums.jsonl" >"$E/deviant.out" 2>"$E/deviant.log" &
DEV_PID=$!
track "$DEV_PID"
must "deviant_coord listens" wait_log 30 "$E/deviant.out" '^listening on 127\.0\.0\.1:[0-9]+$' "$DEV_PID"
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$E/deviant.out")
# p1's node keeps its pin next to its model ($E/node-p1) and now reads d.csv.
NODE_HOME=$E NODE_SCHEMA=$T/d/guess.json start_node p1 "$T/e-p1.csv"
st=0
wait_pid "$NODE_PID" 60 || st=$?
check "p1's node refuses to join (exit $st)" test "$st" = 2
check "... with the exact message" grep -qxF \
	"fedlead-node: schema $T/d/guess.json lists values that $T/e-p1.csv holds 1 to 9 times (fewer than schema_min_count = 10) in column \"Company\" (and 1 more column): training would tell the coordinator how many leads hold each; this node joins no federation with it" \
	"$E/node-p1/node.log"
kill "$DEV_PID" 2>/dev/null || true
wait_pid "$DEV_PID" 10 >/dev/null || true
check "the coordinator unmasked no statistics (p1 never joined)" \
	bash -c "! grep -q '\"kind\": *\"stats\"' '$E/sums.jsonl' 2>/dev/null"

# ---- (f) escapes in approve's summary -----------------------------------------------
proposal "$T/a/escape.json" 'j["label"]["positive"] = "Converted\u001b[2J\u001b]0;pwned\u0007"'
echo no | "$FL_BIN/fedlead-node" schema approve "$T/a/escape.json" --config "$T/a/node.conf" \
	>"$T/a/escape.out" 2>&1 || true
check "approve's summary quotes the proposal's label value (so the next check can fail)" \
	grep -q '^cannot compare with .*is not a value of label column' "$T/a/escape.out"
check "FINDING: approve prints no escape character from the proposal (fails: the cannot-compare line quotes it raw)" \
	bash -c "! grep -q \$'\\x1b' '$T/a/escape.out'"

# ---- (g) --draft and k -------------------------------------------------------------------
# Source: "Rare Co" twice, Web and Call 50 times each.
"$PY" - "$T/g.csv" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("Source,Converted\n")
    for i, src in enumerate(["Rare Co"] * 2 + ["Web"] * 50 + ["Call"] * 50):
        f.write("%s,%s\n" % (src, "Converted" if i % 3 == 0 else "Not Converted"))
PYEOF
node_conf g "state_dir = $T/g"
sed -i -e "s|^data = .*|data = $T/g.csv|" "$T/g/node.conf"
"$FL_BIN/fedlead-node" schema --data "$T/g.csv" --label Converted --out "$T/g/full.json" 2>/dev/null
check "a plain draft lists \"Rare Co\" (held twice)" grep -q '"Rare Co"' "$T/g/full.json"
st=0
"$FL_BIN/fedlead-node" schema propose --config "$T/g/node.conf" --draft "$T/g/full.json" \
	>"$T/g/propose.out" 2>&1 || st=$?
check "propose fails to reach a coordinator (exit $st), after writing what it sends" \
	test "$st" != 0 -a -s "$T/g/schema.sent.json"
check "FINDING: a value the node's data holds fewer than k times is not in what it sends with --draft (fails: \"Rare Co\" is)" \
	bash -c "! grep -q 'Rare Co' '$T/g/schema.sent.json'"
check "propose says which column lost values, not which values" grep -qxF \
	'fedlead-node: feature "Source": 1 value this partner holds fewer than 10 times left out of what is sent' \
	"$T/g/propose.out"
check "... and never names the value" bash -c "! grep -q 'Rare Co' '$T/g/propose.out'"
check "values held at least k times are sent" \
	bash -c "grep -q '\"Web\"' '$T/g/schema.sent.json' && grep -q '\"Call\"' '$T/g/schema.sent.json'"

# ---- (h) a feature read from several columns, named like the draft's date ----------
# 280 leads: 7 dates held 40 times each, a distinct e-mail address each.
"$PY" - "$T/h.csv" <<'PYEOF'
import sys
dates = [("may", 5), ("nov", 20), ("dec", 31), ("apr", 1), ("jan", 3), ("feb", 2), ("mar", 9)]
with open(sys.argv[1], "w") as f:
    f.write("Lead Source,month,day,email,Converted\n")
    for i in range(280):
        m, d = dates[i % 7]
        f.write("%s,%s,%d,lead%d@example.com,%s\n" % (["Google", "Direct"][i % 2], m, d, i,
                                                     ["Converted", "Not Converted"][i % 3 == 0]))
PYEOF
node_conf h "state_dir = $T/h"
sed -i -e "s|^data = .*|data = $T/h.csv|" "$T/h/node.conf"
proposal "$T/h/pair.json" '
j["features"] = [{"name": "Lead Source", "type": "categorical", "values": ["Direct", "Google"], "other": True},
                 {"name": "month day", "type": "categorical", "columns": ["month", "email"],
                  "values": ["jun lead7@example.com"], "other": True}]'
echo no | "$FL_BIN/fedlead-node" schema approve "$T/h/pair.json" --config "$T/h/node.conf" \
	>"$T/h/approve.out" 2>&1 || true
cat "$T/h/approve.out"
check "FINDING: approve says the proposal's \"month day\" reads columns this partner's draft does not read together (fails: the draft's feature of that name hid it)" grep -qxF \
	"feature \"month day\": reads 2 columns together, which this partner's draft of $T/h.csv does not propose" \
	"$T/h/approve.out"
check "FINDING: ... and warns that one of them is the e-mail column, which the draft ignores (fails: nothing is said)" grep -qxF \
	"WARNING feature \"month day\": the proposal lists 1 values of column \"email\" read with others, a column this partner's draft ignores (more than 100 distinct values, or none held 10 times): training counts the leads holding each" \
	"$T/h/approve.out"
finish
