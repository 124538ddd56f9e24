#!/usr/bin/env bash
# The federated demo on the bundled CoIL 2000 leads: installs what is
# missing, builds, mints a demo CA, splits the leads into three partners of
# unequal size plus a held-out part, runs a coordinator and three nodes on
# 127.0.0.1, and compares the federated model with each partner's
# local-only model on the held-out leads.
# Usage: deploy/demo.sh [--workdir DIR]   (default: ./demo-out)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
workdir=$PWD/demo-out
while [ $# -gt 0 ]; do
	case $1 in
	--workdir) workdir=$2; shift 2 ;;
	--workdir=*) workdir=${1#--workdir=}; shift ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

bash "$src/deploy/install-deps.sh" build
build=${FL_DEMO_BUILD:-$src/build}
# Only the programs: the tests need packages the build mode does not install.
bash "$src/deploy/build.sh" "$build" -DBUILD_TESTING=OFF
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
# A second run starts afresh: the previous federation's state would make the
# coordinator report that it already finished.
rm -rf "$workdir/pki" "$workdir/coordinator" "$workdir"/partner-* "$workdir/logs"
mkdir -p "$workdir/logs"
data=$src/tests/data/coil2000
schema=$data/coil2000.schema.json
bin=$build
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== 1. a demo certificate authority for the federation"
ca=$src/deploy/fedlead-ca
"$ca" init --dir "$workdir/pki/ca" --name "fedlead demo CA" >/dev/null
"$ca" issue --dir "$workdir/pki/ca" --name coordinator --role coordinator \
	--dns localhost --ip 127.0.0.1 --out "$workdir/pki/coordinator" >/dev/null
for p in acme globex initech; do
	"$ca" issue --dir "$workdir/pki/ca" --name "$p" --role partner --out "$workdir/pki/$p" >/dev/null
done
echo "   CA, coordinator and partner certificates in $workdir/pki"

echo "== 2. split the leads: three partners of unequal size and a held-out part"
# Every fifth lead is held out; the rest go 50 % / 30 % / 20 % to the partners.
awk -v dir="$workdir" '
	NR == 1 { h = $0; print h > dir "/holdout.csv";
		  print h > dir "/acme.csv"; print h > dir "/globex.csv"; print h > dir "/initech.csv"; next }
	{ i = NR - 2 }
	i % 5 == 4 { print > dir "/holdout.csv"; next }
	{ k = i % 10; print > dir "/" (k < 5 ? "acme" : k < 8 ? "globex" : "initech") ".csv" }
' "$data/train.csv"
for f in acme globex initech holdout; do
	printf "   %-8s %5d leads\n" "$f" $(($(wc -l <"$workdir/$f.csv") - 1))
done

echo "== 3. coordinator and three partner nodes on 127.0.0.1"
mkdir -p "$workdir/coordinator"
cat >"$workdir/coordinator/coordinator.conf" <<EOF
[federation]
id = coil-demo
schema = $schema
partners = acme, globex, initech
min_partners = 3
algorithm = newton
l2 = auto
validation_split = 0.2

[network]
listen = 127.0.0.1:0
http_listen = 127.0.0.1:0
port_file = $workdir/coordinator/ports

[tls]
ca = $workdir/pki/ca/ca.crt
cert = $workdir/pki/coordinator.crt
key = $workdir/pki/coordinator.key

[state]
state_dir = $workdir/coordinator/state
model_out = $workdir/coordinator/model.fdl
audit_log = $workdir/coordinator/audit.jsonl
EOF
"$bin/fedlead-coordinator" --config "$workdir/coordinator/coordinator.conf" \
	2>"$workdir/logs/coordinator.log" &
coord=$!
pids+=("$coord")
for _ in $(seq 100); do [ -s "$workdir/coordinator/ports" ] && break; sleep 0.1; done
port=$(sed -n 's/^listen=//p' "$workdir/coordinator/ports")
http=$(sed -n 's/^http=//p' "$workdir/coordinator/ports")
echo "   coordinator on port $port, status on http://127.0.0.1:$http/status"
for p in acme globex initech; do
	mkdir -p "$workdir/partner-$p"
	cat >"$workdir/partner-$p/node.conf" <<EOF
[node]
schema = $schema
data = $workdir/$p.csv

[coordinator]
address = 127.0.0.1:$port
server_name = localhost

[tls]
ca = $workdir/pki/ca/ca.crt
cert = $workdir/pki/$p.crt
key = $workdir/pki/$p.key

[state]
model_out = $workdir/partner-$p/model.fdl
audit_log = $workdir/partner-$p/audit.jsonl
EOF
	"$bin/fedlead-node" join --config "$workdir/partner-$p/node.conf" \
		2>"$workdir/logs/$p.log" &
	pids+=("$!")
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
pids=()
if [ $status -ne 0 ]; then
	echo "demo: the federation failed; logs in $workdir/logs:" >&2
	tail -n 20 "$workdir/logs/coordinator.log" >&2
	exit 1
fi
grep -E "l2 = auto chose|training finished|done:" "$workdir/logs/coordinator.log" | sed 's/^[^ ]* /   /'
for p in acme globex initech; do
	cmp -s "$workdir/partner-$p/model.fdl" "$workdir/coordinator/model.fdl" ||
		{ echo "demo: $p's model differs from the coordinator's" >&2; exit 1; }
done
echo "   every partner received the same signed model"

echo "== 4. each partner alone, for comparison"
for p in acme globex initech; do
	"$bin/fedlead-node" train --schema "$schema" --data "$workdir/$p.csv" --l2 auto \
		--validation-split 0.2 --quiet --out "$workdir/partner-$p/local.fdl" >/dev/null
done

echo "== 5. ranking quality on the $(($(wc -l <"$workdir/holdout.csv") - 1)) held-out leads"
row() {
	local json
	json=$("$bin/fedlead-score" --model "$2" --data "$workdir/holdout.csv" --eval --top 100 --json)
	printf "   %-24s" "$1"
	printf "%s" "$json" | tr -d ' \n' |
		sed -E 's/.*"auc":([0-9.]+).*"log_loss":([0-9.]+).*"top_k_positives":([0-9]+).*"lift_at_top_k":([0-9.]+).*/\1 \2 \3 \4/' |
		awk '{ printf "AUC %.4f  log-loss %.4f  top-100 hits %3d  lift %.2fx\n", $1, $2, $3, $4 }'
}
row "federated (3 partners)" "$workdir/coordinator/model.fdl"
for p in acme globex initech; do row "$p alone" "$workdir/partner-$p/local.fdl"; done
"$bin/fedlead-score" --model "$workdir/coordinator/model.fdl" --data "$workdir/holdout.csv" \
	--verify-ca "$workdir/pki/ca/ca.crt" --out "$workdir/scored-holdout.csv" --quiet
echo
echo "signature checked against the demo CA; scored leads: $workdir/scored-holdout.csv"
echo "model: $workdir/coordinator/model.fdl"
