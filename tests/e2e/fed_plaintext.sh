#!/usr/bin/env bash
# What leaves a partner's site, read from the frames themselves: every node
# runs with --dump-dir (each frame it sends, before TLS), and an independent
# decoder written from proto/wire.proto (tests/tools/framedump.py) checks:
#   - every frame is well formed and the dump is complete (it matches the
#     node's audit log frame by frame);
#   - a node sends only hello, update and status messages;
#   - every update's value count is one of the layouts fixed by the schema
#     dimension d and the histogram bins, never the number of leads;
#   - the same federation run twice, once with partner p1 holding only half
#     of its leads, sends exactly the same sequence of (round, type, kind,
#     value count, frame size) from every partner: nothing in the shape of
#     the traffic depends on how many leads a partner has.
# With secure aggregation (when the coordinator has it) the same holds for
# its messages, and no plain update is sent at all.
. "$(dirname "$0")/lib/fed.bash"

DUMP=("$PY" "$FL_SRC/tests/tools/framedump.py")
BINS=50
pki p1 p2 p3
split_coil 3
mkdir -p "$T/full" "$T/half"
mv "$T"/p[123].csv "$T/full/"
cp "$T/full/p2.csv" "$T/full/p3.csv" "$T/half/"
n1=$(($(wc -l <"$T/full/p1.csv") - 1))
head -n $((1 + n1 / 2)) "$T/full/p1.csv" >"$T/half/p1.csv"
echo "p1 holds $n1 leads in the full run, $((n1 / 2)) in the half run"

# d from the schema as the README defines the encoding: the intercept, one
# column per numeric feature (two with impute), one per category value plus
# one for "other".
D=$("$PY" - "$SCHEMA" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
d = 1
for f in s["features"]:
    if f["type"] == "numeric":
        d += 2 if f.get("missing") == "impute" else 1
    else:
        d += len(f["values"]) + (1 if f.get("other") else 0)
print(d)
PYEOF
)
echo "schema dimension d = $D, histogram bins $BINS"

SECURE=0
# grep reads all of --help (no -q): with pipefail, a grep that stops at the
# first match can leave the coordinator writing into a closed pipe (SIGPIPE).
"$FL_BIN/fedlead-coordinator" --help | grep secure.aggregation >/dev/null && SECURE=1
PLAIN=()
[ "$SECURE" = 1 ] && PLAIN=("secure_aggregation = off")

decode() { "${DUMP[@]}" "$1/node-$2/dump" >"$1/$2.jsonl"; }

run() { # run NAME DATA-DIR SETTINGS...: a 3-partner federation, dumps decoded
	local name=$1 data=$2 k
	shift 2
	coordinator_conf "$T/$name/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
		"validation_split = 0.2" "hist_bins = $BINS" "l2 = 1" "$@"
	start_coordinator "$T/$name" || { bad "$name: coordinator starts"; return 0; }
	local nodes=() policy=()
	# A plaintext federation: the nodes' policy must allow it explicitly.
	[[ " $* " == *"secure_aggregation = off"* ]] &&
		policy=(--require-secure-aggregation no --allow-plaintext-updates yes)
	for k in 1 2 3; do
		NODE_HOME=$T/$name start_node "p$k" "$data/p$k.csv" \
			--dump-dir "$T/$name/node-p$k/dump" "${policy[@]}"
		nodes+=("$NODE_PID")
	done
	check "$name: coordinator finishes with status 0" wait_pid "$COORD_PID" 90
	for k in 1 2 3; do
		wait_pid "${nodes[$((k - 1))]}" 30 || bad "$name: node p$k finishes with status 0"
		check "$name: p$k's frames decode (framedump)" decode "$T/$name" "p$k"
	done
}

# analyse NAME ALLOWED-TYPES: per-node checks on one run's decoded frames.
analyse() {
	"$PY" - "$T/$1" "$2" "$D" "$BINS" "$n1" <<'PYEOF'
import json, re, sys
run, allowed, d, bins, n1 = sys.argv[1], set(sys.argv[2].split(",")), *map(int, sys.argv[3:])
valid = 3 + 2 * bins
layouts = {  # README "What a partner discloses", src/fedmsg.c
    "stats": {2 + 3 * d},
    "eval": {1 + d + d * (d + 1) // 2 + valid, 1 + d + valid},
    "fedavg": {2 + d + valid},
}
fails = []
for k in (1, 2, 3):
    frames = [json.loads(l) for l in open("%s/p%d.jsonl" % (run, k))]
    sent = [json.loads(l) for l in open("%s/node-p%d/audit.jsonl" % (run, k))]
    sent = [e for e in sent if e.get("event") == "send"]
    log = open("%s/node-p%d/node.log" % (run, k)).read()
    m = re.search(r"trained on (\d+) local rows \((\d+) held out", log)
    rows = {int(m.group(1)), int(m.group(2)), int(m.group(1)) + int(m.group(2))} if m else set()
    who = "p%d" % k
    if not m:
        fails.append("%s: no row counts in its log" % who)
    if [f["seq"] for f in frames] != list(range(1, len(frames) + 1)):
        fails.append("%s: dump files are not numbered 1..n" % who)
    if [(f["type"], f["bytes"]) for f in frames] != [(e["type"], e["bytes"]) for e in sent]:
        fails.append("%s: the dump does not match the audit log's sends (%d frames, %d sends)"
                     % (who, len(frames), len(sent)))
    if not frames or frames[0]["type"] != "hello":
        fails.append("%s: the first frame is not a hello" % who)
    fps = {f.get("fingerprint") for f in frames}
    if len(fps) != 1:
        fails.append("%s: frames carry %d different schema fingerprints" % (who, len(fps)))
    for f in frames:
        if f["type"] != f["name_type"]:
            fails.append("%s: %s is named %s" % (who, f["file"], f["name_type"]))
        if f["type"] not in allowed:
            fails.append("%s: sent a %s message (%s)" % (who, f["type"], f["file"]))
        if "n_values" in f:
            if f["n_values"] not in layouts.get(f["kind"], ()):
                fails.append("%s: %s update with %d values; layouts for d=%d: %s"
                             % (who, f["kind"], f["n_values"], d, sorted(layouts.get(f["kind"], ()))))
            if f["n_values"] in rows:
                fails.append("%s: an update has as many values as the partner has rows" % who)
        if f["type"] == "status" and f["detail"]:
            fails.append("%s: status with text %r" % (who, f["detail"]))
    kinds = sorted({f.get("kind") for f in frames if "kind" in f})
    print("%s: %d frames, types %s, update kinds %s" % (
        who, len(frames), ",".join(sorted({f["type"] for f in frames})), ",".join(kinds)))
for f in fails[:20]:
    print("  " + f)
sys.exit(1 if fails else 0)
PYEOF
}

# same_shape A B: every partner sent the same (round, type, kind, count, size)
# sequence in runs A and B (the sizes of signed key adverts, share sets,
# survivor-set signatures and unmask replies aside).
same_shape() {
	"$PY" - "$T/$1" "$T/$2" <<'PYEOF'
import json, sys
def shape(run, k):
    # A key advert's, a share set's (its signed share commitments, protocol
    # 3), a survivor-set signature's and an unmask reply's (signed, protocol
    # 4) size vary by a byte or two per DER-encoded ECDSA signature,
    # whatever the data: their sizes are left out.
    return [(f.get("round"), f["type"], f.get("kind"), f.get("n_values"),
             None if f["type"] in ("key_advert", "share_set", "consistency_signature",
                                   "unmask_reply")
             else f["bytes"])
            for f in map(json.loads, open("%s/p%d.jsonl" % (run, k)))]
ok = True
for k in (1, 2, 3):
    a, b = shape(sys.argv[1], k), shape(sys.argv[2], k)
    if a != b:
        ok = False
        diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        print("p%d: %d vs %d frames, first difference at frame %d: %s vs %s" % (
            k, len(a), len(b), diff + 1, a[diff] if diff < len(a) else None,
            b[diff] if diff < len(b) else None))
sys.exit(0 if ok else 1)
PYEOF
}

rows_differ() { # p1 really trained on fewer leads in the half run
	local a b
	a=$(sed -n 's/.*trained on \([0-9]*\) local rows.*/\1/p' "$T/$1/node-p1/node.log")
	b=$(sed -n 's/.*trained on \([0-9]*\) local rows.*/\1/p' "$T/$2/node-p1/node.log")
	echo "p1 trained on $a rows in $1, $b in $2"
	[ -n "$a" ] && [ -n "$b" ] && [ "$b" -lt "$a" ]
}

run newton "$T/full" "algorithm = newton" "${PLAIN[@]}"
check "newton: only hello, update and status; update sizes fixed by d" \
	analyse newton hello,update,status

run fedavg-full "$T/full" "algorithm = fedavg" "rounds = 4" "local_epochs = 1" "${PLAIN[@]}"
run fedavg-half "$T/half" "algorithm = fedavg" "rounds = 4" "local_epochs = 1" "${PLAIN[@]}"
check "fedavg (full): only hello, update and status; update sizes fixed by d" \
	analyse fedavg-full hello,update,status
check "fedavg (half): only hello, update and status; update sizes fixed by d" \
	analyse fedavg-half hello,update,status
check "p1 trained on fewer leads in the half run" rows_differ fedavg-full fedavg-half
check "traffic shape identical with p1 holding half its leads (fedavg)" \
	same_shape fedavg-full fedavg-half

if [ "$SECURE" = 1 ]; then
	SA=hello,key_advert,share_set,masked_update,consistency_signature,unmask_reply,status
	run secure-full "$T/full" "algorithm = fedavg" "rounds = 4" "local_epochs = 1" \
		"secure_aggregation = on"
	run secure-half "$T/half" "algorithm = fedavg" "rounds = 4" "local_epochs = 1" \
		"secure_aggregation = on"
	check "secure (full): no plain update; masked update sizes fixed by d" \
		analyse secure-full "$SA"
	check "secure (half): no plain update; masked update sizes fixed by d" \
		analyse secure-half "$SA"
	check "traffic shape identical with p1 holding half its leads (secure)" \
		same_shape secure-full secure-half
else
	echo "(this coordinator has no secure aggregation: plaintext protocol only)"
fi
check "no sanitizer report in any log" sanitizer_clean
finish
