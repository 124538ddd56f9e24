#!/usr/bin/env bash
# Hostile and misconfigured peers are refused, each with its reason in the
# coordinator's log, while an honest two-partner federation runs on to its
# signed model:
#   (a) no client certificate        (b) a certificate from another CA
#   (c) an expired certificate       (d) a revoked certificate (coordinator has the CRL)
#   (e) a valid certificate not on the allow-list
#   (f) a partner whose schema differs by one category value
#   (g) an allow-listed peer announcing a 4 GiB frame before its hello
#   (h) an allow-listed peer that never says hello
#   (i) a partner presenting the coordinator's (server-only) certificate
# A message from a past round is covered by the unit tests (test_fed.c).
. "$(dirname "$0")/lib/fed.bash"
need_fault_points

PEER=("$PY" "$FL_SRC/tests/tools/fedpeer.py")
CA=$T/pki/ca/ca.crt

# Allow-listed: the honest p1 and p2, and identities only the hostile peers
# use ("spare" for valid-certificate attacks, "old" revoked, "late" expired),
# so no attack takes an honest partner's seat. Quorum 2: training starts
# with p1 and p2 after start_wait.
pki p1 p2 spare old stranger
"$CA_TOOL" issue --dir "$T/pki/ca" --name late --role partner --start 20200101000000Z \
	--end 20210101000000Z --out "$T/pki/late" >/dev/null
"$CA_TOOL" revoke --dir "$T/pki/ca" --cert "$T/pki/old.crt" >/dev/null
# A second CA that mints a certificate in an honest partner's name.
"$CA_TOOL" init --dir "$T/pki/evil" --name "evil CA" >/dev/null
"$CA_TOOL" issue --dir "$T/pki/evil" --name p2 --role partner --out "$T/pki/evil-p2" >/dev/null
# The agreed schema with one category value changed.
"$PY" - "$SCHEMA" "$T/other.schema.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
for f in s["features"]:
    if f["type"] == "categorical":
        f["values"][-1] = 9999 if isinstance(f["values"][-1], int) else "changed"
        break
json.dump(s, open(sys.argv[2], "w"), indent=1)
PYEOF
split_coil 2

coordinator_conf "$T/coord/coordinator.conf" "p1, p2, spare, old, late" "min_partners = 2" \
	"algorithm = fedavg" "rounds = 60" "local_epochs = 10" "local_batch = 32" "l2 = 10" \
	"validation_split = 0.2"
LOG=$T/coord/coordinator.log
start_coordinator "$T/coord" --crl "$T/pki/ca/crl.pem" --late-policy wait \
	--round-deadline 60s --start-wait 0.5s --hello-timeout 2s ||
	{ bad "coordinator starts"; cat "$LOG"; finish; exit 1; }
start_node p1 "$T/p1.csv" --min-partners 2 # two partners: lowered explicitly
n1=$NODE_PID
# Once training is under way p2 stops itself, just after advertising its
# keys for round 4 (FEDLEAD_FAULT=pause@key_advert@4): under late_policy =
# wait with a generous deadline the federation waits for it, so every
# attack below meets a federation in the middle of training.
FEDLEAD_FAULT=pause@key_advert@4 start_node p2 "$T/p2.csv" --min-partners 2
n2=$NODE_PID
must "the honest federation trains: p2 pauses in round 4" \
	wait_paused 60 "$n2" "$T/node-p2/node.log" key_advert@4
phase() { jget <(http_get /status | tail -n +3) 'j["phase"]'; }
check "the federation is mid-training while p2 is paused" test "$(phase)" = training

# Each attack runs as its own client; the coordinator's log must carry the
# refusal with its reason, tied to the attacker's connection where it can be.
# hostile_node NAME CERT-PREFIX: a fedlead-node with that certificate, which
# must stop by itself with a failure (give_up_after only guards the test).
hostile_node() {
	local name=$1 prefix=$2 st=0
	NODE_CERT=$prefix.crt NODE_KEY=$prefix.key start_node "$name" "$T/p1.csv" \
		--give-up-after 20
	wait_pid "$NODE_PID" 30 || st=$?
	[ "$st" -ne 0 ] && [ "$st" -ne 124 ] && ! log_has "$T/node-$name/node.log" "giving up"
}
refused_cert() { # refused_cert NAME ALERT: the node says why it stopped
	log_has "$T/node-$1/node.log" "coordinator 127\.0\.0\.1:$PORT refused this node's certificate: $2"
}

# (a) No client certificate: TLS 1.3 refuses it at the end of the handshake.
"${PEER[@]}" --port "$PORT" --ca "$CA" >"$T/a.out"
check "(a) no certificate: refused in the handshake" \
	wait_for 10 log_has "$LOG" "TLS handshake with 127\.0\.0\.1:[0-9]+ failed: .*peer did not return a certificate"
check "(a) the client sees the refusal, no frame" grep -q "error: \|closed by peer" "$T/a.out"

# (b) Another CA's certificate in p2's name: p2 itself is not disturbed.
check "(b) another CA: the node stops" hostile_node evil "$T/pki/evil-p2"
check "(b) another CA: refused as an untrusted certificate" \
	log_has "$LOG" "TLS handshake with .* failed: client certificate refused: unable to get local issuer certificate"
check "(b) another CA: the node is told why" refused_cert evil "tlsv1 alert unknown ca"

# (c) Expired.
check "(c) expired: the node stops" hostile_node late "$T/pki/late"
check "(c) expired: refused as expired" \
	log_has "$LOG" "TLS handshake with .* failed: client certificate refused: certificate has expired"
check "(c) expired: the node is told why" refused_cert late "sslv3 alert certificate expired"

# (d) Revoked, and the coordinator has the CRL.
check "(d) revoked: the node stops" hostile_node old "$T/pki/old"
check "(d) revoked: refused as revoked" \
	log_has "$LOG" "TLS handshake with .* failed: client certificate refused: certificate revoked"
check "(d) revoked: the node is told why" refused_cert old "sslv3 alert certificate revoked"

# (e) Valid certificate, identity not on the allow-list.
check "(e) not allowed: the node stops" hostile_node stranger "$T/pki/stranger"
check "(e) not allowed: refused after its hello" \
	log_has "$LOG" 'rejected partner stranger: partner "stranger" is not on the allow-list'
check "(e) not allowed: the node is told why" \
	log_has "$T/node-stranger/node.log" 'refused this partner: partner "stranger" is not on the allow-list'

# (f) Allow-listed, but a schema with one category value changed.
other_schema() { NODE_SCHEMA=$T/other.schema.json hostile_node spare "$T/pki/spare"; }
check "(f) other schema: the node stops" other_schema
check "(f) other schema: refused for its fingerprint" \
	log_has "$LOG" "rejected partner spare: schema fingerprint differs from the federation's"
check "(f) other schema: the node is told why" \
	log_has "$T/node-spare/node.log" "refused this partner: schema fingerprint differs"

# (g) Allow-listed peer, valid certificate, announcing a frame of 2^32 - 1
# bytes before its hello: refused on the length alone, connection closed.
"${PEER[@]}" --port "$PORT" --ca "$CA" --cert "$T/pki/spare.crt" --key "$T/pki/spare.key" \
	--send-hex ffffffff >"$T/g.out"
check "(g) huge frame: refused by its length before any allocation" \
	log_has "$LOG" "peer spare: frame of 4294967295 bytes exceeds the limit of 65536 bytes \(from 127\.0\.0\.1:[0-9]+\); closing"
check "(g) huge frame: the coordinator closed the connection" grep -q "closed by peer\|error:" "$T/g.out"
check "(g) huge frame: nothing was sent back" bash -c "! grep -q '^received' $T/g.out"

# (h) Allow-listed peer that connects and never says hello.
"${PEER[@]}" --port "$PORT" --ca "$CA" --cert "$T/pki/spare.crt" --key "$T/pki/spare.key" \
	--wait 10 >"$T/h.out"
check "(h) no hello: closed after hello_timeout" \
	log_has "$LOG" "127\.0\.0\.1:[0-9]+ spare: no hello within 2 s; closing"
check "(h) no hello: the client saw the close well before its own 10 s" grep -q "closed by peer" "$T/h.out"

# (i) The coordinator's own certificate (serverAuth only) used as a client.
"${PEER[@]}" --port "$PORT" --ca "$CA" --cert "$T/pki/coordinator.crt" \
	--key "$T/pki/coordinator.key" >"$T/i.out"
check "(i) server certificate as a client: refused for its purpose" \
	wait_for 10 log_has "$LOG" "failed: client certificate refused: unsuitable certificate purpose"

check "the federation is still training after the attacks" test "$(phase)" = training
check "p2 resumes" resume "$n2" "$T/node-p2/node.log" key_advert@4
check "coordinator finishes with status 0" wait_pid "$COORD_PID" 90
check "node p1 finishes with status 0" wait_pid "$n1" 30
check "node p2 finishes with status 0" wait_pid "$n2" 30
check "p1 holds the coordinator's signed model" cmp -s "$T/node-p1/model.fdl" "$T/coord/model.fdl"
model_json "$T/coord/model.fdl" >"$T/model.json"
check "the model's participants are exactly p1 and p2" \
	test "$(jget "$T/model.json" '",".join(sorted(j["provenance"]["participants"]))')" = "p1,p2"
check "no attacker joined" bash -c "! grep -Eq 'partner (spare|old|late|stranger|evil) joined' $LOG"
check "the audit log records the rejections" \
	test "$(grep -c '"event": *"reject"' "$T/coord/audit.jsonl")" -ge 6
check "no sanitizer report in any log" sanitizer_clean
finish
