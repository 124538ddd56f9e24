#!/usr/bin/env bash
# End-to-end test of the schema draft a person can trust: the decision table
# on stderr (--quiet leaves it out), an ID and a constant column ignored,
# "Select" and "N/A" drafted as missing_values, Google / google folded, a
# money column read as numbers; and a placeholder treated as missing by
# check, train and score alike: a lead with "Select" scores as the same
# lead with an empty field, no reason code shows "Select", and a value in
# another case is neither unseen nor scored differently.
#
# Run by ctest with FL_BIN (build dir with the programs). By hand:
#   FL_BIN=build bash tests/e2e/draft.sh
. "$(dirname "$0")/lib/cli.bash"

# ---- the export ----
# 200 leads as a CRM writes them: a lead number, a constant column, a
# source with "Select" and two spellings of Google, visits with "N/A", and
# revenue in dollars with thousands separators (13 and 97 distinct values:
# both drafted as splines).
"$PY" - <<'PYEOF'
import csv
sources = ["Google", "google", "Direct Traffic", "Organic Search", "Select", "Google"]
w = csv.writer(open("leads.csv", "w", newline=""), lineterminator="\n")
w.writerow(["Lead Number", "Magazine", "Lead Source", "Visits", "Revenue", "Status"])
for i in range(200):
    src = sources[i % 6]
    visits = "N/A" if i % 10 == 9 else str((i * 7) % 13)
    revenue = "${:,}".format(800 + 37 * ((i * 11) % 97))
    score = (int(visits) if visits != "N/A" else 5) + (4 if src.lower() == "google" else 0) + i % 3
    w.writerow([5000 + i, "No", src, visits, revenue, "Converted" if score > 9 else "Not Converted"])
# Leads to score: P1 and P2 differ only in placeholders against empty
# fields, P3 and P4 only in the case of Google; P5 has a new source.
w = csv.writer(open("probe.csv", "w", newline=""), lineterminator="\n")
w.writerow(["Lead Number", "Magazine", "Lead Source", "Visits", "Revenue", "Status"])
w.writerow(["P1", "No", "Select", "N/A", "$1,500", "Converted"])
w.writerow(["P2", "No", "", "", "$1,500", "Converted"])
w.writerow(["P3", "No", "GOOGLE", "4", "$2,000", "Not Converted"])
w.writerow(["P4", "No", "Google", "4", "$2,000", "Not Converted"])
w.writerow(["P5", "No", "Brand new", "4", "$2,000", "Not Converted"])
PYEOF

# ---- the draft and its decision table ----
run "$NODE" schema --data leads.csv --label Status --out schema.json
expect "schema drafts the export" 0
check "the table says what was decided and why, one row per column" diff -u - err <<'TABLE'
column       kind         why                                                                                                                                         check
Lead Number  ignore       nearly unique (200 distinct values in 200 rows): looks like an ID                                                                           check: not a feature (an ID goes in --id)
Magazine     ignore       constant: every value is "No"                                                                                                               check: not a feature
Lead Source  categorical  3 values; case folded ("Google" in 2 spellings); missing (to other): "Select" (33)                                                          check: the values; are the placeholders no answer?
Visits       numeric      numbers, clip [0, 12]; spline, 5 knots at the training data's quantiles (13 distinct values); missing (imputed): "N/A" (20)                 check: the clip range; the transform; are the placeholders no answer?
Revenue      numeric      numbers, clip [800, 4400]; spline, 5 knots at the training data's quantiles (97 distinct values); written with thousands ",", currency "$"  check: assumed "," separates thousands, else set "decimal": ","; the clip range; the transform
Status       label        positive "Converted" (a word for a conversion), negative "Not Converted"                                                                    check: leads are ranked by how likely "Converted" is
fedlead-node: drafted schema.json: review every feature before partners agree on it
TABLE
run "$NODE" schema --data leads.csv --label Status --out quiet.json --quiet
expect "--quiet leaves the table out" 0 \
	"fedlead-node: drafted quiet.json: review every feature before partners agree on it"
check "and drafts the same schema" cmp -s schema.json quiet.json
check "the drafted schema records the decisions" "$PY" -c '
import json
s = json.load(open("schema.json"))
f = {x["name"]: x for x in s["features"]}
assert s["ignore"] == ["Lead Number", "Magazine"], s["ignore"]
assert f["Lead Source"] == {"name": "Lead Source", "type": "categorical", "case": "fold",
    "values": ["Direct Traffic", "Google", "Organic Search"], "other": True,
    "missing_values": ["Select"]}, f["Lead Source"]
assert f["Visits"]["missing"] == "impute" and f["Visits"]["missing_values"] == ["N/A"], f["Visits"]
assert (f["Revenue"]["type"], f["Revenue"]["thousands"], f["Revenue"]["currency"]) == (
    "numeric", ",", "$"), f["Revenue"]
# 13 and 97 distinct values: both get a spline with knots from the data.
assert (f["Visits"]["transform"], f["Visits"]["knots"]) == ("spline", 5), f["Visits"]
assert (f["Revenue"]["transform"], f["Revenue"]["knots"]) == ("spline", 5), f["Revenue"]
'

# ---- check, train and score read placeholders as missing ----
run "$NODE" check --schema schema.json --data leads.csv
expect "check reads the export with its placeholders" 0
run "$NODE" train --schema schema.json --data leads.csv --out model.fdl --l2 1 --quiet
expect "train on the export" 0 ""
# A model carries no number format (it is how one partner's files are
# written, outside the fingerprint): the scoring partner says it.
run "$SCORE" --model model.fdl --data probe.csv --out scored.csv --reasons both --reasons 5 \
	--thousands , --currency '$'
expect "score warns only of the new source, not of GOOGLE nor Select" 0 'fedlead-score: warning: probe.csv: 1 lead with values the schema does not list (each scores as its column'"'"'s "(other)"):
  column "Lead Source": 1 lead, first "Brand new"
fedlead-score: wrote scored.csv'
check "Select and N/A score as empty fields, GOOGLE as Google; no reason shows a placeholder" "$PY" -c '
import csv
# Without an id column the scored file names each lead by its row.
rows = {"P" + r[0]: r for r in list(csv.reader(open("scored.csv")))[1:]}
assert rows["P1"][1] == rows["P2"][1], (rows["P1"], rows["P2"])
assert rows["P1"][4:] == rows["P2"][4:], (rows["P1"], rows["P2"])
assert rows["P3"][1] == rows["P4"][1], (rows["P3"], rows["P4"])
# Reasons up and down: every driver of these few features is listed.
reasons = rows["P1"][4::2]
assert "Lead Source=(missing)" in reasons and "Visits=(missing)" in reasons, reasons
for r in rows.values():
    for c in r[4::2]:
        assert "Select" not in c and "N/A" not in c, r
assert "Lead Source=(unseen: Brand new)" in rows["P5"][4::2], rows["P5"]
assert "Lead Source=GOOGLE" in rows["P3"][4::2], rows["P3"]
'

finish
