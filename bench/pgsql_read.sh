#!/usr/bin/env bash
# Reading leads from PostgreSQL: `fedlead-node check --data CONNINFO --query Q`
# (every row fetched through the server-side cursor, bound by name, parsed
# and encoded against the schema, summed into the column statistics)
# against `psql -c "COPY (Q) TO STDOUT" > /dev/null` of the same query, the
# fastest way PostgreSQL's own client gets the same rows out. Both timed in
# the same run, repetitions interleaved, the best of each kept
# (bench/README.md, "Why ratios"). The goal: fedlead ≤ 1.5 × psql COPY.
#
# The server is the test suite's (tests/e2e/lib/pg.bash: a temporary
# directory, a Unix socket, started as nobody when run as root), with a
# CRM-like table of N leads made by generate_series: an id, a creation
# time, a boolean, four categories, six numbers (integers, numeric(14,2),
# double precision) and the outcome.
#
# Usage: bench/pgsql_read.sh [--rows N] [--reps N] [--build DIR]
#   --rows N     leads in the table (default 1000000)
#   --reps N     repetitions of each timing (default 3)
#   --build DIR  where fedlead-node is (default build-bench/, built Release
#                like bench/run.sh does when it is missing)
set -euo pipefail
export LC_ALL=C OPENBLAS_NUM_THREADS=1
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-bench
rows=1000000
reps=3
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--build) build=$(cd "$2" && pwd); shift 2 ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "pgsql_read.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ ! -x "$build/fedlead-node" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$build" -j"$(getconf _NPROCESSORS_ONLN)" --target fedlead-node >/dev/null
fi
[ -x /usr/bin/time ] || { echo "pgsql_read.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/fedlead-pgbench.XXXXXX")
PG_CLEANUP='rm -rf "$W"'
. "$src/tests/e2e/lib/pg.bash"
pg_start

t0=$(date +%s.%N)
sql <<EOF
CREATE TABLE crm_lead AS
SELECT 'L-' || lpad(i::text, 8, '0') AS lead_id,
       timestamptz '2024-01-01 00:00+00' + (i % 20000) * interval '37 minutes' AS created_at,
       (i % 7 = 0) AS is_partner,
       (ARRAY['finance','retail','tech','health','energy','media','public','other'])[1 + i % 8] AS industry,
       (ARRAY['DE','FR','NL','ES','IT','PL'])[1 + (i * 7) % 6] AS country,
       (ARRAY['web','event','referral','outbound'])[1 + (i * 13) % 4] AS source,
       (ARRAY['small','medium','large'])[1 + (i * 17) % 3] AS size_band,
       (i * 7919) % 5000 AS employees,
       ((i * 104729) % 10000000)::numeric(14, 2) / 100 AS revenue,
       (i * 31) % 97 AS visits,
       (i * 17) % 23 AS emails_opened,
       ((i * 2654435761) % 1000003)::double precision / 1000003 AS fit_score,
       (i * 13) % 365 AS days_since_contact,
       CASE WHEN (i * 2654435761) % 100 < 15 THEN 'won' ELSE 'lost' END AS outcome
FROM generate_series(1::bigint, $rows::bigint) AS i;
ANALYZE crm_lead;
EOF
t1=$(date +%s.%N)
cat >"$W/crm.schema.json" <<'EOF'
{"fedlead_schema": 1,
 "label": {"column": "outcome", "positive": "won", "negative": "lost"},
 "id": "lead_id",
 "features": [
  {"name": "created_at", "type": "date", "format": "iso", "reference": "2025-01-01"},
  {"name": "is_partner", "type": "categorical", "values": ["false", "true"]},
  {"name": "industry", "type": "categorical",
   "values": ["finance", "retail", "tech", "health", "energy", "media", "public", "other"]},
  {"name": "country", "type": "categorical", "values": ["DE", "FR", "NL", "ES", "IT", "PL"]},
  {"name": "source", "type": "categorical", "values": ["web", "event", "referral", "outbound"]},
  {"name": "size_band", "type": "categorical", "values": ["small", "medium", "large"]},
  {"name": "employees", "type": "numeric"},
  {"name": "revenue", "type": "numeric"},
  {"name": "visits", "type": "numeric"},
  {"name": "emails_opened", "type": "numeric"},
  {"name": "fit_score", "type": "numeric"},
  {"name": "days_since_contact", "type": "numeric"}
 ]}
EOF
Q="SELECT * FROM crm_lead"
copy_bytes=$(psql -X -d crm -c "COPY ($Q) TO STDOUT" | wc -c)
printf 'table: %s leads, %s bytes as COPY text, made in %s s\n' "$rows" "$copy_bytes" \
	"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"

# One timing: wall and CPU (user + system of the client process).
timed() {
	local out=$1
	shift
	/usr/bin/time -f '%e %U %S' -o "$W/t" "$@" >"$out" 2>"$W/err" || {
		echo "pgsql_read.sh: failed: $*" >&2
		cat "$W/err" >&2
		exit 1
	}
	awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$W/t"
}
best_f= best_p= cpu_f= cpu_p=
for rep in $(seq 1 "$reps"); do
	read -r w c < <(timed /dev/null psql -X -d crm -c "COPY ($Q) TO STDOUT")
	wp=$w
	if [ -z "$best_p" ] || awk -v a="$w" -v b="$best_p" 'BEGIN { exit !(a < b) }'; then best_p=$w cpu_p=$c; fi
	read -r w c < <(timed "$W/check.out" "$build/fedlead-node" check --schema "$W/crm.schema.json" \
		--data postgresql:///crm --query "$Q")
	wf=$w
	if [ -z "$best_f" ] || awk -v a="$w" -v b="$best_f" 'BEGIN { exit !(a < b) }'; then best_f=$w cpu_f=$c; fi
	echo "rep $rep: psql COPY $wp s, fedlead-node check $wf s (load $(cut -d' ' -f1 /proc/loadavg))"
done
grep -q "^postgresql:///crm: $rows rows valid" "$W/check.out" || {
	echo "pgsql_read.sh: fedlead-node check did not read $rows rows:" >&2
	head -3 "$W/check.out" >&2
	exit 1
}
echo
echo "load: $(uptime | sed 's/.*load average: //') (1, 5, 15 min), $(getconf _NPROCESSORS_ONLN) cores"
printf '%-44s %8s %12s\n' "reading $rows leads (best of $reps)" "wall s" "client CPU s"
printf '%-44s %8s %12s\n' 'psql -c "COPY (query) TO STDOUT" >/dev/null' "$best_p" "$cpu_p"
printf '%-44s %8s %12s\n' "fedlead-node check --data ... --query ..." "$best_f" "$cpu_f"
awk -v f="$best_f" -v p="$best_p" 'BEGIN { printf "ratio fedlead / psql COPY (wall): %.2f (goal: at most 1.5)\n", f / p }'
