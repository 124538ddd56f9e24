#!/usr/bin/env bash
# A federation on leads with a date column: three partners train with
# federated Newton over mutual TLS on a schema with a date feature, and the
# model equals the one the core trainer makes from the pooled leads (the
# date encoded and standardised alike at every partner, from the summed
# statistics); a coordinator with privacy = on refuses the schema while the
# date has no clip range, naming it.
. "$(dirname "$0")/lib/fed.bash"

# 600 leads over three partners (300, 180, 120), created over two years,
# day first, some with a time, every 25th without a date. Monday leads and
# recent ones convert more often (a deterministic pattern).
"$PY" - "$T" <<'PYEOF'
import datetime as dt, sys
t = sys.argv[1]
start = dt.date(2024, 1, 1)
rows = []
for i in range(600):
    d = start + dt.timedelta(days=(i * 53) % 730)
    visits = (i * 7) % 10
    created = d.strftime("%d/%m/%Y") + (" %02d:%02d" % (i % 24, i % 60) if i % 4 == 0 else "")
    score = (3 if d.weekday() == 0 else 0) + (2 if (d - start).days > 500 else 0) + visits % 4 + i % 3
    if i % 25 == 3:
        created = ""
    rows.append(f"{i},{created},{visits},{'yes' if score >= 5 else 'no'}\n")
header = "lead,Created,visits,won\n"
parts = [rows[:300], rows[300:480], rows[480:]]
for k, part in enumerate(parts, 1):
    open(f"{t}/p{k}.csv", "w").write(header + "".join(part))
open(f"{t}/pooled.csv", "w").write(header + "".join(rows))
schema = """{"fedlead_schema": 1,
 "label": {"column": "won", "positive": "yes", "negative": "no"},
 "id": "lead",
 "features": [
  {"name": "Created", "type": "date", "format": "dmy", "reference": "2026-01-01",
   "missing": "impute"%s},
  {"name": "visits", "type": "numeric", "clip": [0, 10]}]}
"""
open(f"{t}/dates.schema.json", "w").write(schema % ', "clip": [0, 800]')
open(f"{t}/dates-noclip.schema.json", "w").write(schema % "")
PYEOF
export FED_SCHEMA=$T/dates.schema.json NODE_SCHEMA=$T/dates.schema.json

pki p1 p2 p3
coordinator_conf "$T/coord/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
	"algorithm = newton" "l2 = 1" "validation_split = 0"
start_coordinator "$T/coord" || { bad "coordinator starts"; finish; exit 1; }
nodes=()
for k in 1 2 3; do start_node "p$k" "$T/p$k.csv"; nodes+=("$NODE_PID"); done
check "coordinator finishes with status 0" wait_pid "$COORD_PID" 120
for k in 1 2 3; do
	check "node p$k finishes with status 0" wait_pid "${nodes[$((k - 1))]}" 30
done

"$FL_BIN/fedlead-node" train --schema "$FED_SCHEMA" --data "$T/pooled.csv" --l2 1 \
	--solver newton --out "$T/pooled.fdl" --quiet >/dev/null
weights "$T/coord/model.fdl" >"$T/w-fed"
weights "$T/pooled.fdl" >"$T/w-pooled"
check "the model has the date's 21 columns (age, missing, 7 weekdays, 12 months), visits and the intercept" \
	test "$(wc -l <"$T/w-fed")" = 23
d=$(rel_diff "$T/w-fed" "$T/w-pooled")
echo "federated vs pooled: relative difference $d"
check "federated newton on a date feature equals pooled newton to 1e-6 relative" le "$d" 1e-6
"$FL_BIN/fedlead-score" --model "$T/coord/model.fdl" --data "$T/p1.csv" --out "$T/scored.csv" \
	--quiet
check "the federated model's reason codes name date-derived columns" \
	grep -Eq ',Created \((weekday|month)=[A-Z][a-z][a-z]\),' "$T/scored.csv"

# privacy = on: the date's age needs a clip range as a numeric value does.
N=$T/noclip
FED_SCHEMA=$T/dates-noclip.schema.json coordinator_conf "$N/coordinator.conf" \
	"p1, p2, p3" "min_partners = 3" "algorithm = newton" "l2 = 1" "validation_split = 0" \
	"max_iterations = 4" "privacy = on"
rc=0
out=$("$FL_BIN/fedlead-coordinator" --config "$N/coordinator.conf" --check 2>&1) || rc=$?
check "coordinator --check with privacy = on and an unclipped date exits 2" test "$rc" = 2
check "and names the date feature" grep -qxF \
	"fedlead-coordinator: $T/dates-noclip.schema.json: privacy = on needs a clip range on every numeric feature of the schema, which bounds each lead's part in the statistics round: feature \"Created\" has none" <<<"$out"
FED_SCHEMA=$T/dates.schema.json coordinator_conf "$N/coordinator.conf" \
	"p1, p2, p3" "min_partners = 3" "algorithm = newton" "l2 = 1" "validation_split = 0" \
	"max_iterations = 4" "privacy = on"
rc=0
"$FL_BIN/fedlead-coordinator" --config "$N/coordinator.conf" --check >/dev/null 2>&1 || rc=$?
check "with the clip range, the same settings pass --check" test "$rc" = 0
finish
