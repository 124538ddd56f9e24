#!/usr/bin/env bash
# End-to-end test of `fedlead-node check`'s column summary for transformed
# numeric features: a special value (pdays = -1, "never contacted") is an
# answer, counted beside the values and not as missing; a spline or bins
# feature is summarised by its values whether its knots are a count or
# written out (never by a spline column); a log1p feature by its values,
# with the mean of what the model sees said as such.
#
# Run by ctest with FL_BIN (build dir with the programs). By hand:
#   FL_BIN=build bash tests/e2e/check_summary.sh
. "$(dirname "$0")/lib/cli.bash"

# 10 leads: pdays -1 in four of them, one blank (imputed); amount skewed.
cat >leads.csv <<'CSV'
pdays,amount,visits,converted
-1,0,1,no
-1,9,2,no
5,99,3,yes
-1,999,4,no
20,9,5,yes
,0,6,no
-1,99,7,yes
40,9,8,no
10,0,9,yes
30,9,10,no
CSV
schema() {
	cat <<JSON
{"fedlead_schema": 1,
 "label": {"column": "converted", "positive": "yes", "negative": "no"}, "features": [
 {"name": "pdays", "type": "numeric", "missing": "impute", "clip": [-1, 100],
  "transform": "spline", "knots": $1, "special": [-1]},
 {"name": "amount", "type": "numeric", "clip": [0, 1000], "transform": "log1p"},
 {"name": "visits", "type": "numeric", "clip": [0, 20], "transform": "bins", "knots": $2}]}
JSON
}
summary() {
	cat <<'TXT'
column                   type            missing  summary
pdays                    numeric               1  min 5  max 40  mean 21, -1 (special)=4
amount                   numeric               0  min 0  max 999  mean of log1p 2.53284
visits                   numeric               0  min 1  max 10  mean 5.5
TXT
}

schema 5 4 >counted.json
run "$NODE" check --schema counted.json --data leads.csv
expect "check reads the leads against knot counts" 0
check "special values are counted apart from missing ones; values, not spline columns" \
	diff -u <(summary) <(sed -n '3,$p' out)

schema '[0, 10, 20, 30, 40]' '[0, 3, 6, 9, 20]' >placed.json
run "$NODE" check --schema placed.json --data leads.csv
expect "check reads the leads against written-out knots" 0
check "the same summary when the knots are written in the schema" \
	diff -u <(summary) <(sed -n '3,$p' out)

finish
