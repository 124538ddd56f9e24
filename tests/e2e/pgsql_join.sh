#!/usr/bin/env bash
# End-to-end test of fedlead-node join with a partner's leads in PostgreSQL
# ([node] data = a connection string, [node] query = its SELECT): a real
# server started here (tests/e2e/lib/pg.bash: initdb and pg_ctl as an
# unprivileged user, a Unix socket in a temporary directory, password
# authentication through a PGPASSFILE), a real federation on 127.0.0.1
# (three partners, federated Newton over mutual TLS). It checks that:
#   - a federation where partner p1 reads its leads from a query, typed
#     columns and all, and p2 and p3 read CSV files finishes, and every
#     partner holds the coordinator's model;
#   - that model is the model of the same federation where p1 reads the CSV
#     export of the query's rows, weight for weight (1e-9 relative);
#   - a node whose query lacks a column the schema needs is refused at
#     start, before it connects, with the reader's exact message.
#
# Run by ctest with FL_BIN, FL_SRC and FL_DATA. By hand:
#   FL_BIN=build FL_SRC=. FL_DATA=tests/data bash tests/e2e/pgsql_join.sh
# Exits 77 where PostgreSQL's server is not installed (Debian: postgresql).
. "$(dirname "$0")/lib/fed.bash"
. "$(dirname "$0")/lib/pg.bash"
# pg.bash's EXIT trap replaces fed.bash's: the server is stopped (by its
# PID) once the nodes and coordinators are, then the directory goes.
CLEANUP+=("pg_stop")
trap cleanup EXIT

pki p1 p2 p3
split_coil 3
pg_start
DB=postgresql:///crm

# p1's leads as a CRM keeps them: a table with typed columns (integers for
# the columns whose every value is one, text for the others) and a
# serial the query orders by, in the file's order.
"$PY" - "$T/p1.csv" >"$T/p1.sql" <<'PYEOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
def is_int(i):
    try:
        [int(r[i]) for r in body]
        return True
    except ValueError:
        return False
cols = ['"%s" %s' % (c, "int" if is_int(i) else "text") for i, c in enumerate(head)]
print("CREATE TABLE partner_lead (n serial PRIMARY KEY, %s);" % ", ".join(cols))
print("\\copy partner_lead (%s) FROM '%s' WITH (FORMAT csv, HEADER)"
      % (", ".join('"%s"' % c for c in head), sys.argv[1]))
PYEOF
sql -f "$T/p1.sql" >/dev/null
# n comes first: the key that names a row in messages; not a schema column,
# it is ignored by the node, as in the export.
Q="SELECT * FROM partner_lead ORDER BY n"
N=$(($(wc -l <"$T/p1.csv") - 1))
check "the table holds p1's $N leads, typed" test \
	"$(sql -tA -c "SELECT count(*), pg_typeof(\"MAANTHUI\"), pg_typeof(\"STYPE\") FROM partner_lead GROUP BY 2, 3")" \
	= "$N|integer|text"
# The same rows as a CSV export, as a CRM would write them.
sql -c "\\copy ($Q) TO '$T/p1-export.csv' WITH (FORMAT csv, HEADER)"
check "the export holds the $N leads" test "$(($(wc -l <"$T/p1-export.csv") - 1))" = "$N"
{
	echo "[node]"
	echo "query = $Q"
} >"$T/p1-pg.conf"

# federation DIR P1DATA [flags for p1...]: a coordinator in DIR/coord and
# the three partners (homes in DIR), p1 reading P1DATA; waits for all.
federation() {
	local dir=$1 p1data=$2 k
	shift 2
	coordinator_conf "$dir/coord/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
		"algorithm = newton" "l2 = 1" "validation_split = 0"
	must "$dir: the coordinator starts" start_coordinator "$dir/coord"
	local nodes=()
	NODE_HOME=$dir start_node p1 "$p1data" "$@"
	nodes+=("$NODE_PID")
	for k in 2 3; do
		NODE_HOME=$dir start_node "p$k" "$T/p$k.csv"
		nodes+=("$NODE_PID")
	done
	check "$dir: the coordinator finishes with status 0" wait_pid "$COORD_PID" 180
	for k in 1 2 3; do
		check "$dir: node p$k finishes with status 0" wait_pid "${nodes[$((k - 1))]}" 60
		check "$dir: node p$k holds the coordinator's model" \
			cmp -s "$dir/node-p$k/model.fdl" "$dir/coord/model.fdl"
	done
}

# ---- p1 reads a query ----
federation "$T/pg" "$DB" --config "$T/p1-pg.conf"
check "p1 loaded its $N leads from the query" \
	log_has "$T/pg/node-p1/node.log" " info: loaded $N leads from postgresql:///crm\$"

# ---- the same federation, p1 reading the export ----
federation "$T/csv" "$T/p1-export.csv"

weights "$T/pg/coord/model.fdl" >"$T/w-pg"
weights "$T/csv/coord/model.fdl" >"$T/w-csv"
check "the models have the schema's weights" test "$(wc -l <"$T/w-pg")" -gt 85
d=$(rel_diff "$T/w-pg" "$T/w-csv")
echo "federation with p1 on PostgreSQL vs on its CSV export: relative difference $d"
check "the model with p1 on PostgreSQL is the model with p1 on the export, to 1e-9 relative" \
	le "$d" 1e-9
check "and both name the same schema" test \
	"$(jget <(model_json "$T/pg/coord/model.fdl") 'j["schema_fingerprint"]')" = \
	"$(jget <(model_json "$T/csv/coord/model.fdl") 'j["schema_fingerprint"]')"

# ---- a query that lacks a column the schema needs ----
# No coordinator listens: a node that tried to connect before reading its
# leads would retry until wait_pid gives up (status 124).
{
	echo "[node]"
	echo 'query = SELECT n, "STYPE", "CARAVAN" FROM partner_lead ORDER BY n'
} >"$T/p1-bad.conf"
mkdir -p "$T/bad"
NODE_HOME=$T/bad start_node p1 "$DB" --config "$T/p1-bad.conf"
st=0
wait_pid "$NODE_PID" 60 || st=$?
check "a query lacking a schema column is refused at start (status 2, got $st)" test "$st" = 2
check "with the reader's message" test "$(cat "$T/bad/node-p1/node.log")" = \
	'fedlead-node: postgresql:///crm: query columns: column "MAANTHUI" required by the schema is missing'
finish
