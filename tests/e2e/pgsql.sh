#!/usr/bin/env bash
# End-to-end test of PostgreSQL as a lead source and a score sink: a real
# server started here (tests/e2e/lib/pg.bash: initdb and pg_ctl as an
# unprivileged user, a Unix socket in a temporary directory, password
# authentication with the password in a PGPASSFILE), the bank-marketing
# leads loaded into a CRM-like crm_lead table. It checks that:
#   - a schema drafted from a query maps SQL types (boolean, timestamp,
#     numeric, text);
#   - check and train read a query, and the model trained from the query is
#     the one trained from the CSV export of the same rows, weight for weight;
#   - fedlead-score reads a query and writes its scores back with COPY, the
#     same as the CSV it writes from the export; --replace replaces them;
#   - a write that fails on one row leaves the table as it was;
#   - bad values are named by the row's key and the column;
#   - a wrong password, a missing server, a missing column and a bad query
#     give clear errors, and no error shows a password;
#   - a second statement smuggled after the query is refused, not run.
#
# Run by ctest with FL_BIN, FL_SRC and FL_DATA. By hand:
#   FL_BIN=build FL_SRC=. FL_DATA=tests/data bash tests/e2e/pgsql.sh
# Exits 77 where PostgreSQL's server is not installed (Debian: postgresql).
. "$(dirname "$0")/lib/cli.bash"
PG_CLEANUP='rm -rf "$T"'
. "$(dirname "$0")/lib/pg.bash"

has_line() { grep -Fqx -- "$2" "$1"; }

pg_start
pg_load_bank "$FL_DATA/bank-marketing/bank.csv"
DB=postgresql:///crm
Q="SELECT * FROM crm_lead ORDER BY lead_id"
N=$(sql -tA -c "SELECT count(*) FROM crm_lead")
# The CRM's schema: the bank-marketing one, with its id.
"$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
s["id"] = "lead_id"
json.dump(s, open("crm.schema.json", "w"), indent=1)
' "$FL_DATA/bank-marketing/bank.schema.json"
# The same rows as a CSV export, as a CRM would write them.
sql -c "\\copy ($Q) TO 'export.csv' WITH (FORMAT csv, HEADER)"

# ---- a schema drafted from a query: SQL types ----
sql -c "CREATE TABLE crm_small AS SELECT lead_id, created_at, balance > 1000 AS big_balance,
         age, job, y FROM crm_lead WHERE substr(lead_id, 3)::int % 20 = 0"
run "$NODE" schema --data "$DB" --query "SELECT * FROM crm_small ORDER BY lead_id" \
	--label y --id lead_id --out drafted.json --quiet
expect "schema drafts from a query" 0 \
	"fedlead-node: drafted drafted.json: review every feature before partners agree on it"
check "a boolean is a category true/false, a timestamp a date, numbers numeric" "$PY" -c '
import json
s = json.load(open("drafted.json"))
f = {x["name"]: x for x in s["features"]}
assert s["id"] == "lead_id" and s["label"]["column"] == "y", s
assert f["big_balance"]["type"] == "categorical", f["big_balance"]
assert f["big_balance"]["values"] == ["false", "true"], f["big_balance"]
assert f["created_at"]["type"] == "date" and f["created_at"]["format"] == "iso", f["created_at"]
assert f["age"]["type"] == "numeric", f["age"]
assert f["job"]["type"] == "categorical", f["job"]
'

# ---- check and train from a query: the model of the CSV export ----
run "$NODE" check --schema crm.schema.json --data "$DB" --query "$Q"
expect "check reads a query" 0 \
	"fedlead-node: notice: $DB: 1 column not in the schema, ignored: created_at"
check "check counts the query's rows" grep -Eqx \
	"postgresql:///crm: $N rows valid against crm\\.schema\\.json \\(fingerprint [0-9a-f]{16}\\.\\.\\.\\)" out
run "$NODE" train --schema crm.schema.json --data "$DB" --query "$Q" --out pg.fdl --quiet
expect "train reads a query (the rows twice and more: a cursor on one snapshot)" 0
run "$NODE" train --schema crm.schema.json --data export.csv --out csv.fdl --quiet
expect "train reads the CSV export" 0
"$SCORE" --model pg.fdl --export json >pg.json
"$SCORE" --model csv.fdl --export json >csv.json
check "the model from the query is the model from the export, weight for weight" "$PY" -c '
import json
a, b = json.load(open("pg.json")), json.load(open("csv.json"))
assert len(a["weights"]) == 60, len(a["weights"])
assert a["weights"] == b["weights"], "weights differ"
assert a["schema_fingerprint"] == b["schema_fingerprint"]
'

# ---- a query's numbers are the server's, whatever the schema's format ----
# A partner whose files write decimal commas and thousands points has a
# schema that says so; PostgreSQL writes 292.88 whatever the schema, and
# the query's numbers are read as the server wrote them.
sql -c "CREATE TABLE crm_dec AS SELECT * FROM crm_lead; UPDATE crm_dec SET balance = balance * 0.125"
"$PY" -c '
import json
s = json.load(open("crm.schema.json"))
s["decimal"], s["thousands"] = ",", "."
json.dump(s, open("crm_comma.schema.json", "w"), indent=1)
'
QD="SELECT * FROM crm_dec ORDER BY lead_id"
check "the query holds numbers with a decimal point" test "$(sql -tA -c "SELECT balance FROM crm_dec WHERE lead_id = 'L-00001'")" = "292.88"
run "$NODE" check --schema crm_comma.schema.json --data "$DB" --query "$QD"
check "a schema with a decimal comma reads the query's numbers" grep -Eqx \
	"postgresql:///crm: $N rows valid against crm_comma\\.schema\\.json \\(fingerprint [0-9a-f]{16}\\.\\.\\.\\)" out
run "$NODE" train --schema crm_comma.schema.json --data "$DB" --query "$QD" --out comma.fdl --quiet
expect "and trains from them" 0
run "$NODE" train --schema crm.schema.json --data "$DB" --query "$QD" --out point.fdl --quiet
expect "as the plain schema does" 0
"$SCORE" --model comma.fdl --export json >comma.json
"$SCORE" --model point.fdl --export json >point.json
check "the same model, weight for weight" "$PY" -c '
import json
a, b = json.load(open("comma.json")), json.load(open("point.json"))
assert len(a["weights"]) == 60 and a["weights"] == b["weights"], "weights differ"
'

# ---- scores back into the database with COPY ----
run "$SCORE" --model pg.fdl --data "$DB" --query "$Q" --reasons 2 \
	--out "$DB" --table lead_score --create-table
expect "score writes to a table" 0 \
	"fedlead-score: wrote $N scores to lead_score ($DB)
fedlead-score: notice: $DB: 1 column not in the schema, ignored: created_at"
run "$SCORE" --model pg.fdl --data export.csv --reasons 2 --out scored.csv
expect "score writes the export's CSV" 0
sql -c "\\copy (SELECT * FROM lead_score ORDER BY lead_id) TO 'table.csv' WITH (FORMAT csv, HEADER)"
check "the table holds what the CSV holds (id, score, rank, decile, reasons)" "$PY" -c '
import csv
a = list(csv.reader(open("scored.csv")))
b = list(csv.reader(open("table.csv")))
assert a[0] == b[0] == ["lead_id", "score", "rank", "decile", "reason_1", "contribution_1",
                        "reason_2", "contribution_2"], (a[0], b[0])
assert len(a) == len(b) == '"$N"' + 1, (len(a), len(b))
for x, y in zip(a[1:], b[1:]):
    assert x[0] == y[0] and x[2:4] == y[2:4] and x[4] == y[4] and x[6] == y[6], (x, y)
    for i in (1, 5, 7):
        assert x[i] == y[i] == "" or float(x[i]) == float(y[i]), (x, y)
'
check "the table's columns are typed" test "$(sql -tA -c "SELECT string_agg(data_type, ',' ORDER BY ordinal_position)
	FROM information_schema.columns WHERE table_name = 'lead_score'")" = \
	"text,double precision,bigint,integer,text,double precision,text,double precision"
run "$SCORE" --model pg.fdl --data "$DB" --query "$Q" --reasons 2 \
	--out "$DB" --table lead_score --replace --quiet
expect "score --replace" 0 ""
check "--replace leaves one score a lead" test "$(sql -tA -c "SELECT count(*), count(DISTINCT lead_id) FROM lead_score")" = "$N|$N"

# ---- all or nothing: a row the table refuses ----
sql -c "CREATE TABLE lead_score_pk (lead_id text PRIMARY KEY, score double precision, rank bigint,
          decile int, reason_1 text, contribution_1 double precision, reason_2 text,
          contribution_2 double precision);
        INSERT INTO lead_score_pk (lead_id, score) VALUES ('L-00005', 0.5)"
run "$SCORE" --model pg.fdl --data "$DB" --query "$Q" --reasons 2 \
	--out "$DB" --table lead_score_pk --quiet
expect "a row the table refuses fails the whole write" 1 \
	"fedlead-score: $DB: nothing was written to lead_score_pk: ERROR: duplicate key value violates unique constraint \"lead_score_pk_pkey\" (Key (lead_id)=(L-00005) already exists.; COPY lead_score_pk, line 5)"
check "the table is as it was" test "$(sql -tA -c "SELECT count(*), max(lead_id), max(score), count(rank) FROM lead_score_pk")" = "1|L-00005|0.5|0"
run "$SCORE" --model pg.fdl --data export.csv --out "$DB" --table no_such_table --quiet
expect "a missing table without --create-table" 1 \
	"fedlead-score: $DB: nothing was written to no_such_table: ERROR: relation \"no_such_table\" does not exist"

# ---- bad values: named by the row's key and the column ----
sql -c "CREATE TABLE crm_dirty AS SELECT lead_id, age, job, marital, education, \"default\",
          balance::text AS balance, housing, loan, contact, day, month, campaign, pdays,
          previous, poutcome, y FROM crm_lead WHERE lead_id <= 'L-00030';
        UPDATE crm_dirty SET balance = '12,5k' WHERE lead_id = 'L-00017';
        UPDATE crm_dirty SET age = NULL WHERE lead_id = 'L-00020'"
run "$NODE" check --schema crm.schema.json --data "$DB" --query "SELECT * FROM crm_dirty ORDER BY lead_id"
expect "a bad value names the row's key and the column" 2 \
	'fedlead-node: postgresql:///crm: row 17 (lead_id "L-00017"): column "balance": "12,5k" is not a number'
run "$NODE" check --schema crm.schema.json --data "$DB" --key lead_id \
	--query "SELECT age, lead_id, job, marital, education, \"default\", balance, housing, loan, contact, day, month, campaign, pdays, previous, poutcome, y FROM crm_dirty WHERE lead_id <> 'L-00017' ORDER BY lead_id"
expect "NULL is a missing value; --key names the key column" 2 \
	'fedlead-node: postgresql:///crm: row 19 (lead_id "L-00020"): column "age": missing value (the schema says missing=error)'
run "$NODE" check --schema crm.schema.json --data "$DB" --query "SELECT * FROM crm_dirty ORDER BY lead_id" \
	--bad-rows skip
expect "--bad-rows skip names the rows it skipped by their keys" 0 \
	"fedlead-node: warning: $DB: skipped 2 bad rows (--bad-rows=skip); first reasons:
  $DB: row 17 (lead_id \"L-00017\"): column \"balance\": \"12,5k\" is not a number
  $DB: row 20 (lead_id \"L-00020\"): column \"age\": missing value (the schema says missing=error)"
check "and counts the others" grep -Eqx "postgresql:///crm: 28 rows valid against .*" out
run "$NODE" check --schema crm.schema.json --data "$DB" --query "SELECT lead_id, job, y FROM crm_lead"
expect "a column the schema needs and the query lacks" 2 \
	'fedlead-node: postgresql:///crm: query columns: column "age" required by the schema is missing'
run "$NODE" check --schema crm.schema.json --data "$DB" --query "SELECT * FROM no_such_table"
expect "a query the server refuses" 1 \
	'fedlead-node: postgresql:///crm: the query failed: ERROR: relation "no_such_table" does not exist'
run "$NODE" check --schema crm.schema.json --data "$DB" --query "SELECT * FROM crm_lead; DELETE FROM crm_lead"
expect "a second statement after the query is refused, not run" 1 \
	'fedlead-node: postgresql:///crm: the query failed: ERROR: cannot insert multiple commands into a prepared statement'
check "and the leads are all there" test "$(sql -tA -c "SELECT count(*) FROM crm_lead")" = "$N"
run "$NODE" check --schema crm.schema.json --data "$DB" --query "SELECT * FROM crm_lead ORDER BY lead_id;"
expect "a query ending in ';' as people write it" 0
run "$NODE" check --schema crm.schema.json --data "$DB"
expect "a connection string without --query" 2 \
	'fedlead-node: --data: a PostgreSQL connection string needs --query (the SELECT whose rows are the leads)'

# ---- the schema round reads the node's query ----
# schema approve compares the proposal with the node's data ([node] data
# and query): here a copy of the leads where three say job "astronaut".
sql -c "CREATE TABLE crm_round AS SELECT * FROM crm_lead;
        UPDATE crm_round SET job = 'astronaut' WHERE lead_id IN ('L-00001', 'L-00002', 'L-00003')"
mkdir -p round
cat >round/node.conf <<EOF
[node]
data = $DB
query = SELECT * FROM crm_round ORDER BY lead_id
query_key = lead_id
[state]
state_dir = $PWD/round/state
[policy]
schema_min_count = 10
EOF
# proposal.json: the CRM's schema; rare.json lists "astronaut" as well.
"$PY" -c '
import json, sys
s = json.load(open("crm.schema.json"))
s.pop("ignore", None)
json.dump(s, open("round/proposal.json", "w"), indent=1)
for f in s["features"]:
    if f["name"] == "job":
        f["values"].append("astronaut")
json.dump(s, open("round/rare.json", "w"), indent=1)
'
rc=0
echo yes | "$NODE" schema approve round/rare.json --config round/node.conf >out 2>err || rc=$?
expect "approve counts the query's rows: a value it holds 3 times is refused" 2 \
	"fedlead-node: the proposal lists values that postgresql:///crm holds 1 to 9 times (fewer than schema_min_count = 10) in column \"job\": training would tell the coordinator how many leads hold each; not approved"
check "and says which, on the operator's screen" has_line out \
	'WARNING feature "job": the proposal lists values this partner holds 1 to 9 times (training would count them): "astronaut"'
check "nothing is pinned" test ! -e round/state/schema.approved.json
rc=0
echo yes | "$NODE" schema approve round/proposal.json --config round/node.conf >out 2>err || rc=$?
expect "approve reads the query and approves" 0 ""
check "the summary compares with the query's rows" has_line out \
	'feature "job": values here the proposal does not list go to "(other)": "astronaut"'
check "and pins the approved schema" grep -Eq "approved: this node joins only a federation whose schema has fingerprint [0-9a-f]{64}" out
check "the approved schema is the proposal, byte for byte" cmp -s round/proposal.json round/state/schema.approved.json

# ---- passwords: from the password file, never in a message ----
WRONG="wrong-$PG_PASSWORD"
run env PGPASSFILE=/dev/null "$NODE" check --schema crm.schema.json \
	--data "postgresql://fl:$WRONG@/crm" --query "$Q"
expect "a wrong password: a clear error without the password" 1 \
	"fedlead-node: user=fl dbname=crm: cannot connect: connection to server on socket \"$PGD/.s.PGSQL.5432\" failed: FATAL: password authentication failed for user \"fl\""
check "no message shows the wrong password" bash -c "! grep -Fq -- '$WRONG' out err"
run env PGPASSFILE=/dev/null "$NODE" check --schema crm.schema.json \
	--data "postgresql://fl:$PG_PASSWORD@/crm" --query "$Q"
expect "a password in the string works" 0 \
	"fedlead-node: notice: user=fl dbname=crm: 1 column not in the schema, ignored: created_at"
check "and is not shown" bash -c "! grep -Fq -- '$PG_PASSWORD' out err"
check "the connection is named without it" grep -Eq "^user=fl dbname=crm: $N rows valid" out
run env PGPASSFILE=/dev/null "$SCORE" --model pg.fdl --data export.csv \
	--out "host=$PGD dbname=crm user=fl password=$WRONG" --table lead_score --replace
check "the sink's error has no password either" bash -c "[ $rc = 1 ] && ! grep -Fq -- '$WRONG' out err && grep -Fq 'password authentication failed' err"
run env PGHOST="$PGD/nowhere" "$NODE" check --schema crm.schema.json --data "$DB" --query "$Q"
expect "no server: a clear error" 1 \
	"fedlead-node: postgresql:///crm: cannot connect: connection to server on socket \"$PGD/nowhere/.s.PGSQL.5432\" failed: No such file or directory Is the server running locally and accepting connections on that socket?"

finish
