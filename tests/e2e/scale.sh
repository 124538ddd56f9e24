#!/usr/bin/env bash
# Many partners: one coordinator and PARTNERS (50) node processes on this
# machine, each with ROWS (100) leads of CoIL, run a secure federation: the
# statistics round and Newton rounds (max_iterations = ITER, 1), every one
# of them through secure aggregation over all partners (threshold: more
# than half). The schema is CoIL's first 16 numeric columns (17 weights),
# so that the cost measured is the number of partners (keys, shares,
# certificates checked, connections), not the vector length; WIDE=1 uses
# the whole CoIL schema (321 weights, 52,003 values a Newton round). Every node must end with the coordinator's model, which must name
# all of them, and the statistics round's secure sum must count the pooled
# leads and converted leads exactly. Reported: the time of each round, from the coordinator's log,
# and the coordinator's peak resident memory, sampled from /metrics.
# bench/scale.sh runs this with 200 partners (Shamir sharing over GF(256)
# allows at most 255).
. "$(dirname "$0")/lib/fed.bash"

PARTNERS=${PARTNERS:-50}
ROWS=${ROWS:-100}
ITER=${ITER:-1}
WIDE=${WIDE:-0}
DEADLINE=${DEADLINE:-300}
[ "$PARTNERS" -le 255 ] || { echo "PARTNERS must be at most 255 (Shamir over GF(256))"; exit 2; }

# The certificates (fedlead-ca, one at a time: the slow part of setting
# up). PKI_CACHE=DIR keeps them there and reuses them on the next run.
t0=$SECONDS
names=()
cache=${PKI_CACHE:-}
if [ -n "$cache" ] && [ -s "$cache/ca/ca.crt" ]; then
	mkdir -p "$T/pki"
	cp -a "$cache/." "$T/pki/"
else
	pki
fi
for k in $(seq "$PARTNERS"); do
	[ -s "$T/pki/p$k.crt" ] ||
		"$CA_TOOL" issue --dir "$T/pki/ca" --name "p$k" --role partner --out "$T/pki/p$k" >/dev/null
	names+=("p$k")
done
if [ -n "$cache" ]; then
	mkdir -p "$cache"
	cp -a "$T/pki/." "$cache/"
fi
echo "certificates for $PARTNERS partners: $((SECONDS - t0)) s"
# Round robin: lead i goes to partner 1 + (i mod PARTNERS).
rows=$((PARTNERS * ROWS))
head -n $((rows + 1)) "$COIL" | awk -v dir="$T" -v n="$PARTNERS" '
	NR == 1 { h = $0; for (k = 1; k <= n; k++) print h > (dir "/p" k ".csv"); next }
	{ k = 1 + (NR - 2) % n; print >> (dir "/p" k ".csv") }'
head -n $((rows + 1)) "$COIL" >"$T/pooled.csv"
if [ "$WIDE" = 0 ]; then
	# The first 16 numeric columns; every other column ignored.
	FED_SCHEMA=$T/small.schema.json
	NODE_SCHEMA=$FED_SCHEMA
	"$PY" - "$SCHEMA" "$COIL" "$FED_SCHEMA" <<'PYEOF'
import csv, json, sys
s = json.load(open(sys.argv[1]))
header = next(csv.reader(open(sys.argv[2])))
s["features"] = [f for f in s["features"] if f["type"] == "numeric"][:16]
keep = {f["name"] for f in s["features"]} | {s["label"]["column"]}
s["ignore"] = [h for h in header if h not in keep]
json.dump(s, open(sys.argv[3], "w"), indent=1)
PYEOF
fi

# Config lines are short: the allow-list goes in a file, but p1.
printf '%s\n' "${names[@]:1}" >"$T/partners.txt"
# The threshold is set explicitly, to its documented default (more than
# half of the participants): a partner that joins before the federation
# starts is told the threshold in its Welcome, computed from the
# participants, of whom there are none yet, so it gets 2; from 4 partners
# on, the nodes then refuse the first key list ("threshold 2 is not more
# than half of the N partners"), reconnect, and the round restarts once
# per partner.
coordinator_conf "$T/coord/coordinator.conf" p1 "partners_file = $T/partners.txt" \
	"min_partners = $PARTNERS" "threshold = $((PARTNERS / 2 + 1))" \
	"algorithm = newton" "l2 = 1" "validation_split = 0" "max_iterations = $ITER"
LOG=$T/coord/coordinator.log
start_coordinator "$T/coord" --late-policy wait --round-deadline "${DEADLINE}s" \
	--max-connections $((PARTNERS + 16)) || { bad "coordinator starts"; cat "$LOG"; finish; exit 1; }

# The sampler: peak of fedlead_resident_memory_bytes every 0.2 s, and the
# coordinator's CPU time (/proc), until it is gone (or DEADLINE seconds).
"$PY" - "$HTTP_PORT" "$T/peak" "$DEADLINE" "$COORD_PID" <<'PYEOF' &
import os, sys, time, urllib.request
port, out, limit, pid = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
peak, cpu, misses, t0 = 0, 0.0, 0, time.monotonic()
while misses < 10 and time.monotonic() - t0 < limit:
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read()
        for line in body.decode().splitlines():
            if line.startswith("fedlead_resident_memory_bytes{"):
                peak = max(peak, int(line.rsplit(" ", 1)[1]))
        stat = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        misses = 0
        open(out, "w").write("%d %.2f\n" % (peak, cpu))
    except OSError:
        misses += 1
    time.sleep(0.2)
PYEOF
track "$!"

# children_cpu FILE: user + system seconds of every process this script
# has reaped so far (bash's times, run in this shell: a subshell has its
# own children).
children_cpu() {
	times >"$1.times"
	tail -n 1 "$1.times" |
		awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } print s }' >"$1"
}
children_cpu "$T/cpu0"
t1=$SECONDS
nodes=()
for k in $(seq "$PARTNERS"); do
	start_node "p$k" "$T/p$k.csv" --backoff-initial 0.5 --backoff-max 2
	nodes+=("$NODE_PID")
done
check "the coordinator finishes with status 0" wait_pid "$COORD_PID" "$DEADLINE"
echo "federation of $PARTNERS partners: $((SECONDS - t1)) s from starting the nodes"
nok=0
for k in $(seq "$PARTNERS"); do
	if wait_pid "${nodes[$((k - 1))]}" 60 && cmp -s "$T/node-p$k/model.fdl" "$T/coord/model.fdl"; then
		nok=$((nok + 1))
	fi
done
check "all $PARTNERS nodes finish with status 0 holding the coordinator's model" test "$nok" = "$PARTNERS"
children_cpu "$T/cpu1"
echo "$(cat "$T/cpu1") $(cat "$T/cpu0")" | awk '{ printf "%.1f\n", $1 - $2 }' >"$T/cpu"
all_secure() { # at least 3 secure rounds, each over every partner
	[ "$(grep -c "secure sum over $PARTNERS of $PARTNERS partners" "$LOG")" -ge 3 ] &&
		! grep "secure sum over" "$LOG" | grep -vq "over $PARTNERS of $PARTNERS partners"
}
check "every round was a secure sum over all $PARTNERS partners" all_secure
check "no round had to be restarted, no node reconnected" \
	bash -c "! grep -q 'restarting secure aggregation' $LOG && ! grep -q 'reconnecting' $T/node-p*/node.log"
check "the model names all $PARTNERS participants" \
	test "$(jget <(model_json "$T/coord/model.fdl") 'len(j["provenance"]["participants"])')" = "$PARTNERS"

# The statistics round's secure sum, checked against the pooled leads
# counted here: rows, and converted leads (CARAVAN = 1, the last column).
conv=$(awk -F, 'NR > 1 && $NF == 1 { n++ } END { print n + 0 }' "$T/pooled.csv")
check "the secure statistics sum counts $rows rows, $conv converted (the pooled leads)" \
	log_has "$LOG" "statistics: $rows training rows, $conv converted "

# Round times from the log: from the start (or the previous round's sum)
# to each round's recovered secure sum.
"$PY" - "$LOG" "$T/peak" "$PARTNERS" "$T/cpu" <<'PYEOF' | tee "$T/report"
import datetime, re, sys
log, peak, n, cpu = sys.argv[1:5]
def ts(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
start, rounds = None, []
for line in open(log):
    if " starts with " in line:
        start = prev = ts(line)
    m = re.search(r" round (\d+): secure sum over", line)
    if m and start:
        rounds.append((int(m.group(1)), (ts(line) - prev).total_seconds()))
        prev = ts(line)
    if "delivering the model" in line and start:
        total = (ts(line) - start).total_seconds()
print("partners %s" % n)
for r, s in rounds:
    print("round %d: %.2f s" % (r, s))
train = [s for r, s in rounds[1:]]
print("statistics round %.2f s; Newton rounds mean %.2f s, max %.2f s" %
      (rounds[0][1], sum(train) / len(train), max(train)))
print("start to model: %.2f s" % total)
mem, coord_cpu = open(peak).read().split()
print("coordinator peak resident memory: %.1f MB" % (int(mem) / 1e6))
print("CPU: coordinator %.1f s; coordinator and nodes together %s s, start-up and delivery included (%.1f s per round over %d rounds)" %
      (float(coord_cpu), open(cpu).read().strip(), float(open(cpu).read()) / len(rounds),
       len(rounds)))
PYEOF
check "the coordinator's memory was sampled" test -s "$T/peak"
finish
