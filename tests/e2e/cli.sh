#!/usr/bin/env bash
# End-to-end test of the command-line programs as a person runs them:
# fedlead-node schema / check / train / inspect and fedlead-score (scoring,
# --eval --json, --explain, --export json, --report --compare), their usage
# errors and exit codes, bad CSV rows, a corrupted model file and an
# unsigned one under --verify-ca.
#
# Run by ctest with FL_BIN (build dir with the programs), FL_SRC (source
# root) and FL_DATA (tests/data). By hand:
#   FL_BIN=build FL_SRC=. FL_DATA=tests/data bash tests/e2e/cli.sh
. "$(dirname "$0")/lib/cli.bash"

has_line() { grep -Fqx -- "$2" "$1"; }
has_text() { grep -Fq -- "$2" "$1"; }

# ---- a small lead file: 40 leads, one with visits missing ----
awk 'BEGIN {
	split("finance retail tech", ind, " ")
	print "lead,visits,industry,won"
	for (i = 1; i <= 40; i++) {
		v = (i * 7) % 13; k = i % 3 + 1
		won = (v + (k - 1) * 4 + i % 5 > 10) ? "yes" : "no"
		printf "L%d,%s,%s,%s\n", i, (i == 17 ? "" : v), ind[k], won
	}
}' >leads.csv
POS=$(awk -F, 'NR > 1 && $4 == "yes"' leads.csv | wc -l | tr -d ' ')
NEG=$((40 - POS))

# ---- schema draft ----
run "$NODE" schema --data leads.csv --label won --id lead --out schema.json --quiet
expect "schema drafts a schema file" 0 \
	"fedlead-node: drafted schema.json: review every feature before partners agree on it"
check "drafted schema has the expected features" "$PY" -c '
import json, sys
s = json.load(open("schema.json"))
f = {x["name"]: x for x in s["features"]}
assert s["label"]["column"] == "won", s["label"]
assert (s["label"]["positive"], s["label"]["negative"]) == ("yes", "no"), s["label"]
assert s["id"] == "lead", s.get("id")
assert [x["name"] for x in s["features"]] == ["visits", "industry"], s["features"]
assert f["visits"]["type"] == "numeric" and f["visits"]["missing"] == "impute", f["visits"]
assert f["industry"]["type"] == "categorical", f["industry"]
assert f["industry"]["values"] == ["finance", "retail", "tech"], f["industry"]
assert f["industry"]["other"] is True
# 13 distinct values: the draft proposes a spline with knots from the data.
assert (f["visits"]["transform"], f["visits"]["knots"]) == ("spline", 5), f["visits"]
'
# The rest of this file checks the linear encoding of a number, so its
# reviewer keeps visits linear (a spline is unit_spline's and e2e_draft's).
"$PY" -c '
import json
s = json.load(open("schema.json"))
for f in s["features"]:
    f.pop("transform", None); f.pop("knots", None)
json.dump(s, open("schema.json", "w"), indent=2)
'

# ---- check ----
run "$NODE" check --schema schema.json --data leads.csv
expect "check accepts the file" 0 ""
check "check names rows and fingerprint" \
	grep -Eqx 'leads\.csv: 40 rows valid against schema\.json \(fingerprint [0-9a-f]{16}\.\.\.\)' out
check "check counts the label" has_line out \
	"label won: $POS converted (yes), $NEG not converted (no): $(awk -v p="$POS" 'BEGIN { printf "%.2f", 100 * p / 40 }') % converted"
check "check summarises a numeric column with its missing value" \
	grep -Eq '^visits +numeric +1  min 0  max 12  mean ' out
check "check summarises a categorical column" \
	grep -Eq '^industry +categorical +-  finance=13, retail=14, tech=13, \(other\)=0$' out
FP16=$(sed -n 's/.*(fingerprint \([0-9a-f]*\)\.\.\.).*/\1/p' out)

# ---- bad rows ----
{
	cat leads.csv
	echo "L41,abc,tech,no"
} >bad.csv
run "$NODE" check --schema schema.json --data bad.csv
expect "a bad row fails with file:line:column" 2 \
	'fedlead-node: bad.csv:42:2: column "visits": "abc" is not a number'
run "$NODE" check --schema schema.json --data bad.csv --bad-rows=skip
expect "--bad-rows=skip reports the skipped row" 0 \
	'fedlead-node: warning: bad.csv: skipped 1 bad row (--bad-rows=skip); first reason:
  bad.csv:42:2: column "visits": "abc" is not a number'
check "--bad-rows=skip keeps the good rows" grep -q '^bad\.csv: 40 rows valid against' out
run "$NODE" check --schema schema.json --data bad.csv --bad-rows=maybe
expect "--bad-rows with a bad value" 2 'fedlead-node: --bad-rows: "maybe" is not fail or skip'

# ---- train ----
run "$NODE" train --schema schema.json --data leads.csv --out model.fdl --l2 1
expect "train writes a model" 0 ""
check "the model file exists" test -s model.fdl
check "train reports where the model went" has_line out "model written to model.fdl"
check "train reports training metrics" \
	grep -Eq "^training +40 leads, +$POS converted, AUC 0\.[0-9]{4}, log-loss " out
run "$NODE" train --schema schema.json --data leads.csv --out auto.fdl --l2 auto \
	--validation-split 0.25 --solver lbfgs --quiet
expect "train --l2 auto with a validation split" 0 ""
check "the chosen l2 is marked" grep -q '  <- chosen$' out
check "validation metrics are printed" grep -Eq '^validation +[0-9]+ leads' out
# --cv: how --l2 auto cross-validates (40 leads: exact under auto).
run "$NODE" train --schema schema.json --data leads.csv --out cv.fdl --l2 auto --quiet
expect "train --l2 auto by cross-validation" 0 ""
check "a small file is cross-validated exactly" \
	has_line out "cross-validation: exact (every fold fitted)"
run "$NODE" train --schema schema.json --data leads.csv --out cv.fdl --l2 auto --cv approx --quiet
expect "train --l2 auto --cv approx" 0 ""
check "--cv approx is said" has_line out \
	"cross-validation: approximate (each fold's model one Newton step from the fit on all rows)"
run "$NODE" train --schema schema.json --data leads.csv --out cv.fdl --l2 auto --cv maybe
expect "--cv with a bad value" 2 'fedlead-node: --cv: "maybe" is not auto, exact or approx'
run "$NODE" train --schema schema.json --data leads.csv --out cv.fdl --l2 1 --cv exact
expect "--cv without --l2 auto" 2 "fedlead-node train: --cv exact chooses how --l2 auto \
cross-validates; it needs --l2 auto without --validation-split"
run "$NODE" train --schema schema.json --data leads.csv --out cv.fdl --l2 auto --cv approx \
	--solver lbfgs --quiet
expect "--cv approx with lbfgs" 2 \
	"fedlead-node: train: approximate cross-validation needs the newton solver, not lbfgs"
# --threads: the same model for any count (test_rowset checks many chunks).
run "$NODE" train --schema schema.json --data leads.csv --out t1.fdl --l2 1 --threads 1 --quiet
expect "train --threads 1" 0 ""
run "$NODE" train --schema schema.json --data leads.csv --out t2.fdl --l2 1 --threads 2 --quiet
expect "train --threads 2" 0 ""
weights() { "$SCORE" --model "$1" --export json | python3 -c 'import json,sys; print(json.load(sys.stdin)["weights"])'; }
W1=$(weights t1.fdl)
check "--threads 1 and 2 give the same weights" test -n "$W1" -a "$W1" = "$(weights t2.fdl)"
run "$NODE" train --schema schema.json --data leads.csv --out x.fdl --threads 0
expect "a bad --threads" 2 "fedlead-node: --threads: '0' is not a thread count (1 to 256, or auto)"

# ---- score ----
run "$SCORE" --model model.fdl --data leads.csv --eval --json --top 5
expect "score --eval --json" 0 ""
check "the JSON has the metrics" "$PY" -c '
import json, sys
d = json.load(open("out"))
for k in ("rows", "positives", "auc", "log_loss", "brier", "top_k",
          "top_k_positives", "lift_at_top_k"):
    assert k in d, k
assert d["rows"] == 40 and d["positives"] == int(sys.argv[1]), d
assert 0.5 < d["auc"] <= 1 and d["log_loss"] > 0 and 0 < d["brier"] < 1, d
assert d["top_k"] == 5 and 0 <= d["top_k_positives"] <= 5, d
share = d["top_k_positives"] / 5
assert abs(d["lift_at_top_k"] - share / (d["positives"] / d["rows"])) < 1e-8, d
assert len(d["deciles"]) == 10 and sum(x["rows"] for x in d["deciles"]) == 40, d
' "$POS"

run "$SCORE" --model model.fdl --data leads.csv --out scored.csv
expect "score --out" 0 "fedlead-score: wrote scored.csv"
check "score says how many leads" has_line out "scored 40 leads"
check "the scored file has ids, scores, ranks, deciles and reasons" "$PY" -c '
import csv
rows = list(csv.reader(open("scored.csv")))
assert rows[0] == ["lead", "score", "rank", "decile", "reason_1", "contribution_1",
                   "reason_2", "contribution_2", "reason_3", "contribution_3"], rows[0]
body = rows[1:]
assert [r[0] for r in body] == ["L%d" % i for i in range(1, 41)], [r[0] for r in body]
assert sorted(int(r[2]) for r in body) == list(range(1, 41))
by_rank = sorted(body, key=lambda r: int(r[2]))
scores = [float(r[1]) for r in by_rank]
assert scores == sorted(scores, reverse=True), scores
assert all(int(r[3]) == 1 + (int(r[2]) - 1) * 10 // 40 for r in body)
# L17 has no visits: a reason about visits can only say so.
assert body[16][0] == "L17"
assert all(c == "visits=(missing)" for c in body[16][4::2] if c.startswith("visits")), body[16]
'

run "$SCORE" --model model.fdl --data leads.csv --out noreasons.csv --reasons 0 --quiet
expect "score --reasons 0" 0 ""
check "--reasons 0 writes no reason columns" "$PY" -c '
import csv
rows = list(csv.reader(open("noreasons.csv")))
full = list(csv.reader(open("scored.csv")))
assert rows[0] == ["lead", "score", "rank", "decile"], rows[0]
assert [r[:4] for r in rows[1:]] == [r[:4] for r in full[1:]]
'

# One pass on any number of threads, within any memory bound: the same bytes.
run "$SCORE" --model model.fdl --data leads.csv --out t1.csv --threads 1 --quiet
expect "score --threads 1" 0 ""
run "$SCORE" --model model.fdl --data leads.csv --out t2.csv --threads 2 --memory 1 --quiet
expect "score --threads 2 --memory 1" 0 ""
check "the scored file is the same for 1 and 2 threads and a small memory bound" \
	cmp t1.csv scored.csv
check "... byte for byte" cmp t2.csv scored.csv
run "$SCORE" --model model.fdl --data - --out stdin.csv --quiet <leads.csv
expect "scoring standard input (one pass needs no second read)" 0 ""
check "... gives the same scored file" cmp stdin.csv scored.csv
run "$SCORE" --model model.fdl --data leads.csv --out x.csv --threads 0
expect "--threads 0" 2 "fedlead-score: --threads: '0' is not a thread count (1 to 256, or auto)"
run "$SCORE" --model model.fdl --data leads.csv --out x.csv --memory 0
expect "--memory 0" 2 'fedlead-score: --memory: "0" is not a size in MiB (1 to 1048576)'

# ---- values the schema does not list, reasons both ways, rank order, --top P% ----
{
	head -n 4 leads.csv
	echo "N1,9,Brand new industry,no"
	echo "N2,3,TECH,yes"
} >unseen.csv
run "$SCORE" --model model.fdl --data unseen.csv --out unseen-scored.csv --reasons both \
	--reasons 2 --sort rank
expect "scoring unseen values warns, naming the column" 0 'fedlead-score: warning: unseen.csv: 2 leads with values the schema does not list (each scores as its column'"'"'s "(other)"):
  column "industry": 2 leads, first "Brand new industry"
fedlead-score: wrote unseen-scored.csv'
check "a reason code for an unseen value says so; --reasons both; --sort rank" "$PY" -c '
import csv
rows = list(csv.reader(open("unseen-scored.csv")))
assert rows[0] == ["lead", "score", "rank", "decile", "reason_1", "contribution_1",
                   "reason_2", "contribution_2", "down_reason_1", "down_contribution_1",
                   "down_reason_2", "down_contribution_2"], rows[0]
body = rows[1:]
assert [int(r[2]) for r in body] == [1, 2, 3, 4, 5], [r[2] for r in body]
scores = [float(r[1]) for r in body]
assert scores == sorted(scores, reverse=True), scores
texts = {r[0]: [c for c in r[4::2] if c.startswith("industry=")] for r in body}
assert texts["N1"] == ["industry=(unseen: Brand new industry)"], texts
assert texts["N2"] == ["industry=(unseen: TECH)"], texts
for r in body:
    ups = [float(c) for c in (r[5], r[7]) if c]
    downs = [float(c) for c in (r[9], r[11]) if c]
    assert all(c > 0 for c in ups) and ups == sorted(ups, reverse=True), r
    assert all(c < 0 for c in downs) and downs == sorted(downs), r
'
run "$SCORE" --model model.fdl --data unseen.csv --eval --json --top 40% --quiet
expect "--json --top 40%" 0 ""
check "--json reports the unseen values and --top 40% takes two of five" "$PY" -c '
import json
d = json.load(open("out"))
assert d["top_k"] == 2, d["top_k"]
assert d["unseen"] == {"leads": 2, "more_columns": 0, "columns": [
    {"column": "industry", "leads": 2, "example": "Brand new industry"}]}, d["unseen"]
'
run "$SCORE" --model model.fdl --data unseen.csv --report unseen.html --quiet
expect "--report with unseen values" 0 ""
check "the report lists the unseen values" has_text unseen.html \
	"<tr><td>industry</td><td>2</td><td>Brand new industry</td></tr>"
run "$SCORE" --model model.fdl --data leads.csv --eval --top 0%
expect "--top 0%" 2 'fedlead-score: --top: "0%" is not a share of the leads above 0 % and at most 100 %'
run "$SCORE" --model model.fdl --data leads.csv --eval --top 101%
expect "--top 101%" 2 'fedlead-score: --top: "101%" is not a share of the leads above 0 % and at most 100 %'
run "$SCORE" --model model.fdl --data leads.csv --eval --top ten%
expect "--top ten%" 2 'fedlead-score: --top: "ten%" is not a share of the leads above 0 % and at most 100 %'
run "$SCORE" --model model.fdl --explain --top 10%
expect "--explain --top 10%" 2 'fedlead-score: --top: with --explain, the number of drivers, not a share'
run "$SCORE" --model model.fdl --data leads.csv --out x.csv --reasons sideways
expect "--reasons sideways" 2 'fedlead-score: --reasons: "sideways" is neither a number of reason codes nor up, down or both'
run "$SCORE" --model model.fdl --data leads.csv --out x.csv --sort score
expect "--sort score" 2 'fedlead-score: --sort: "score" is not file or rank'
check "no output after a usage error" test ! -e x.csv

run "$SCORE" --model model.fdl --data bad.csv --out failed.csv --eval
expect "scoring a bad row fails" 2 'fedlead-score: bad.csv:42:2: column "visits": "abc" is not a number'
check "a failed scoring leaves no output file" test ! -e failed.csv
check "a failed scoring leaves no temporary file" \
	test -z "$(find . -name 'failed.csv*' -print)"
run "$SCORE" --model model.fdl --data bad.csv --eval --json --bad-rows skip
expect "scoring with --bad-rows skip" 0
check "skipped rows are counted" "$PY" -c '
import json
d = json.load(open("out"))
assert d["rows"] == 40 and d["skipped_rows"] == 1, d
'

cut -d, -f1-3 leads.csv >nolabel.csv
run "$SCORE" --model model.fdl --data nolabel.csv --out nolabel_scored.csv --quiet
expect "scoring an unlabelled file" 0 ""
check "unlabelled scores equal labelled scores" cmp -s nolabel_scored.csv scored.csv
run "$SCORE" --model model.fdl --data nolabel.csv --eval
expect "--eval needs the label" 2 \
	'fedlead-score: nolabel.csv:1: column "won" required by the schema is missing'

# ---- --report --compare: the "what federation added" panel ----
# Here model.fdl stands in for the federated model and auto.fdl for a
# partner's local one; leads.csv is both the partner's and everyone's
# held-out file. The option's errors name what is wrong and where.
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html --compare acme
expect "--compare without '='" 2 \
	"fedlead-score: --compare: \"acme\" is not NAME=LOCAL.fdl:HOLDOUT.csv (no '=')"
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html --compare acme=auto.fdl
expect "--compare without ':'" 2 \
	"fedlead-score: --compare: \"acme=auto.fdl\" is not NAME=LOCAL.fdl:HOLDOUT.csv (no ':')"
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html --compare =auto.fdl:leads.csv
expect "--compare with an empty name" 2 \
	"fedlead-score: --compare: \"=auto.fdl:leads.csv\" is not NAME=LOCAL.fdl:HOLDOUT.csv (a part is empty)"
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html \
	--compare acme=auto.fdl:leads.csv --compare acme=model.fdl:leads.csv
expect "--compare naming a partner twice" 2 'fedlead-score: --compare: partner "acme" is named twice'
run "$SCORE" --model model.fdl --data leads.csv --eval --compare acme=auto.fdl:leads.csv
expect "--compare without --report" 2 'fedlead-score: --compare needs --report and --eval (see --help)'
run "$SCORE" --model model.fdl --data leads.csv --eval --report r.html --compare-dp model.fdl
expect "--compare-dp without --compare" 2 'fedlead-score: --compare-dp needs --compare (see --help)'
run "$SCORE" --model model.fdl --data leads.csv --report cmp.html --compare acme=auto.fdl:leads.csv
expect "--compare without --eval" 2 'fedlead-score: --compare needs --report and --eval (see --help)'
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html --compare acme=nosuch.fdl:leads.csv
expect "--compare with an unreadable model" 1 \
	'fedlead-score: --compare acme: nosuch.fdl: cannot open: No such file or directory'
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html --compare acme=leads.csv:leads.csv
expect "--compare with a file that is not a model" 2 \
	'fedlead-score: --compare acme: leads.csv: not a fedlead model file'
# A local model of another schema (industry left out) would read other columns.
"$PY" -c '
import json
s = json.load(open("schema.json"))
s["features"] = [f for f in s["features"] if f["name"] != "industry"]
json.dump(s, open("schema-visits.json", "w"), indent=2)
'
"$NODE" train --schema schema-visits.json --data leads.csv --out visits.fdl --l2 1 --quiet >/dev/null
FED_FP=$("$SCORE" --model model.fdl --export json | sed -n 's/.*"schema_fingerprint": *"\([0-9a-f]\{16\}\).*/\1/p')
LOC_FP=$("$SCORE" --model visits.fdl --export json | sed -n 's/.*"schema_fingerprint": *"\([0-9a-f]\{16\}\).*/\1/p')
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html --compare acme=visits.fdl:leads.csv
expect "--compare with a model of another schema" 2 \
	"fedlead-score: --compare acme: visits.fdl: schema fingerprint $LOC_FP... differs from the federated model's $FED_FP..."
run "$SCORE" --model model.fdl --data leads.csv --eval --report cmp.html --compare acme=auto.fdl:nolabel.csv
expect "--compare with a holdout file without labels" 2 \
	'fedlead-score: --compare acme: nolabel.csv:1: column "won" required by the schema is missing'
check "no report after a --compare error" test ! -e cmp.html
run "$SCORE" --model model.fdl --data leads.csv --eval --quiet --report cmp.html \
	--compare 'a&b=auto.fdl:leads.csv'
expect "--compare with good files" 0 ""
check "the report has the panel with the partner's name escaped" \
	bash -c 'grep -qF "<h2>What federation added</h2>" cmp.html &&
		grep -qF "<tr data-partner=\"a&amp;b\" data-leads=\"own\" data-model=\"local\">" cmp.html'

# ---- explain, export, inspect ----
DIM=7 # intercept, visits, visits (missing), 3 industries, other
run "$SCORE" --model model.fdl --explain
expect "score --explain" 0 ""
check "explain names the model" has_line out \
	"Model: 2 features, $DIM weights; solver newton, l2 1; trained on 40 leads ($POS converted)"
check "explain says the model was trained without differential privacy" has_line out \
	"Trained without differential privacy"
check "explain says the model was trained on one site's leads" has_line out \
	"Trained locally, on one site's leads"
check "explain lists drivers both ways" \
	bash -c 'grep -qx "Top drivers towards conversion:" out && grep -qx "Top drivers against conversion:" out'
cp out explain.txt
run "$NODE" inspect model.fdl
expect "node inspect" 0 ""
check "inspect prints the same explanation" cmp -s out explain.txt

run "$SCORE" --model model.fdl --export json
expect "score --export json" 0 ""
check "the exported model parses and matches the schema" "$PY" -c '
import csv, json, sys
d = json.load(open("out"))
assert d["format"] == "1.2", d["format"]
assert d["dim"] == int(sys.argv[1]) and len(d["weights"]) == d["dim"], d["dim"]
assert d["schema_fingerprint"].startswith(sys.argv[2]), d["schema_fingerprint"]
assert [w["column"] for w in d["weights"]] == ["(intercept)", "visits", "visits (missing)",
    "industry=finance", "industry=retail", "industry=tech", "industry=(other)"]
# visits is standardised by the population mean and sd of its present values,
# and a missing visits is imputed as the mean.
v = [float(r[1]) for r in list(csv.reader(open("leads.csv")))[1:] if r[1] != ""]
mean = sum(v) / len(v)
sd = (sum((x - mean) ** 2 for x in v) / len(v)) ** 0.5
w = d["weights"][1]
assert abs(w["center"] - mean) < 1e-12 and abs(w["impute"] - mean) < 1e-12, w
assert abs(w["scale"] - sd) < 1e-12, (w, sd)
' "$DIM" "$FP16"

# ---- usage errors ----
run "$SCORE" --model model.fdl --data leads.csv --bogus
expect "unknown option" 2 'fedlead-score: unrecognized option "--bogus" (see --help)'
run "$NODE" train --schema schema.json --data leads.csv --out x.fdl --bogus
expect "unknown option (subcommand)" 2 'fedlead-node: unrecognized option "--bogus" (see --help)'
run "$NODE" train --schema schema.json --data leads.csv --out x.fdl --l2 abc
expect "bad --l2 value" 2 'fedlead-node: --l2: "abc" is not a number'
run "$NODE" train --schema schema.json --data leads.csv --out x.fdl --l2 -1
expect "negative --l2" 2 'fedlead-node: --l2: must be at least 0 or "auto"'
run "$NODE" train --schema schema.json --data leads.csv --out x.fdl --l2
expect "--l2 without a value" 2 'fedlead-node: option "--l2" needs a value (see --help)'
check "no model after a usage error" test ! -e x.fdl
run "$NODE" train --schema schema.json --data leads.csv
expect "train without --out" 2 'fedlead-node train: --out is required (see --help)'
run "$SCORE" --model model.fdl --data leads.csv --eval --top " -1"
expect "a negative --top" 2 'fedlead-score: --top: " -1" is not a non-negative whole number'
run "$SCORE" --data leads.csv
expect "missing --model" 2 'fedlead-score: --model is required (see --help)'
run "$SCORE" --model model.fdl --export xml
expect "unknown export format" 2 'fedlead-score: --export: "xml" is not a known format (json)'
run "$NODE" frobnicate
expect "unknown command" 2 'fedlead-node: unknown command "frobnicate" (see --help)'
run "$NODE" --version
expect "--version" 0 ""
check "--version prints the version" grep -Eqx 'fedlead-node [0-9]+\.[0-9]+\.[0-9]+' out

# ---- damaged model files ----
cp model.fdl corrupt.fdl
size=$(wc -c <model.fdl)
off=$((size / 2))
byte=$(od -An -tu1 -j "$off" -N1 corrupt.fdl | tr -d ' ')
# shellcheck disable=SC2059
printf "\\$(printf '%03o' $((byte ^ 0x20)))" | dd of=corrupt.fdl bs=1 seek="$off" conv=notrunc status=none
check "one byte was flipped" bash -c '! cmp -s model.fdl corrupt.fdl'
run "$SCORE" --model corrupt.fdl --data leads.csv
expect "a corrupted model is refused" 2 \
	'fedlead-score: corrupt.fdl: model file is corrupt (checksum mismatch)'
run "$NODE" inspect corrupt.fdl
expect "inspect refuses a corrupted model" 2 \
	'fedlead-node: corrupt.fdl: model file is corrupt (checksum mismatch)'
head -c $((size - 1)) model.fdl >short.fdl
run "$SCORE" --model short.fdl --explain
expect "a truncated model is refused" 2
check "the truncation is named" grep -q '^fedlead-score: short\.fdl: truncated model file' err
run "$SCORE" --model leads.csv --explain
expect "a CSV is not a model" 2 'fedlead-score: leads.csv: not a fedlead model file'

# ---- an unsigned model under --verify-ca ----
# The refusal is named once: the message that adds the file's name to the
# verifier's must not be formatted over the text it quotes (it once printed
# "model.fdl: model.fdl: model.").
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.crt -subj /CN=cli-test-ca -days 1 2>/dev/null
run "$SCORE" --model model.fdl --verify-ca ca.crt --explain
expect "--verify-ca names an unsigned model once" 1 'fedlead-score: model.fdl: model is not signed'
check "--verify-ca prints nothing on stdout for a refused model" test ! -s out

finish
