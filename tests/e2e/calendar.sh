#!/usr/bin/env bash
# End-to-end test of a categorical feature read from two columns, the
# calendar date of a month column and a day-of-month column as the bank
# marketing file writes them ("may" and "5"): fedlead-node schema drafts
# it ("month day", values "may 5", ...) beside the two columns' own
# features and says why in its decision table; check summarises it; train
# and fedlead-score give reason codes naming the joined value ("month
# day=may 5", "(unseen: jul 4)"); --explain and the HTML report name its
# columns; a partner's mapping that renames the two columns scores alike.
#
# Run by ctest with FL_BIN (build dir with the programs). By hand:
#   FL_BIN=build bash tests/e2e/calendar.sh
. "$(dirname "$0")/lib/cli.bash"

# ---- the leads ----
# 240 leads on six dates in turn; every lead contacted on May 5 converts,
# and every 7th other one. The expected values are the dates in calendar
# order, written here, not read from fedlead.
"$PY" - <<'PYEOF'
dates = [("may", 5), ("may", 6), ("jun", 12), ("jan", 3), ("dec", 31), ("apr", 1)]
with open("leads.csv", "w") as f, open("renamed.csv", "w") as g:
    f.write("lead,month,day,visits,y\n")
    g.write("lead,Contact month,Contact day,visits,y\n")
    for i in range(240):
        m, d = dates[i % 6]
        conv = (m, d) == ("may", 5) or i % 7 == 0
        row = f"L{i},{m},{d},{(i * 7) % 10},{'yes' if conv else 'no'}\n"
        f.write(row)
        g.write(row)
with open("new.csv", "w") as f:
    f.write("lead,month,day,visits,y\nN1,jul,4,3,no\nN2,may,5,3,no\n")
PYEOF
cat >map.json <<'JSON'
{"fedlead_mapping": 1, "columns": {"Contact month": "month", "Contact day": "day"}}
JSON

# ---- the draft ----
run "$NODE" schema --data leads.csv --label y --id lead --out schema.json
expect "schema drafts the file" 0
feature() { # FILE NAME: the drafted feature NAME as compact JSON, or "none"
	"$PY" -c 'import json,sys
s = json.load(open(sys.argv[1]))
f = [f for f in s["features"] if f["name"] == sys.argv[2]]
print(json.dumps(f[0], sort_keys=True) if f else "none")' "$1" "$2"
}
check "month and day are drafted as one feature, the dates in calendar order" \
	test "$(feature schema.json "month day")" = \
	'{"columns": ["month", "day"], "name": "month day", "other": true, "type": "categorical", "values": ["jan 3", "apr 1", "may 5", "may 6", "jun 12", "dec 31"]}'
check "the month column stays a feature of its own" test "$(feature schema.json month)" != none
check "and so does the day column" test "$(feature schema.json day)" != none
check "the decision table says why" grep -Fq \
	'month day  categorical  month and day read together as the calendar date (columns "month" and "day"): one effect per date, 6 dates' \
	err
# A pipe is read once: the date is not drafted, and the table says why.
rc=0
cat leads.csv | "$NODE" schema --data - --label y --id lead --out pipe.json >out 2>err || rc=$?
expect "a draft from a pipe still drafts the file" 0
check "... without the date, saying why" grep -Fq \
	'month day  skipped      columns "month" and "day" read together are a calendar date, but counting the dates needs a second pass (<stdin>: cannot rewind: not a regular file)  check: draft from a file to have it proposed' \
	err
check "... and the schema has no such feature" test "$(feature pipe.json "month day")" = none

# ---- check ----
run "$NODE" check --schema schema.json --data leads.csv
expect "check accepts the file" 0 ""
check "and counts the leads of each date" grep -Eq \
	'^month day +categorical +- +jan 3=40, apr 1=40, may 5=40, may 6=40, jun 12=40, dec 31=40, \(other\)=0$' out

# ---- train and score ----
run "$NODE" train --schema schema.json --data leads.csv --out m.fdl --l2 1 --quiet
expect "train on it" 0
run "$SCORE" --model m.fdl --data leads.csv --out scored.csv --quiet
expect "score the leads" 0
check "every lead contacted on May 5 has the reason \"month day=may 5\"" "$PY" -c '
import csv, sys
n = 0
for i, r in enumerate(csv.DictReader(open("scored.csv"))):
    if i % 6 == 0:
        n += 1
        if "month day=may 5" not in (r["reason_1"], r["reason_2"], r["reason_3"]):
            sys.exit(str(r))
sys.exit(0 if n == 40 else "%d leads" % n)'
run "$SCORE" --model m.fdl --data new.csv --out new-scored.csv --quiet
check "a date the schema does not list shows as unseen, joined" \
	grep -q '^N1,.*month day=(unseen: jul 4)' new-scored.csv
run "$SCORE" --model m.fdl --explain
check "--explain names the date's columns" grep -Eq '^ +\+[0-9.]+ +month day=may 5 ' out
run "$SCORE" --model m.fdl --data leads.csv --eval --report report.html --quiet
expect "the HTML report" 0
check "names the date's columns" grep -Fq 'month day=may 5' report.html

# ---- a partner's mapping ----
run "$SCORE" --model m.fdl --data renamed.csv --mapping map.json --out mapped.csv --quiet
expect "scoring through a mapping that renames the two columns" 0
check "gives the same scores and reasons" cmp -s scored.csv mapped.csv
run "$SCORE" --model m.fdl --data renamed.csv --out unmapped.csv --quiet
expect "without it the columns are missing" 2 \
	'fedlead-score: renamed.csv:1: column "month" required by the schema is missing'

# ---- the scoring service: JSON leads name the two columns ----
CLIENT="$FL_SRC/tests/tools/serve_client.py"
svc=
trap '[ -z "$svc" ] || { kill "$svc" 2>/dev/null; wait "$svc" 2>/dev/null; }; rm -rf "$T"' EXIT
"$SCORE" serve --model m.fdl --allow-unsigned yes --listen 127.0.0.1:0 --port-file svc.port \
	>svc.log 2>&1 &
svc=$!
# Until its "listening on" line (or it exits): a log line, not a delay.
until grep -q ' listening on ' svc.log 2>/dev/null || ! kill -0 "$svc" 2>/dev/null; do
	sleep 0.05
done
URL=http://127.0.0.1:$(sed -n 's/^http=//p' svc.port)
"$PY" "$CLIENT" post "$URL/v1/score?reasons=1" application/json \
	'[{"lead": "N1", "month": "jul", "day": 4, "visits": 3}, {"lead": "N2", "month": "may", "day": 5, "visits": 3}]' >resp 2>&1 || true
check "the service answers a JSON lead with \"month\" and \"day\"" test "$(head -n 1 resp)" = 200
check "its reason names the joined value" grep -Fq '"month day=may 5"' resp
check "and an unseen date as the two fields joined" \
	grep -Fq '"unseen": [{"column": "month", "value": "jul"}, {"column": "month day", "value": "jul 4"}]' resp
kill "$svc"
wait "$svc" 2>/dev/null || true
svc=

finish
