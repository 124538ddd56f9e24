#!/usr/bin/env bash
# The row-reconstruction attack of issue 11, against what a coordinator
# legitimately receives. Three stock nodes hold the CoIL split (split_coil
# 3); deviant_coord (tests/tools/deviant_coord.c) plays the stock
# coordinator's first two rounds without any deviation ("honest-newton":
# the statistics, the standardisation from them, one Newton evaluation with
# the Hessian at w = 0) and records each unmasked sum (--record).
# tests/tools/hessian_attack.py then rebuilds every lead that is the only
# one with some category value from the Hessian's column of that value
# (x = H[:, j] / H[j, j]), decodes it with the standardisation, and counts
# the rebuilt leads equal to a row of the partners' CSVs in all 85 fields
# and the label.
#   (a) without differential privacy it rebuilds every such lead exactly:
#       the expected leads are computed here from the CSVs alone (rows whose
#       value of some categorical feature no other row has), not from the
#       attack: 15 leads on this split, the issue review's count; and it
#       still does with a little noise (sd 0.003) added to the sum;
#   (b) with privacy_epsilon = 1, and (c) with privacy_epsilon = 8, on every
#       node (privacy_releases = 4, the plan of 4 Newton steps the
#       coordinator announces), the same attack on the noised sums, even
#       told which columns hold one lead, rebuilds no lead exactly; each
#       node audited the release it noised, the noise the attack measures
#       in the sum is theirs, and the test prints how close the attack got
#       (the fraction of fields right, beside a guess from the statistics
#       alone).
. "$(dirname "$0")/lib/fed.bash"
# The schema with the clip ranges that a node under differential privacy
# requires for its statistics round (CoIL's data dictionary; no lead falls
# outside them, so the encoding is the plain schema's).
SCHEMA=$FL_DATA/coil2000/coil2000-dp.schema.json

DEV=${DEVIANT_COORD:-$FL_BIN/tests/deviant_coord}
ATTACK=$FL_SRC/tests/tools/hessian_attack.py
[ -x "$DEV" ] || { bad "no $DEV: build the test tools (BUILD_TESTING)"; finish; exit 1; }

pki p1 p2 p3
split_coil 3
CSVS=("$T/p1.csv" "$T/p2.csv" "$T/p3.csv")

# The leads alone with some category value, from the CSVs and the schema
# only: FILE:LINE, one a line, sorted, into $T/alone; the number of such
# category values (one-hot columns) into $T/alone-columns. Only values the
# schema lists: an unlisted value is encoded as the feature's "other", so
# a lead alone there could not be rebuilt with its own value (CoIL's
# files have none).
"$PY" - "$T/alone-columns" "$SCHEMA" "${CSVS[@]}" >"$T/alone" <<'PYEOF'
import collections, csv, json, sys
schema = json.load(open(sys.argv[2]))
rows, columns = [], 0
for p in sys.argv[3:]:
    with open(p, newline="") as f:
        r = csv.DictReader(f)
        rows += [("%s:%d" % (p, r.line_num), rec) for rec in r]
alone = set()
for fe in schema["features"]:
    if fe["type"] != "categorical":
        continue
    vals = [rec[fe["name"]] if rec[fe["name"]] in fe["values"] else None for _, rec in rows]
    n = collections.Counter(vals)
    alone |= {rows[i][0] for i, v in enumerate(vals) if n[v] == 1 and v is not None}
    columns += sum(1 for v, k in n.items() if k == 1 and v is not None)
print("\n".join(sorted(alone)))
open(sys.argv[1], "w").write("%d\n" % columns)
PYEOF
expected=$(wc -l <"$T/alone")
columns=$(cat "$T/alone-columns")
echo "     leads alone with some category value in the partners' CSVs: $expected" \
	"(in $columns category values)"
# The split holds the whole CoIL training file (every row is in one
# partner's file): the issue's review found 15 such leads in it.
must "the CSVs hold the 15 leads alone with some category value of the issue's review" \
	test "$expected" = 15

# play NAME LABEL [NODE FLAGS...]: deviant_coord honest-newton against
# p1..p3 with these flags, recording into $T/NAME/sums.jsonl; sets D.
# LABEL starts the name of each check.
play() {
	local name=$2 k
	D=$T/$1
	shift 2
	mkdir -p "$D"
	local rel=()
	[ $# -eq 0 ] || rel=(--privacy-releases 4)
	"$DEV" --attack honest-newton --partners 3 --schema "$SCHEMA" --ca "$T/pki/ca/ca.crt" \
		--cert "$T/pki/coordinator.crt" --key "$T/pki/coordinator.key" \
		--dump-dir "$D/dump" --record "$D/sums.jsonl" "${rel[@]}" \
		>"$D/deviant.out" 2>"$D/deviant.log" &
	DEV_PID=$!
	track "$DEV_PID"
	if ! wait_log 30 "$D/deviant.out" '^listening on 127\.0\.0\.1:[0-9]+$' "$DEV_PID"; then
		bad "$name deviant_coord listens"
		finish
		exit 1
	fi
	PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$D/deviant.out")
	local pids=()
	for k in 1 2 3; do
		NODE_HOME=$D start_node "p$k" "$T/p$k.csv" "$@"
		pids+=("$NODE_PID")
	done
	check "$name deviant_coord played the two rounds" \
		wait_log 120 "$D/deviant.out" '^attack honest-newton: played$' "$DEV_PID"
	# Without differential privacy the statistics' first value is the
	# number of rows; under it, the statistics may be noised too.
	local rows='-?[0-9.e+-]+' what=
	[ $# -gt 0 ] || { rows=5822; what=" (5822 rows)"; }
	check "$name it unmasked the statistics$what and the evaluation" \
		bash -c "grep -Eqx 'round 1: sum\\[0\\] = $rows' '$D/deviant.out' &&
			grep -q '^round 2: sum' '$D/deviant.out'"
	for k in 0 1 2; do
		wait_pid "${pids[$k]}" 60 || true # each ends on the Reject; its status is not the point
	done
	kill "$DEV_PID" 2>/dev/null || true
	wait_pid "$DEV_PID" 10 || true
}

# attack NAME [FLAGS...]: the attack on $T/NAME's record; its summary in
# $T/NAME/attack.json, its report printed.
attack() {
	local st=0 name=$1
	shift
	"$PY" "$ATTACK" --record "$T/$name/sums.jsonl" --schema "$SCHEMA" --whole-numbers \
		--summary "$T/$name/attack.json" "$@" "${CSVS[@]}" >"$T/$name/attack.out" 2>&1 || st=$?
	sed 's/^/     /' "$T/$name/attack.out"
	return $st
}
A() { jget "$T/$1/attack.json" "j$2"; }

# ---- (a) no differential privacy: every lone lead rebuilt ----
play plain "(a)"
must "(a) the attack runs on the record" attack plain
check "(a) no noise: entries that are zero without it are zero" \
	test "$(A plain '["noise_sd"]')" = 0.0
check "(a) the Hessian's diagonal names the $columns columns of one lead, and no other" \
	test "$(A plain '["by_hessian"]')" = "$columns" -a "$(A plain '["true_candidates"]')" = "$columns"
check "(a) it rebuilds $expected leads exactly" test "$(A plain '["rebuilt_exactly"]')" = "$expected"
check "(a) ... and they are the leads alone with some category value" \
	"$PY" -c 'import json, sys
a = json.load(open(sys.argv[1]))["exact"]
b = open(sys.argv[2]).read().split()
sys.exit(0 if sorted(a) == sorted(b) else 1)' "$T/plain/attack.json" "$T/alone"
check "(a) with every field right (not by rounding: each numeric value within 1e-6 of a whole number)" \
	le "$(A plain '["largest_distance_from_whole"]')" 1e-6

# The attack is not brittle: with Gaussian noise of sd 0.003 added to every
# value of the evaluation's sum (a fixed seed; every numeric field then
# lands within about 0.15 of its whole number, 0.5 would round it wrong),
# it still rebuilds them all. At sd 0.01 it rebuilds 14 or 15, at 0.03 a
# few, at 0.1 none. Under differential privacy below the noise is tens of
# thousands of times larger.
"$PY" - "$T/plain/sums.jsonl" "$T/small-noise/sums.jsonl" <<'PYEOF'
import json, os, random, sys
random.seed(11)
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        e = json.loads(line)
        if e["kind"] == "eval":
            e["values"] = [v + random.gauss(0, 0.003) for v in e["values"]]
        out.write(json.dumps(e) + "\n")
PYEOF
check "(a) with noise of sd 0.003 the attack runs" attack small-noise --oracle
check "(a) ... and still rebuilds the $expected leads exactly" \
	test "$(A small-noise '["rebuilt_exactly"]')" = "$expected"

# ---- (b), (c) privacy_epsilon = 1, then 8, on every node: none rebuilt ----
for part in "b 1" "c 8"; do
	eps=${part#* }
	n=eps$eps
	L="(${part% *}) epsilon $eps:"
	play "$n" "$L" --privacy-epsilon "$eps" --privacy-delta 1e-6 --privacy-releases 4
	for k in 1 2 3; do
		check "$L p$k audited the noise it added to round 2" "$PY" - \
			"$T/$n/node-p$k/audit.jsonl" "$T/$n/sigma2-p$k" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
r = [e for e in ev if e["event"] == "privacy_release" and e["round"] == 2]
# Each block of the release (loss, gradient, Hessian) has its own noise;
# the attack reads the Hessian.
h = [b for b in r[0]["blocks"] if b["block"] == "hessian"] if r else []
if h:
    print("     Hessian sigma^2 %.6g (sensitivity %.6g, %d honest partners)" %
          (h[0]["sigma2"], h[0]["sensitivity"], r[0]["honest_partners"]))
    open(sys.argv[2], "w").write(repr(h[0]["sigma2"]))
sys.exit(0 if len(r) == 1 and len(h) == 1 and
         r[0]["mechanism"] == "distributed discrete Gaussian" else 1)
PYEOF
	done
	# --oracle: the attack is also told the columns of one lead, in case
	# the noise hides them; it then works on each of them.
	if ! check "$L the attack runs on the record" attack "$n" --oracle; then
		continue
	fi
	check "$L it worked on the $columns columns of one lead" \
		test "$(A "$n" '["true_candidates"]')" = "$columns"
	check "$L it rebuilds no lead exactly" test "$(A "$n" '["rebuilt_exactly"]')" = 0
	# What the attacker measured is the nodes' noise: the sum carries the
	# three nodes' noise, sd sqrt(sum of their sigma^2), within 10 % (the
	# estimate is from some 1,700 values, its own error about 2 %).
	check "$L the noise it measured is the three nodes' (sd within 10 %)" "$PY" -c '
import math, sys
want = math.sqrt(sum(float(open(p).read()) for p in sys.argv[2:]))
got = float(sys.argv[1])
print("     noise sd measured %.4g, from the audited sigma^2 %.4g" % (got, want))
sys.exit(0 if abs(got - want) <= 0.1 * want else 1)' "$(A "$n" '["noise_sd"]')" \
		"$T/$n"/sigma2-p{1,2,3}
done
stop_mine
check "no sanitizer report in any log" sanitizer_clean
finish
