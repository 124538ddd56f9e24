#!/usr/bin/env bash
# End-to-end test of files as CRMs write them: the same 60 leads exported
# comma-, semicolon- (with a byte-order mark and CRLF), tab- and
# pipe-separated and in Windows-1252, read by fedlead-node schema / check /
# train / cache and fedlead-score alike; the messages for a file read on the
# wrong separator and for text that is not UTF-8; the label's positive value
# (Converted / Not Converted, Won / Lost, values that do not say); empty and
# header-only files; check --no-label on an export of open leads.
#
# Run by ctest with FL_BIN (build dir with the programs). By hand:
#   FL_BIN=build bash tests/e2e/dialects.sh
. "$(dirname "$0")/lib/cli.bash"
has_line() { grep -Fqx -- "$2" "$1"; }

# ---- the leads, in every dialect ----
# 60 leads: a numeric column, a city with accented names, a text status.
# Written by Python so that the exact bytes (BOM, CRLF, Windows-1252) are
# what the test says.
"$PY" - <<'EOF'
import codecs
cities = ["München", "Köln", "São Paulo", "Zürich"]
rows = []
for i in range(1, 61):
    visits = (i * 7) % 13
    city = cities[i % 4]
    conv = "Converted" if (visits + (i % 4) * 3 + i % 5) > 10 else "Not Converted"
    rows.append([f"L{i}", str(visits), city, conv])
header = ["Lead Number", "Total Visits", "City", "Status"]

def write(name, sep, enc="utf-8", bom=False, eol="\n", quote_city=False):
    lines = [sep.join(header)]
    for r in rows:
        r = list(r)
        if quote_city:
            r[2] = '"' + r[2] + '"'
        lines.append(sep.join(r))
    data = (eol.join(lines) + eol).encode(enc)
    if bom:
        data = codecs.BOM_UTF8 + data
    open(name, "wb").write(data)

write("comma.csv", ",")
write("semi.csv", ";", bom=True, eol="\r\n", quote_city=True)
write("tab.tsv", "\t")
write("pipe.csv", "|")
write("cp1252.csv", ",", enc="cp1252")
# Open leads: no outcome yet, so no label column.
open("open.csv", "w").write("Lead Number,Total Visits,City\nL100,3,Köln\nL101,5,München\n")
EOF
POS=$(grep -c ',Converted$' comma.csv || true)

# ---- the draft ----
run "$NODE" schema --data semi.csv --label Status --id "Lead Number" --out schema.json --quiet
expect "schema drafts from a semicolon export with a BOM and CRLF" 0 \
	"fedlead-node: drafted schema.json: review every feature before partners agree on it"
check "the draft has both columns and \"Converted\" as the positive value" "$PY" -c '
import json
s = json.load(open("schema.json"))
assert s["label"] == {"column": "Status", "positive": "Converted",
                      "negative": "Not Converted"}, s["label"]
f = {x["name"]: x for x in s["features"]}
assert list(f) == ["Total Visits", "City"], list(f)
assert f["City"]["values"] == ["Köln", "München", "São Paulo", "Zürich"], f["City"]
assert "delimiter" not in s and "encoding" not in s, s
'
for f in comma.csv tab.tsv pipe.csv; do
	run "$NODE" schema --data "$f" --label Status --id "Lead Number" --out "draft-$f.json"
	expect "schema drafts the same from $f" 0
	check "the draft from $f equals the semicolon one" cmp -s schema.json "draft-$f.json"
done
# The draft proposes a spline for "Total Visits"; `cache` below cannot place
# knots from data yet (it says so), and this file is about separators, so
# its reviewer keeps the number linear.
"$PY" -c '
import json
s = json.load(open("schema.json"))
assert s["features"][0]["transform"] == "spline", s["features"][0]
for f in s["features"]:
    f.pop("transform", None); f.pop("knots", None)
json.dump(s, open("schema.json", "w"), indent=2)
'

# ---- every separator reads the same leads ----
run "$NODE" check --schema schema.json --data comma.csv
expect "check reads the comma file" 0 ""
tail -n +2 out >check-comma
FP=$(sed -n 's/.*(fingerprint \([0-9a-f]*\)\.\.\.).*/\1/p' out)
check "check counts the label" has_line out \
	"label Status: $POS converted (Converted), $((60 - POS)) not converted (Not Converted): $(awk -v p="$POS" 'BEGIN { printf "%.2f", 100 * p / 60 }') % converted"
for f in semi.csv tab.tsv pipe.csv; do
	run "$NODE" check --schema schema.json --data "$f"
	expect "check reads $f" 0 ""
	check "check of $f summarises as the comma file" cmp -s check-comma <(tail -n +2 out)
done

run "$NODE" train --schema schema.json --data comma.csv --out comma.fdl --l2 1 --quiet
expect "train on the comma file" 0 ""
run "$NODE" train --schema schema.json --data semi.csv --out semi.fdl --l2 1 --quiet
expect "train on the semicolon file" 0 ""
run "$SCORE" --model comma.fdl --data comma.csv --out scored-comma.csv --quiet
expect "score the comma file" 0 ""
run "$SCORE" --model semi.fdl --data tab.tsv --out scored-tab.csv --quiet
expect "score the tab file with the model from the semicolon file" 0 ""
# Same leads, same weights: the two models score every lead alike.
check "both score every lead the same" cmp -s scored-comma.csv scored-tab.csv
run "$NODE" cache --schema schema.json --data pipe.csv --out pipe.flc --quiet
expect "cache reads the pipe file" 0 ""
# The intercept, Total Visits and four cities with "other".
check "cache reports all rows" has_line out "pipe.csv: 60 rows x 7 columns cached in pipe.flc"

# ---- the wrong separator ----
SEMI_MSG="semi.csv:1: the header has one field containing ';' — the file looks semicolon-separated (use --delimiter ';')"
run "$NODE" schema --data semi.csv --label Status --delimiter ,
expect "schema --delimiter , on a semicolon file says what it looks like" 2 "fedlead-node: $SEMI_MSG"
run "$NODE" check --schema schema.json --data semi.csv --delimiter ,
expect "check says the same" 2 "fedlead-node: $SEMI_MSG"
run "$NODE" train --schema schema.json --data semi.csv --delimiter , --out x.fdl
expect "train says the same" 2 "fedlead-node: $SEMI_MSG"
run "$NODE" cache --schema schema.json --data semi.csv --delimiter , --out x.flc
expect "cache says the same" 2 "fedlead-node: $SEMI_MSG"
run "$SCORE" --model comma.fdl --data semi.csv --delimiter ,
expect "fedlead-score says the same" 2 "fedlead-score: $SEMI_MSG"
run "$NODE" check --schema schema.json --data tab.tsv --delimiter ';'
expect "a tab file read as semicolon-separated" 2 \
	"fedlead-node: tab.tsv:1: the header has one field containing a tab — the file looks tab-separated (use --delimiter tab)"
run "$NODE" check --schema schema.json --data semi.csv --delimiter ';'
expect "--delimiter ';' reads the semicolon file" 0 ""
run "$NODE" check --schema schema.json --data tab.tsv --delimiter tab
expect "--delimiter tab reads the tab file" 0 ""
run "$NODE" check --schema schema.json --data comma.csv --delimiter :
expect "--delimiter with a separator fedlead does not know" 2 \
	"fedlead-node: --delimiter: \":\" is not a field separator (',', ';', tab, '|' or auto)"
# join reads the same settings from its config or flags, checked before it
# connects anywhere.
run "$NODE" join --schema schema.json --data semi.csv --address 127.0.0.1:1 --ca ca.pem \
	--cert node.pem --key node.key --model_out m.fdl --federation f --delimiter : --check
expect "join refuses a separator fedlead does not know" 2 \
	"fedlead-node: delimiter: \":\" is not a field separator (',', ';', tab, '|' or auto)"
run "$NODE" join --schema schema.json --data semi.csv --address 127.0.0.1:1 --ca ca.pem \
	--cert node.pem --key node.key --model_out m.fdl --federation f --thousands _ --check
expect "join refuses a thousands separator fedlead does not know" 2 \
	"fedlead-node: thousands: \"_\" is not a thousands separator (\",\", \".\", \" \", \"'\", a no-break space or \"\" for none)"
# The schema may say how this partner's files are written; a flag overrides it.
"$PY" -c '
import json
s = json.load(open("schema.json"))
s["delimiter"] = "|"
json.dump(s, open("schema-pipe.json", "w"), ensure_ascii=False, indent=2)
'
run "$NODE" check --schema schema-pipe.json --data pipe.csv
expect "the schema's \"delimiter\" is used" 0 ""
check "a dialect in the schema leaves its fingerprint as it is" \
	grep -q "(fingerprint $FP\.\.\.)" out
run "$NODE" check --schema schema-pipe.json --data comma.csv
expect "the schema's \"delimiter\" against a comma file" 2 \
	"fedlead-node: comma.csv:1: the header has one field containing ',' — the file looks comma-separated (use --delimiter ',')"
run "$NODE" check --schema schema-pipe.json --data comma.csv --delimiter auto
expect "--delimiter auto overrides the schema's" 0 ""

# ---- encodings ----
CP_MSG="cp1252.csv:2:3: not UTF-8 text (byte 0xF6); save the file as UTF-8 or name its encoding (--encoding windows-1252 or latin1)"
run "$NODE" schema --data cp1252.csv --label Status
expect "schema refuses a Windows-1252 file, naming line and column" 2 "fedlead-node: $CP_MSG"
run "$NODE" check --schema schema.json --data cp1252.csv
expect "check refuses it the same way" 2 "fedlead-node: $CP_MSG"
run "$NODE" train --schema schema.json --data cp1252.csv --out x.fdl
expect "train refuses it the same way" 2 "fedlead-node: $CP_MSG"
run "$SCORE" --model comma.fdl --data cp1252.csv
expect "fedlead-score refuses it the same way" 2 "fedlead-score: $CP_MSG"
run "$NODE" check --schema schema.json --data cp1252.csv --encoding windows-1252
expect "check --encoding windows-1252 converts it" 0 ""
check "converted, it summarises as the UTF-8 file" cmp -s check-comma <(tail -n +2 out)
check "no city lands in \"other\"" grep -q '(other)=0$' out
run "$SCORE" --model comma.fdl --data cp1252.csv --encoding windows-1252 --out scored-cp.csv --quiet
expect "fedlead-score --encoding windows-1252" 0 ""
check "and scores every lead as the UTF-8 file" cmp -s scored-comma.csv scored-cp.csv
run "$NODE" check --schema schema.json --data comma.csv --encoding ebcdic
expect "--encoding with an encoding fedlead does not know" 2 \
	"fedlead-node: --encoding: \"ebcdic\" is not a supported encoding (utf-8, windows-1252 or latin1)"
run "$NODE" check --schema schema.json --data semi.csv --encoding windows-1252
expect "a UTF-8 file with a BOM read as Windows-1252" 2 \
	"fedlead-node: semi.csv:1: the file starts with a UTF-8 byte-order mark: it is UTF-8, not windows-1252 (leave out --encoding)"

# ---- numbers as regions write them ----
# The same 6 leads plainly and as a German CRM exports them: decimal comma,
# thousands point, the euro sign after the revenue.
"$PY" - <<'EOF'
rows = [("1", "12.5", "1234.5", "1"), ("2", "0.25", "99", "0"), ("3", "3", "1234567.25", "1"),
        ("4", "7.75", "0.5", "0"), ("5", "1", "15000", "1"), ("6", "2.5", "200", "0")]
def de(x):
    whole, _, frac = x.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return ".".join(groups) + ("," + frac if frac else "")
with open("plain.csv", "w") as f:
    f.write("lead,amount,revenue,y\n")
    for r in rows:
        f.write(",".join(r) + "\n")
with open("de.csv", "w") as f:
    f.write("lead;amount;revenue;y\n")
    for r in rows:
        f.write(";".join([r[0], de(r[1]), de(r[2]) + " €", r[3]]) + "\n")
with open("de-bad.csv", "w") as f:
    f.write("lead;amount;revenue;y\n1;1,5;1.23,4 €;1\n")
EOF
cat >money.json <<'EOF'
{"fedlead_schema": 1, "label": {"column": "y", "positive": "1", "negative": "0"}, "id": "lead",
 "features": [{"name": "amount", "type": "numeric"},
              {"name": "revenue", "type": "numeric", "currency": "€"}]}
EOF
sed 's/"fedlead_schema": 1,/"fedlead_schema": 1, "decimal": ",", "thousands": ".",/' money.json >money-de.json
sed 's/, "currency": "€"//' money.json >money-plain.json
run "$NODE" check --schema money-plain.json --data plain.csv
expect "check the plain numbers" 0 ""
tail -n +2 out >check-plain
FPM=$(sed -n 's/.*(fingerprint \([0-9a-f]*\)\.\.\.).*/\1/p' out)
run "$NODE" check --schema money.json --data de.csv
expect "a decimal comma without --decimal is refused with its place" 2 \
	'fedlead-node: de.csv:2:2: column "amount": "12,5" is not a number'
run "$NODE" check --schema money.json --data de.csv --decimal , --thousands .
expect "check --decimal , --thousands . reads the German file" 0 ""
check "it summarises as the plain file" cmp -s check-plain <(tail -n +2 out)
check "the number formats leave the fingerprint as it is" grep -q "(fingerprint $FPM\.\.\.)" out
run "$NODE" check --schema money-de.json --data de.csv
expect "the schema's \"decimal\" and \"thousands\" are used" 0 ""
check "and summarise as the plain file" cmp -s check-plain <(tail -n +2 out)
run "$NODE" check --schema money-de.json --data de-bad.csv
expect "a badly grouped number names file, line, column and the format" 2 \
	'fedlead-node: de-bad.csv:2:3: column "revenue": "1.23,4 €" is not a number (decimal ",", thousands ".", currency "€")'
run "$NODE" train --schema money-plain.json --data plain.csv --out plain.fdl --l2 1 --quiet
expect "train on the plain numbers" 0 ""
run "$SCORE" --model plain.fdl --data plain.csv --out scored-plain.csv --quiet
expect "score the plain numbers" 0 ""
run "$SCORE" --model plain.fdl --data de.csv --decimal , --thousands . --currency € \
	--out scored-de.csv --quiet
expect "fedlead-score --decimal , --thousands . --currency € reads the German file" 0 ""
check "and scores every lead as the plain file" \
	cmp -s <(cut -d, -f1-4 scored-plain.csv) <(cut -d, -f1-4 scored-de.csv)
check "its reason codes quote the values as the file writes them" \
	grep -q '^1,[0-9.]*,[0-9]*,[0-9]*,"amount=12,5",' scored-de.csv
run "$SCORE" --model plain.fdl --data de.csv --decimal ';'
expect "--decimal with a separator that is not one" 2 \
	"fedlead-score: --decimal: \";\" is not a decimal separator (\".\" or \",\")"
run "$NODE" schema --data de.csv --label y --id lead --decimal , --thousands . --currency € \
	--out de-draft.json
expect "schema drafts the German file with its number format" 0
check "the draft has numeric columns and records the format it was given" "$PY" -c '
import json
s = json.load(open("de-draft.json"))
assert (s["decimal"], s["thousands"], s["currency"]) == (",", ".", "€"), s
assert "delimiter" not in s, s
assert [(f["name"], f["type"]) for f in s["features"]] == [("amount", "numeric"),
                                                           ("revenue", "numeric")], s
'
run "$NODE" check --schema de-draft.json --data de.csv
expect "the draft reads its own file" 0 ""

# ---- the label's positive value ----
printf 'a,stage\n1,Won\n2,Lost\n3,Lost\n' >won.csv
run "$NODE" schema --data won.csv --label stage --out won.json
expect "schema on Won / Lost" 0
check "\"Won\" is positive" "$PY" -c '
import json
s = json.load(open("won.json"))
assert (s["label"]["positive"], s["label"]["negative"]) == ("Won", "Lost"), s["label"]
'
printf 'a,grade\n1,A\n2,B\n' >unclear.csv
run "$NODE" schema --data unclear.csv --label grade
expect "values that do not say which is positive are refused" 2 \
	"fedlead-node: unclear.csv: label column \"grade\" takes \"A\" and \"B\", which do not say which one means converted (use --positive VALUE)"
run "$NODE" schema --data unclear.csv --label grade --positive B --out unclear.json
expect "--positive decides" 0
check "\"B\" is positive" "$PY" -c '
import json
s = json.load(open("unclear.json"))
assert (s["label"]["positive"], s["label"]["negative"]) == ("B", "A"), s["label"]
'
run "$NODE" schema --data unclear.csv --label grade --positive C
expect "--positive with a value the column does not take" 2 \
	"fedlead-node: --positive \"C\" is not a value of label column \"grade\" (it takes \"A\" and \"B\")"

# ---- empty and header-only files ----
: >empty.csv
head -n 1 comma.csv >header.csv
for f in empty.csv header.csv; do
	if [ "$f" = empty.csv ]; then
		msg="$f: the file is empty (no header)"
		draft="$msg"
	else
		msg="$f: no usable data rows"
		draft="$f: no data rows (the file has only a header)"
	fi
	run "$NODE" schema --data "$f" --label Status
	expect "schema refuses $f" 2 "fedlead-node: $draft"
	run "$NODE" check --schema schema.json --data "$f"
	expect "check refuses $f" 2 "fedlead-node: $msg"
	run "$NODE" check --schema schema.json --data "$f" --no-label
	expect "check --no-label refuses $f" 2 "fedlead-node: $msg"
	run "$NODE" train --schema schema.json --data "$f" --out x.fdl
	expect "train refuses $f" 2 "fedlead-node: $msg"
	run "$NODE" cache --schema schema.json --data "$f" --out x.flc
	expect "cache refuses $f" 2 "fedlead-node: $msg"
	run "$SCORE" --model comma.fdl --data "$f" --eval
	expect "score --eval refuses $f" 2 "fedlead-score: $msg"
	run "$SCORE" --model comma.fdl --data "$f" --out x.csv
	expect "score refuses $f" 2 "fedlead-score: $msg"
	check "and writes no scored file" test ! -e x.csv
done

# ---- open leads: check --no-label ----
run "$NODE" check --schema schema.json --data open.csv
expect "check needs the label by default" 2 \
	"fedlead-node: open.csv:1: column \"Status\" required by the schema is missing"
run "$NODE" check --schema schema.json --data open.csv --no-label
expect "check --no-label validates an unlabelled export" 0 ""
check "it says the label was not checked" grep -Eqx \
	'open\.csv: 2 rows valid against schema\.json \(fingerprint [0-9a-f]{16}\.\.\.\), label not checked \(--no-label\)' out
check "and prints no label line" test -z "$(grep '^label ' out || true)"
check "but the column summary" grep -Eq '^City +categorical +-  Köln=1, München=1, São Paulo=0, Zürich=0, \(other\)=0$' out
printf 'Lead Number,Total Visits,City\nL1,x,Köln\n' >open-bad.csv
run "$NODE" check --schema schema.json --data open-bad.csv --no-label
expect "check --no-label still checks every value" 2 \
	'fedlead-node: open-bad.csv:2:2: column "Total Visits": "x" is not a number'

finish
