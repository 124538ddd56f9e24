#!/usr/bin/env bash
# Hostile peers against a running coordinator, while two honest partners
# train (secure aggregation, Newton, late_policy = wait with a generous
# deadline). Each attack must be refused with its reason in the log, and
# must neither stop the federation nor make the coordinator's memory grow:
#   (a) slowloris: a TCP connection that sends nothing, and one that
#       dribbles a TLS record one byte at a time: closed at hello_timeout
#   (b) TLS completed with a valid allow-listed certificate ("spare", which
#       no honest partner uses), then silence: closed at hello_timeout
#   (c) the same certificate, then garbage: one frame of random bytes, and
#       a frame header of an HTTP request line
#   (d) the same certificate, a frame header claiming 4 GiB (0xFFFFFFFF)
#       followed by a stream of 1 MiB: refused on the header alone
#   (e) raw bytes instead of TLS: the handshake fails
#   (f) 500 connections at once that never authenticate (half silent, half
#       stuck in the middle of a TLS record), against max_connections =
#       200 (and the pre-Hello and per-address limits as high, so that
#       max_connections is the one met; netlimits.sh tests those): every
#       one is refused or timed out, connections_open never
#       exceeds 200, resident memory stays below the baseline + 50 MB, and
#       descriptors and connections come back to the honest two.
# Memory is the coordinator's own figure, fedlead_resident_memory_bytes in
# /metrics (from /proc/self/statm).
. "$(dirname "$0")/lib/fed.bash"
need_fault_points

HELLO_TIMEOUT=5
MAX_CONN=200
MEM_BUDGET=$((50 * 1024 * 1024))

pki p1 p2 spare
split_coil 2
coordinator_conf "$T/coord/coordinator.conf" "p1, p2, spare" "min_partners = 2" \
	"algorithm = newton" "l2 = 1" "validation_split = 0"
LOG=$T/coord/coordinator.log
start_coordinator "$T/coord" --late-policy wait --round-deadline 150s --start-wait 0.3s \
	--hello-timeout "${HELLO_TIMEOUT}s" --max-connections "$MAX_CONN" \
	--max-preauth-connections "$MAX_CONN" --max-connections-per-address "$MAX_CONN" ||
	{ bad "coordinator starts"; cat "$LOG"; finish; exit 1; }
start_node p1 "$T/p1.csv" --min-partners 2 # two partners: lowered explicitly
n1=$NODE_PID
# p2 stops itself once training is under way (see below).
FEDLEAD_FAULT=pause@key_advert@3 start_node p2 "$T/p2.csv" --min-partners 2
n2=$NODE_PID

# The attacker, standard library only. Every mode prints "local PORT" (so
# the coordinator's log line can be tied to this very connection) and how
# the connection ended.
cat >"$T/hostile.py" <<'PYEOF'
import os, socket, ssl, sys, threading, time

mode, port = sys.argv[1], int(sys.argv[2])
args = sys.argv[3:]


def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default


def wait_close(s, secs):
    """Reads until the peer closes; prints how long that took."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < secs:
        try:
            if not s.recv(65536):
                print("closed by peer after %.1f s" % (time.monotonic() - t0))
                return
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError) as e:
            print("closed by peer after %.1f s (%s)" % (time.monotonic() - t0, e))
            return
    print("still open after %g s" % secs)


def tcp():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("local %d" % s.getsockname()[1], flush=True)
    return s


if mode == "idle":                  # TCP, nothing sent
    wait_close(tcp(), float(opt("--wait", 12)))
elif mode == "dribble":             # a TLS handshake record, one byte per 0.3 s
    s = tcp()
    t0 = time.monotonic()
    record = bytes.fromhex("160301020001") + os.urandom(512)
    try:
        for b in record:
            s.sendall(bytes([b]))
            time.sleep(0.3)
            if time.monotonic() - t0 > 12:
                break
        print("sent everything: not closed")
    except OSError as e:
        print("closed by peer after %.1f s (%s)" % (time.monotonic() - t0, e))
elif mode == "raw":                 # raw bytes where TLS is expected
    s = tcp()
    s.sendall(bytes.fromhex(opt("--send")))
    wait_close(s, 12)
elif mode == "tls":                 # TLS with a certificate, then --send HEX, --stream N
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(opt("--ca"))
    ctx.load_cert_chain(opt("--cert"), opt("--key"))
    s = ctx.wrap_socket(tcp(), server_hostname="localhost")
    print("handshake ok", flush=True)
    s.sendall(bytes.fromhex(opt("--send", "")))
    sent, stream = 0, int(opt("--stream", 0))
    try:
        while sent < stream:
            s.sendall(b"\0" * 16384)
            sent += 16384
    except (OSError, ssl.SSLError):
        pass
    print("streamed %d of %d bytes" % (sent, stream))
    wait_close(s, float(opt("--wait", 12)))
elif mode == "flood":               # N connections at once, held
    # Meanwhile a thread samples the coordinator's /metrics every 0.1 s
    # (--http PORT) and keeps the peaks of open connections and memory.
    import urllib.request
    n, hold, http = int(opt("--n")), float(opt("--hold")), opt("--http")
    peak, stop = {"connections_open": 0, "resident_memory_bytes": 0}, threading.Event()

    def sample():
        while not stop.is_set():
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % http,
                                              timeout=5).read().decode()
                for line in body.splitlines():
                    for k in peak:
                        if line.startswith("fedlead_%s{" % k):
                            peak[k] = max(peak[k], int(line.rsplit(" ", 1)[1]))
            except OSError:
                pass
            stop.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    socks, failed = [], 0
    t0 = time.monotonic()
    for i in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            failed += 1
            continue
        if i % 2:
            # The start of a ClientHello: the server waits for the rest.
            s.sendall(bytes.fromhex("1603010200010001fc0303") + os.urandom(16))
        socks.append(s)
    print("connected %d in %.1f s, connect failed %d" % (len(socks), time.monotonic() - t0,
                                                          failed), flush=True)
    # Wait for the coordinator to close every one (refused at once, or at
    # hello_timeout); whatever is still open after HOLD seconds is counted.
    live = set(range(len(socks)))
    for s in socks:
        s.setblocking(False)
    while live and time.monotonic() - t0 < hold:
        for i in list(live):
            try:
                if not socks[i].recv(65536):
                    live.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                live.discard(i)
        time.sleep(0.1)
    stop.set()
    sampler.join()
    print("closed by peer %d, still open %d" % (len(socks) - len(live), len(live)))
    print("peak connections_open %d" % peak["connections_open"])
    print("peak resident_memory_bytes %d" % peak["resident_memory_bytes"])
    for s in socks:
        s.close()
PYEOF
H=("$PY" "$T/hostile.py")
TLS_SPARE=(--ca "$T/pki/ca/ca.crt" --cert "$T/pki/spare.crt" --key "$T/pki/spare.key")
lport() { sed -n 's/^local //p' "$1"; }

# metrics: a snapshot of the coordinator's gauges in $T/metrics ("name
# value" lines); metric NAME reads one from it.
metrics() {
	"$PY" - "$HTTP_PORT" >"$T/metrics" <<'PYEOF'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read()
for line in body.decode().splitlines():
    if line.startswith("fedlead_"):
        print(line.split("{", 1)[0][8:], line.rsplit(" ", 1)[1])
PYEOF
}
metric() { sed -n "s/^$1 //p" "$T/metrics"; }
fds() { ls "/proc/$COORD_PID/fd" | wc -l; }

# Once training is under way p2 stops itself, just after advertising its
# keys for round 3 (FEDLEAD_FAULT=pause@key_advert@3): under late_policy =
# wait the federation waits for it, so every attack meets it mid-training.
must "the honest federation trains: p2 pauses in round 3" \
	wait_paused 60 "$n2" "$T/node-p2/node.log" key_advert@3
phase() { jget <(http_get /status | tail -n +3) 'j["phase"]'; }
check "the federation is mid-training while p2 is paused" test "$(phase)" = training
metrics
mem0=$(metric resident_memory_bytes)
rej0=$(metric rejected_connections_total)
fd0=$(fds)
echo "baseline: resident memory $mem0 bytes, $fd0 descriptors, $(metric connections_open) connections"

# (a) slowloris, both kinds, and (b) a valid certificate then silence, all
# at once.
"${H[@]}" idle "$PORT" >"$T/a1.out" &
a1=$!
"${H[@]}" dribble "$PORT" >"$T/a2.out" &
a2=$!
"${H[@]}" tls "$PORT" "${TLS_SPARE[@]}" >"$T/b.out" &
b=$!
wait "$a1" "$a2" "$b"
cat "$T/a1.out" "$T/a2.out" "$T/b.out"
check "(a) silent TCP: closed at hello_timeout, named in the log" \
	log_has "$LOG" "127\.0\.0\.1:$(lport "$T/a1.out"): no hello within $HELLO_TIMEOUT s; closing"
check "(a) silent TCP: the client saw the close well before its own 12 s" \
	grep -q "^closed by peer" "$T/a1.out"
check "(a) dribbling TLS record: closed at hello_timeout, named in the log" \
	log_has "$LOG" "127\.0\.0\.1:$(lport "$T/a2.out"): no hello within $HELLO_TIMEOUT s; closing"
check "(a) dribbling TLS record: the client was cut off" grep -q "^closed by peer" "$T/a2.out"
check "(b) silent after TLS: closed at hello_timeout, named with its identity" \
	log_has "$LOG" "127\.0\.0\.1:$(lport "$T/b.out") spare: no hello within $HELLO_TIMEOUT s; closing"
check "(b) the client saw the close" grep -q "^closed by peer" "$T/b.out"

# (c) valid certificate, then garbage: a 64-byte frame of 0xff (an
# undecodable protobuf), and "GET / HTTP/1.1" read as a frame length.
"${H[@]}" tls "$PORT" "${TLS_SPARE[@]}" --send "00000040$(printf 'ff%.0s' $(seq 64))" >"$T/c1.out"
"${H[@]}" tls "$PORT" "${TLS_SPARE[@]}" --send "$(printf 'GET / HTTP/1.1\r\n\r\n' | od -An -tx1 | tr -d ' \n')" >"$T/c2.out"
cat "$T/c1.out" "$T/c2.out"
check "(c) a frame of garbage: refused as malformed, connection closed" \
	log_has "$LOG" "peer spare: .*; closing the connection from 127\.0\.0\.1:$(lport "$T/c1.out")$"
check "(c) an HTTP request: refused by its 'length', connection closed" \
	log_has "$LOG" "peer spare: frame of 1195725856 bytes exceeds the limit of 65536 bytes \(from 127\.0\.0\.1:$(lport "$T/c2.out")\); closing"
check "(c) both clients were closed at once, not at hello_timeout" \
	bash -c "! grep -q 'spare: no hello' <(grep -E ':($(lport "$T/c1.out")|$(lport "$T/c2.out"))' $LOG)"

# (d) 4 GiB announced, then 1 MiB streamed behind it.
"${H[@]}" tls "$PORT" "${TLS_SPARE[@]}" --send ffffffff --stream 1048576 >"$T/d.out"
cat "$T/d.out"
check "(d) 4 GiB frame header: refused by its length before any allocation" \
	log_has "$LOG" "peer spare: frame of 4294967295 bytes exceeds the limit of 65536 bytes \(from 127\.0\.0\.1:$(lport "$T/d.out")\); closing"
check "(d) the client was cut off" grep -q "^closed by peer" "$T/d.out"

# (e) a frame header of 4 GiB in plain TCP, where TLS is expected.
"${H[@]}" raw "$PORT" --send "ffffffff$(printf '00%.0s' $(seq 64))" >"$T/e.out"
check "(e) raw bytes instead of TLS: the handshake fails, named in the log" \
	log_has "$LOG" "TLS handshake with 127\.0\.0\.1:$(lport "$T/e.out") failed: "
check "(e) the client saw the close" grep -q "^closed by peer" "$T/e.out"
metrics
echo "after (a)-(e): resident memory $(metric resident_memory_bytes) bytes"
check "(a)-(e) no memory taken for them (< baseline + 50 MB)" \
	test "$(metric resident_memory_bytes)" -lt $((mem0 + MEM_BUDGET))

# (f) 500 at once; the flood samples /metrics while they are open.
rej1=$(metric rejected_connections_total)
count_log() { grep -cF -- "$1" "$LOG" || true; }
MAXC="refusing a connection: $MAX_CONN connections open (max_connections)"
NOHELLO=": no hello within $HELLO_TIMEOUT s; closing"
refused0=$(count_log "$MAXC")
nohello0=$(count_log "$NOHELLO")
"${H[@]}" flood "$PORT" --n 500 --hold 30 --http "$HTTP_PORT" >"$T/f.out"
cat "$T/f.out"
refused=$(($(count_log "$MAXC") - refused0))
nohello=$(($(count_log "$NOHELLO") - nohello0))
peak_conns=$(sed -n 's/^peak connections_open //p' "$T/f.out")
peak_mem=$(sed -n 's/^peak resident_memory_bytes //p' "$T/f.out")
echo "flood: peak $peak_conns connections open, peak resident memory $peak_mem bytes" \
	"(baseline $mem0, +$(((peak_mem - mem0) / 1024)) KiB); $refused refused at" \
	"max_connections, $nohello closed at hello_timeout"
check "(f) all 500 connected, and the coordinator closed every one" \
	grep -q "^closed by peer 500, still open 0" "$T/f.out"
check "(f) each was refused (max_connections) or timed out (no hello), with a log line" \
	test "$((refused + nohello))" -eq 500
check "(f) some were refused at max_connections" test "$refused" -gt 0
check "(f) open connections never exceeded max_connections ($MAX_CONN)" \
	test "$peak_conns" -gt 2 -a "$peak_conns" -le "$MAX_CONN"
check "(f) resident memory stayed below the baseline + 50 MB" \
	test "$peak_mem" -gt 0 -a "$peak_mem" -lt $((mem0 + MEM_BUDGET))
conns_back() { metrics && test "$(metric connections_open)" = 2; }
check "(f) afterwards only the two honest connections are open" wait_for 10 conns_back
check "(f) the refusals are counted in rejected_connections_total" \
	test "$(($(metric rejected_connections_total) - rej1))" -ge 500
check "(f) ... and no descriptor leaked" test "$(fds)" -le "$fd0"
echo "after the attacks: resident memory $(metric resident_memory_bytes) bytes," \
	"$(fds) descriptors, $(($(metric rejected_connections_total) - rej0)) rejected in all"

check "the federation is still training after the attacks" test "$(phase)" = training
check "p2 resumes" resume "$n2" "$T/node-p2/node.log" key_advert@3
check "coordinator finishes with status 0" wait_pid "$COORD_PID" 120
check "node p1 finishes with status 0" wait_pid "$n1" 30
check "node p2 finishes with status 0" wait_pid "$n2" 30
check "p1 and p2 hold the coordinator's signed model" \
	bash -c "cmp -s $T/node-p1/model.fdl $T/coord/model.fdl && cmp -s $T/node-p2/model.fdl $T/coord/model.fdl"
check "the model's participants are exactly p1 and p2" \
	test "$(jget <(model_json "$T/coord/model.fdl") '",".join(sorted(j["provenance"]["participants"]))')" = "p1,p2"
check "no attacker joined" bash -c "! grep -Eq 'partner spare joined' $LOG"
finish
