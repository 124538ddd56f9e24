#!/usr/bin/env bash
# End-to-end test of date columns as CRMs export them: fedlead-node schema
# drafts a date feature (never categories, however many distinct dates) with
# the format found, a reference day and a clip range from the file; an
# undecidable day-first/month-first column is drafted "dmy" with a sentence
# asking a person to check; check summarises the age; a bad date is refused
# with its reason, or skipped under --bad-rows skip; train and fedlead-score
# give reason codes that name the date-derived columns.
#
# Run by ctest with FL_BIN (build dir with the programs). By hand:
#   FL_BIN=build bash tests/e2e/dates.sh
. "$(dirname "$0")/lib/cli.bash"

# ---- the leads ----
# 280 leads created over 700 days (2024-01-01 to 2025-11-30), day first,
# some with a time, every 20th without a date. A lead converts when it was
# created on a Monday or in its last 90 days: the model must learn the
# weekday and the age. The expected draft is computed here from Python's
# calendar, not from fedlead.
"$PY" - <<'EOF'
import datetime as dt, json
start = dt.date(2024, 1, 1)
rows, dates = [], []
for i in range(280):
    d = start + dt.timedelta(days=(i * 37) % 700)
    visits = (i * 7) % 10
    created = d.strftime("%d/%m/%Y") + (" %d:%02d PM" % (1 + i % 11, i % 60) if i % 3 == 0 else "")
    if i % 20 == 7:
        created, conv = "", i % 2 == 0
    else:
        dates.append(d)
        conv = d.weekday() == 0 or (dt.date(2025, 11, 30) - d).days < 90
    rows.append([f"L{i}", created, str(visits), "Converted" if conv else "Not Converted"])
with open("leads.csv", "w") as f:
    f.write("Lead Number,Created,Visits,Status\n")
    for r in rows:
        f.write(",".join(r) + "\n")
last, first = max(dates), min(dates)
ref = dt.date(last.year + (last.month == 12), last.month % 12 + 1, 1)
age = (ref - first).days
p = 1
while age >= 100 * p:
    p *= 10
hi = -(-age // p) * p
with open("want.txt", "w") as f:
    f.write(f"{ref.isoformat()} {hi}\n")
# Leads created on a Monday, by id, for the reason-code check.
with open("mondays.txt", "w") as f:
    for i, r in enumerate(rows):
        if r[1]:
            d = dt.datetime.strptime(r[1][:10], "%d/%m/%Y").date()
            if d.weekday() == 0:
                f.write(r[0] + "\n")
# The same dates month first with a day above 12 (decided), and day first
# with no day above 12 (undecided).
with open("us.csv", "w") as f:
    f.write("Created,Status\n03/13/2024,Converted\n12/01/2024 09:30 AM,Not Converted\n")
with open("undecided.csv", "w") as f:
    f.write("Created,Status\n05/03/2024,Converted\n01/12/2024,Not Converted\n")
with open("iso.csv", "w") as f:
    f.write("Created,Status\n2024-03-05T14:22:10Z,Converted\n2024-12-31 23:59:59+01:00,Not Converted\n")
EOF
read -r want_ref want_hi <want.txt

# ---- the draft ----
# The small files by hand: us.csv runs from 2024-03-13 to 2024-12-01, so
# its reference is 2025-01-01 and its oldest age 294 days, drafted up to
# 300; undecided.csv read day first and iso.csv run from 2024-03-05 (302
# days before 2025-01-01, drafted up to 310).
run "$NODE" schema --data leads.csv --label Status --id "Lead Number" --out schema.json
expect "schema drafts the file" 0
feature() { # FILE NAME: the drafted feature NAME as compact JSON
	"$PY" -c 'import json,sys
s = json.load(open(sys.argv[1]))
print(json.dumps([f for f in s["features"] if f["name"] == sys.argv[2]][0], sort_keys=True))' "$1" "$2"
}
check "a day-first date column with 266 distinct dates is a date feature, reference and clip from the file" \
	test "$(feature schema.json Created)" = \
	"{\"clip\": [0, $want_hi], \"format\": \"dmy\", \"missing\": \"impute\", \"name\": \"Created\", \"reference\": \"$want_ref\", \"type\": \"date\"}"
check "nothing asks for a check of a decided format" \
	test -z "$(grep -F 'day-first' schema.json || true)"
run "$NODE" schema --data us.csv --label Status --out us.json
check "a second field above 12 drafts month first" \
	test "$(feature us.json Created)" = \
	'{"clip": [0, 300], "format": "mdy", "missing": "error", "name": "Created", "reference": "2025-01-01", "type": "date"}'
run "$NODE" schema --data undecided.csv --label Status --out undecided.json
check "an undecided column drafts day first" \
	test "$(feature undecided.json Created)" = \
	'{"clip": [0, 310], "format": "dmy", "missing": "error", "name": "Created", "reference": "2025-01-01", "type": "date"}'
check "and the schema's comment asks a person to check it" grep -Fq \
	'Column \"Created\": no value tells day-first from month-first (no field above 12), so \"format\": \"dmy\" (day first) is a guess: check it (\"mdy\" is month first).' \
	undecided.json
run "$NODE" schema --data iso.csv --label Status --out iso.json
check "ISO timestamps with offsets draft iso" \
	test "$(feature iso.json Created)" = \
	'{"clip": [0, 310], "format": "iso", "missing": "error", "name": "Created", "reference": "2025-01-01", "type": "date"}'

# ---- check ----
run "$NODE" check --schema schema.json --data leads.csv
expect "check accepts the dates" 0 ""
check "and summarises the age in days" grep -Eq '^Created +date +14  age days min [0-9]+  max [0-9]+  mean [0-9.]+$' out
{
	head -1 leads.csv
	echo "X1,31/02/2024,3,Converted"
	tail -n +2 leads.csv
} >bad.csv
run "$NODE" check --schema schema.json --data bad.csv
expect "a day that does not exist is refused, with why" 2 \
	'fedlead-node: bad.csv:2:2: column "Created": "31/02/2024" is not a date in format dmy (day 31 does not exist in February 2024)'
run "$NODE" check --schema schema.json --data bad.csv --bad-rows skip
check "--bad-rows skip skips it" grep -q '^bad.csv: 280 rows valid' out

# ---- train and score ----
run "$NODE" train --schema schema.json --data leads.csv --out m.fdl --l2 1 --quiet
expect "train on a date feature" 0
run "$SCORE" --model m.fdl --data leads.csv --out scored.csv --reasons both --quiet
expect "score a file with dates" 0
check "every lead created on a Monday has the reason \"Created (weekday=Mon)\"" "$PY" -c '
import csv, sys
mondays = set(open("mondays.txt").read().split())
n = 0
for r in csv.DictReader(open("scored.csv")):
    if r["Lead Number"] in mondays:
        n += 1
        if "Created (weekday=Mon)" not in (r["reason_1"], r["reason_2"], r["reason_3"]):
            sys.exit("%s: %s" % (r["Lead Number"], r))
sys.exit(0 if n >= 30 else "only %d Monday leads" % n)'
check "recent leads have an age reason with the age as encoded" grep -Eq ',Created \(age days\)=[0-9]+,' scored.csv
check "a lead without a date has the one reason \"Created=(missing)\"" \
	test "$(grep -c 'Created=(missing)' scored.csv)" = 14
check "no weekday or month reason for a lead without a date" \
	test -z "$(grep -E '^L(7|27|47|67),' scored.csv | grep -E 'weekday|month' || true)"
run "$SCORE" --model m.fdl --explain
check "--explain names the derived columns" grep -Eq '^ +[+-][0-9.]+ +Created \(weekday=Mon\) ' out
check "and the age per unit" grep -Eq '^ +[+-][0-9.]+ +Created \(age days\) +per \+1 unit' out

finish
