#!/usr/bin/env bash
# A federation over a slow, lossy network: the coordinator and three nodes
# each in a network namespace of their own, every packet between them
# delayed 50 ms and 1 % of them lost, and the model equals the same
# federation's on loopback, bit for bit.
#
# The kernel of this machine has no sch_netem ("tc qdisc ... netem":
# unknown qdisc kind), so the link is emulated in user space instead: each
# namespace gets a TUN device, and one process (the "wire", below) carries
# the IP packets between them, holding each for 50 ms and dropping 1 % (a
# seeded random draw). TCP in the kernels does its real work: slow start,
# retransmission, reordering of nothing. Addresses are 10.213.0.0/24, on
# the TUN devices of the namespaces this test creates, and nothing else:
# no packet of the test leaves them (the wire only reads and writes its
# TUN descriptors). The namespaces are deleted on exit, always.
#
# The coordinator's certificate is issued for its namespace address
# (fedlead-ca issue --ip 10.213.0.1), and the nodes verify it by that IP.
# A smaller schema (16 numeric columns) keeps each message to a few
# packets, so the run takes seconds, not minutes, at 100 ms a round trip.
# Where namespaces or TUN devices cannot be made the test cannot run: it
# exits 77 (ctest: skipped), saying why.
. "$(dirname "$0")/lib/fed.bash"

NS=flnet$$
SPACES=("$NS-c" "$NS-n1" "$NS-n2" "$NS-n3")
ADDRS=(10.213.0.1 10.213.0.11 10.213.0.12 10.213.0.13)
COORD_ADDR=${ADDRS[0]}
made=()
# On exit, once every process in them is gone (cleanup in lib/fed.bash).
del_namespaces() {
	local n rc=0
	for n in "${made[@]}"; do ip netns del "$n" || rc=1; done
	return $rc
}
CLEANUP+=(del_namespaces)

skip() { skip_all "$1; the network test did not run"; }
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip command (iproute2)"
for n in "${SPACES[@]}"; do
	ip netns add "$n" 2>"$T/netns.err" || skip "cannot make network namespaces ($(cat "$T/netns.err"))"
	made+=("$n")
	ip -n "$n" link set lo up
done

# The wire: TUN device "flw0" in every namespace, packets carried between
# them by destination address, each held DELAY seconds, LOSS of them
# dropped. Writes READY once the devices exist; on SIGTERM (or after
# LIFETIME seconds) writes its counts to STATS and ends.
cat >"$T/wire.py" <<'PYEOF'
import ctypes, fcntl, heapq, os, random, select, signal, struct, sys, time

ready, stats, delay, loss, lifetime = sys.argv[1], sys.argv[2], float(sys.argv[3]), \
    float(sys.argv[4]), float(sys.argv[5])
pairs = [a.split("=") for a in sys.argv[6:]]          # NAMESPACE=ADDRESS
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET, TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x40000000, 0x400454CA, 0x0001, 0x1000


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


home = os.open("/proc/self/ns/net", os.O_RDONLY)
by_addr = {}
for ns, addr in pairs:
    nsfd = os.open("/run/netns/" + ns, os.O_RDONLY)
    setns(nsfd)
    # A TUN device belongs to the namespace its descriptor was opened in.
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", b"flw0", IFF_TUN | IFF_NO_PI))
    setns(home)
    os.close(nsfd)
    by_addr[bytes(int(x) for x in addr.split("."))] = tun
open(ready, "w").write("ok\n")

rng = random.Random(1)
queue, seq = [], 0
count = {"forwarded": 0, "dropped": 0, "other": 0}
start = time.monotonic()
fds = list(by_addr.values())
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while not stop and time.monotonic() - start < lifetime:
    now = time.monotonic()
    timeout = min(0.5, max(0.0, queue[0][0] - now)) if queue else 0.5
    try:
        ready_fds = select.select(fds, [], [], timeout)[0]
    except InterruptedError:
        continue
    for fd in ready_fds:
        pkt = os.read(fd, 65536)
        dst = by_addr.get(pkt[16:20]) if len(pkt) >= 20 and pkt[0] >> 4 == 4 else None
        if dst is None:
            count["other"] += 1      # IPv6 chatter, or no such address: nowhere to go
        elif rng.random() < loss:
            count["dropped"] += 1
        else:
            seq += 1
            heapq.heappush(queue, (time.monotonic() + delay, seq, dst, pkt))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, dst, pkt = heapq.heappop(queue)
        os.write(dst, pkt)
        count["forwarded"] += 1
with open(stats + ".tmp", "w") as f:
    f.write(" ".join("%s %d" % kv for kv in count.items()) + "\n")
os.rename(stats + ".tmp", stats)
PYEOF
wire_args=()
for i in 0 1 2 3; do wire_args+=("${SPACES[$i]}=${ADDRS[$i]}"); done
"$PY" "$T/wire.py" "$T/wire.ready" "$T/wire.stats" 0.05 0.01 170 "${wire_args[@]}" 2>"$T/wire.err" &
WIRE=$!
track "$WIRE"
while ! [ -s "$T/wire.ready" ]; do
	alive "$WIRE" || skip "cannot make TUN devices ($(cat "$T/wire.err"))"
	sleep 0.05
done
for i in 0 1 2 3; do
	ip -n "${SPACES[$i]}" addr add "${ADDRS[$i]}/24" dev flw0
	ip -n "${SPACES[$i]}" link set flw0 up
done

pki p1 p2 p3
"$CA_TOOL" issue --dir "$T/pki/ca" --name coordinator-ns --role coordinator --ip "$COORD_ADDR" \
	--out "$T/pki/coordinator-ns" >/dev/null
split_coil 3
# The schema: the first 16 numeric columns; every other column ignored.
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
SETTINGS=("min_partners = 3" "algorithm = newton" "l2 = 1" "validation_split = 0")
FLAGS=(--late-policy wait --round-deadline 120s)

# The loopback run, in the background meanwhile.
(
	set -e
	coordinator_conf "$T/lo/coordinator.conf" "p1, p2, p3" "${SETTINGS[@]}"
	start_coordinator "$T/lo" "${FLAGS[@]}"
	nodes=()
	for k in 1 2 3; do
		NODE_HOME=$T/lo start_node "p$k" "$T/p$k.csv"
		nodes+=("$NODE_PID")
	done
	wait_pid "$COORD_PID" 150
	for p in "${nodes[@]}"; do wait_pid "$p" 30; done
	echo ok >"$T/lo.done"
) >"$T/lo.out" 2>&1 &
lo_job=$!
track "$lo_job"

# The namespaced run. in_ns SPACE COMMAND...: runs it in that namespace.
in_ns() { ip netns exec "$@"; }
D=$T/ns
coordinator_conf "$D/coordinator.conf" "p1, p2, p3" "${SETTINGS[@]}"
in_ns "${SPACES[0]}" "$FL_BIN/fedlead-coordinator" --config "$D/coordinator.conf" "${FLAGS[@]}" \
	--listen "$COORD_ADDR:0" --cert "$T/pki/coordinator-ns.crt" --key "$T/pki/coordinator-ns.key" \
	2>>"$D/coordinator.log" &
COORD_PID=$!
track "$COORD_PID"
must "the coordinator starts in its namespace" wait_for 20 test -s "$D/ports"
PORT=$(sed -n 's/^listen=//p' "$D/ports")

# The link is slow: a TCP handshake from a node's namespace takes at least
# one emulated round trip (2 x 50 ms).
rtt=$(in_ns "${SPACES[1]}" "$PY" -c 'import socket, sys, time
t = time.monotonic()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
print("%.3f" % (time.monotonic() - t))
s.close()' "$COORD_ADDR" "$PORT" || echo 0)
echo "TCP connect from ${SPACES[1]} to $COORD_ADDR:$PORT: $rtt s"
check "a TCP handshake across the wire takes at least the emulated 100 ms" le 0.1 "$rtt"

t0=$SECONDS
nodes=()
for k in 1 2 3; do
	mkdir -p "$D/node-p$k"
	in_ns "${SPACES[$k]}" "$FL_BIN/fedlead-node" join --schema "$NODE_SCHEMA" --data "$T/p$k.csv" \
		--address "$COORD_ADDR:$PORT" --federation test-federation \
		--ca "$T/pki/ca/ca.crt" --cert "$T/pki/p$k.crt" \
		--key "$T/pki/p$k.key" --model-out "$D/node-p$k/model.fdl" \
		--audit-log "$D/node-p$k/audit.jsonl" --backoff-initial 0.2 --backoff-max 1 \
		2>>"$D/node-p$k/node.log" &
	nodes+=("$!")
	track "$!"
done
check "the coordinator in its namespace finishes with status 0" wait_pid "$COORD_PID" 150
for k in 1 2 3; do
	check "node p$k in its namespace finishes with status 0" wait_pid "${nodes[$((k - 1))]}" 30
	check "node p$k holds the coordinator's model" cmp -s "$D/node-p$k/model.fdl" "$D/model.fdl"
done
echo "namespaced federation: $((SECONDS - t0)) s, $(grep -c "secure sum over" "$D/coordinator.log") rounds"
check "the nodes verified the coordinator by its namespace address" \
	log_has "$D/node-p1/node.log" "joined federation test-federation as p1"
# The wire writes its counts when told to stop.
kill -TERM "$WIRE"
wire_st=0
wait "$WIRE" || wire_st=$?
check "the wire ends on SIGTERM with status 0, its counts written" \
	test "$wire_st" = 0 -a -s "$T/wire.stats"
cat "$T/wire.stats" "$T/wire.err"
wire_count() { sed -n "s/.*$1 \([0-9]*\).*/\1/p" "$T/wire.stats"; }
check "the traffic went through the wire" test "$(wire_count forwarded)" -gt 200
check "the wire dropped packets on the way (1 %)" test "$(wire_count dropped)" -gt 0

lo_st=0
wait "$lo_job" || lo_st=$?
if ! check "the loopback federation finishes" test "$lo_st" = 0 -a -e "$T/lo.done"; then
	sed 's/^/     loopback: /' "$T/lo.out"
fi
weights "$D/model.fdl" >"$T/w-ns"
weights "$T/lo/model.fdl" >"$T/w-lo"
check "the model equals the loopback run's, bit for bit" cmp -s "$T/w-ns" "$T/w-lo"
finish
