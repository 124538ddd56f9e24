#!/usr/bin/env bash
# The federated demo on the bundled bank-marketing leads: installs what is
# missing, builds, mints a demo CA, splits the leads into three partners by
# customer segment (job group), holds out a quarter of every partner's leads,
# runs a coordinator and three nodes on 127.0.0.1, shows each partner what
# the federated model adds over its local-only model, and writes the
# federated model's HTML report with the same figures (report.html).
# Usage: deploy/demo.sh [--workdir DIR]   (default: ./demo-out)
#   FL_DEMO_BIN=DIR   use the programs already built in DIR (no install, no build)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
workdir=$PWD/demo-out
while [ $# -gt 0 ]; do
	case $1 in
	--workdir) workdir=$2; shift 2 ;;
	--workdir=*) workdir=${1#--workdir=}; shift ;;
	-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

if [ -n "${FL_DEMO_BIN:-}" ]; then
	bin=$FL_DEMO_BIN
else
	bash "$src/deploy/install-deps.sh" build
	build=${FL_DEMO_BUILD:-$src/build}
	# Only the programs: the tests need packages the build mode does not install.
	bash "$src/deploy/build.sh" "$build" -DBUILD_TESTING=OFF
	bin=$build
fi
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
# A second run starts afresh: the previous federation's state would make the
# coordinator report that it already finished.
rm -rf "$workdir/pki" "$workdir/coordinator" "$workdir/coordinator-dp" "$workdir"/partner-* \
	"$workdir/logs" \
	"$workdir"/*.csv "$workdir/comparison.tsv" "$workdir/report.html"
mkdir -p "$workdir/logs"
data=$src/tests/data/bank-marketing
schema=$data/bank.schema.json
dp_schema=$data/bank-dp.schema.json
partners=(acme globex initech)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# await_ports WHAT DIR LOG: the coordinator writes DIR/ports once it
# listens; give it ten seconds.
await_ports() {
	for _ in $(seq 100); do [ -s "$2/ports" ] && return 0; sleep 0.1; done
	echo "demo: $1's coordinator did not start; its log:" >&2
	cat "$3" >&2
	exit 1
}
# await_all WHAT LOG: waits for every process in pids; a failure shows the
# end of the coordinator's log.
await_all() {
	local status=0
	for p in "${pids[@]}"; do wait "$p" || status=1; done
	pids=()
	if [ $status -ne 0 ]; then
		echo "demo: $1 failed; logs in $workdir/logs:" >&2
		tail -n 20 "$2" >&2
		exit 1
	fi
}

echo "== 1. a demo certificate authority for the federation"
ca=$src/deploy/fedlead-ca
"$ca" init --dir "$workdir/pki/ca" --name "fedlead demo CA" >/dev/null
"$ca" issue --dir "$workdir/pki/ca" --name coordinator --role coordinator \
	--dns localhost --ip 127.0.0.1 --out "$workdir/pki/coordinator" >/dev/null
for p in acme globex initech; do
	"$ca" issue --dir "$workdir/pki/ca" --name "$p" --role partner --out "$workdir/pki/$p" >/dev/null
done
echo "   CA, coordinator and partner certificates in $workdir/pki"

echo "== 2. split the leads: three partners by customer segment, a quarter of each held out"
# Partners differ as real ones do: each holds one segment of the bank's
# customers (by job group), in unequal numbers. Every fourth lead of each
# partner is held out for the comparison and never used in training. The
# export is semicolon-separated; fields hold no commas, so it becomes a
# comma-separated file by swapping the separator.
tr ';' ',' <"$data/bank.csv" | awk -F, -v dir="$workdir" '
	NR == 1 { h = $0
		  split("acme globex initech", ps, " ")
		  for (k in ps) { print h > (dir "/" ps[k] ".csv"); print h > (dir "/holdout-" ps[k] ".csv") }
		  print h > (dir "/holdout.csv"); next }
	{ j = $2
	  if (j == "management" || j == "admin." || j == "technician") p = "acme"
	  else if (j == "blue-collar" || j == "services" || j == "housemaid" || j == "entrepreneur") p = "globex"
	  else p = "initech"
	  if (++n[p] % 4 == 0) { print > (dir "/holdout-" p ".csv"); print > (dir "/holdout.csv") }
	  else print > (dir "/" p ".csv") }'
segment() {
	case $1 in
	acme) echo "management, admin., technician" ;;
	globex) echo "blue-collar, services, housemaid, entrepreneur" ;;
	initech) echo "retired, self-employed, student, unemployed, unknown" ;;
	esac
}
leads() { echo $(($(wc -l <"$1") - 1)); }
for p in "${partners[@]}"; do
	printf "   %-8s %5d leads for training, %4d held out  (%s)\n" "$p" \
		"$(leads "$workdir/$p.csv")" "$(leads "$workdir/holdout-$p.csv")" "$(segment "$p")"
done

echo "== 3. coordinator and three partner nodes on 127.0.0.1"
mkdir -p "$workdir/coordinator"
cat >"$workdir/coordinator/coordinator.conf" <<EOF
[federation]
id = bank-demo
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
await_ports "the federation" "$workdir/coordinator" "$workdir/logs/coordinator.log"
port=$(sed -n 's/^listen=//p' "$workdir/coordinator/ports")
http=$(sed -n 's/^http=//p' "$workdir/coordinator/ports")
echo "   coordinator on port $port, status on http://127.0.0.1:$http/status"
for p in acme globex initech; do
	mkdir -p "$workdir/partner-$p"
	cat >"$workdir/partner-$p/node.conf" <<EOF
[node]
schema = $schema
data = $workdir/$p.csv
federation = bank-demo

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
await_all "the federation" "$workdir/logs/coordinator.log"
grep -E "l2 = auto chose|training finished|done:" "$workdir/logs/coordinator.log" | sed 's/^[^ ]* /   /'
for p in acme globex initech; do
	cmp -s "$workdir/partner-$p/model.fdl" "$workdir/coordinator/model.fdl" ||
		{ echo "demo: $p's model differs from the coordinator's" >&2; exit 1; }
done
echo "   every partner received the same signed model"

# The same partners again, under differential privacy: every node adds
# noise under the masks to what it releases, within its own budget of
# epsilon 1 (delta 1e-6), and keeps its own ledger. A private federation
# cannot tune l2 on the data without spending budget, so it runs a fixed
# plan: the statistics round and 4 Newton steps at l2 = 1 on all training
# leads. Its schema adds the clip ranges that bound each lead's
# contribution (bank-dp.schema.json).
echo "   the same partners under differential privacy (epsilon 1 per partner):"
dp=$workdir/coordinator-dp
mkdir -p "$dp"
sed -e "s#^id = bank-demo#id = bank-demo-dp#" -e "s#^schema = .*#schema = $dp_schema#" \
	-e "s#^l2 = auto#l2 = 1\nmax_iterations = 4\nprivacy = on#" \
	-e "s#^validation_split = .*#validation_split = 0#" -e "s#$workdir/coordinator/#$dp/#g" \
	-e "s#^http_listen = .*#http_listen = 127.0.0.1:0#" \
	"$workdir/coordinator/coordinator.conf" >"$dp/coordinator.conf"
rm -f "$dp/ports"
"$bin/fedlead-coordinator" --config "$dp/coordinator.conf" 2>"$workdir/logs/coordinator-dp.log" &
pids+=("$!")
await_ports "the private federation" "$dp" "$workdir/logs/coordinator-dp.log"
dport=$(sed -n 's/^listen=//p' "$dp/ports")
for p in "${partners[@]}"; do
	mkdir -p "$workdir/partner-$p/dp"
	sed -e "s#^schema = .*#schema = $dp_schema#" -e "s#^federation = .*#federation = bank-demo-dp#" \
		-e "s#^address = .*#address = 127.0.0.1:$dport#" \
		-e "s#$workdir/partner-$p/#$workdir/partner-$p/dp/#g" \
		"$workdir/partner-$p/node.conf" >"$workdir/partner-$p/dp/node.conf"
	printf '\n[privacy]\nprivacy_epsilon = 1\nprivacy_delta = 1e-6\nprivacy_releases = 5\n' \
		>>"$workdir/partner-$p/dp/node.conf"
	"$bin/fedlead-node" join --config "$workdir/partner-$p/dp/node.conf" \
		2>"$workdir/logs/$p-dp.log" &
	pids+=("$!")
done
await_all "the private federation" "$workdir/logs/coordinator-dp.log"
"$bin/fedlead-node" inspect "$dp/model.fdl" | grep -F "differential privacy" | sed 's/^/   /'

echo "== 4. each partner alone, trained the same way"
# Like with like: the local models choose l2 exactly as the federation did
# (on a 20 % validation split of the training rows) and are fitted on the
# same 80 %.
for p in "${partners[@]}"; do
	"$bin/fedlead-node" train --schema "$schema" --data "$workdir/$p.csv" --l2 auto \
		--validation-split 0.2 --quiet --out "$workdir/partner-$p/local.fdl" >/dev/null
done
"$bin/fedlead-score" --model "$workdir/coordinator/model.fdl" --data "$workdir/holdout.csv" \
	--verify-ca "$workdir/pki/ca/ca.crt" --out "$workdir/scored-holdout.csv" --quiet
echo "   the federated model's signature checks against the demo CA"

echo "== 5. what federation is worth to each partner, on leads no model saw"
# eval MODEL DATA: "AUC LOG_LOSS HITS ROWS CONVERTED" with HITS the converted
# leads among the best-scored tenth of DATA.
eval_model() {
	local n=$(($(leads "$2") / 10))
	"$bin/fedlead-score" --model "$1" --data "$2" --eval --top "$n" --json | tr -d ' \n' |
		sed -E 's/.*"rows":([0-9]+),"positives":([0-9]+),"auc":([0-9.]+),"log_loss":([0-9.]+).*"top_k_positives":([0-9]+).*/\3 \4 \5 \1 \2/'
}
# 95 % interval of an AUC from its standard error (Hanley and McNeil, 1982).
ci() {
	awk -v a="$1" -v np="$2" -v nn="$3" 'BEGIN {
		q1 = a / (2 - a); q2 = 2 * a * a / (1 + a)
		se = sqrt((a * (1 - a) + (np - 1) * (q1 - a * a) + (nn - 1) * (q2 - a * a)) / (np * nn))
		printf "%.3f-%.3f", a - 1.96 * se, a + 1.96 * se }'
}
tsv=$workdir/comparison.tsv
printf "partner\tleads\tmodel\trows\tconverted\tauc\tlog_loss\ttop10_hits\n" >"$tsv"
echo "   Protocol: every model chose l2 on a 20 % validation split of its training"
echo "   leads and was fitted on the other 80 %; the federated model saw all three"
echo "   partners' training leads, each local model only its own partner's. The"
echo "   fed+DP model is the private federation's (epsilon 1 per partner, l2 = 1,"
echo "   fitted on all training leads): its noise differs from run to run."
echo
printf "   %-8s %-24s %-10s %-6s %-13s %-8s %s\n" partner "held-out leads" model AUC "95% interval" log-loss "top-10% hits"
summary=()
for p in "${partners[@]}"; do
	for set in own all; do
		if [ $set = own ]; then f=$workdir/holdout-$p.csv; else f=$workdir/holdout.csv; fi
		read -r la ll lh rows pos <<<"$(eval_model "$workdir/partner-$p/local.fdl" "$f")"
		read -r fa fl fh _ _ <<<"$(eval_model "$workdir/coordinator/model.fdl" "$f")"
		read -r da dl dh _ _ <<<"$(eval_model "$dp/model.fdl" "$f")"
		row() { # row PARTNER WHAT MODEL AUC LOG_LOSS HITS
			printf "   %-8s %-24s %-10s %.4f %-13s %.4f   %4d of %d\n" "$1" "$2" "$3" "$4" \
				"$(ci "$4" "$pos" $((rows - pos)))" "$5" "$6" $((rows / 10))
		}
		row "$p" "$set: $rows ($pos conv.)" local "$la" "$ll" "$lh"
		row "" "" federated "$fa" "$fl" "$fh"
		row "" "" fed+DP "$da" "$dl" "$dh"
		printf "%s\t%s\tlocal\t%s\t%s\t%s\t%s\t%s\n" "$p" $set "$rows" "$pos" "$la" "$ll" "$lh" >>"$tsv"
		printf "%s\t%s\tfederated\t%s\t%s\t%s\t%s\t%s\n" "$p" $set "$rows" "$pos" "$fa" "$fl" "$fh" >>"$tsv"
		printf "%s\t%s\tfederated_dp\t%s\t%s\t%s\t%s\t%s\n" "$p" $set "$rows" "$pos" "$da" "$dl" "$dh" >>"$tsv"
		summary+=("$(awk -v p="$p" -v set=$set -v rows="$rows" -v pos="$pos" -v la="$la" -v fa="$fa" \
			-v ll="$ll" -v fl="$fl" -v lh="$lh" -v fh="$fh" -v n=$((rows / 10)) 'BEGIN {
			d = fh - lh
			if (d > 0) hits = sprintf("%d more converted lead%s", d, d == 1 ? "" : "s")
			else if (d < 0) hits = sprintf("%d fewer converted lead%s", -d, d == -1 ? "" : "s")
			else hits = "as many converted leads"
			where = set == "own" ? "its own" : "all partners\047"
			printf "%s, on %s %d held-out leads (%d converted): AUC %+.4f (%.4f -> %.4f), log-loss %+.4f, %s in its top 10 %% (%d -> %d of %d)",
			       p, where, rows, pos, fa - la, la, fa, fl - ll, hits, lh, fh, n }')")
	done
done
echo
echo "   With the federated model instead of its local one:"
for line in "${summary[@]}"; do echo "   - $line"; done
echo
echo "   Intervals are 95 % for each AUC alone (Hanley-McNeil); both models are scored"
echo "   on the same leads, so a difference is more certain than overlapping"
echo "   intervals suggest. Figures: $tsv"

echo "== 6. the federated model's report, with what federation added"
# fedlead-score computes the panel itself from the models and held-out
# files, the same figures as the table above.
compare=()
for p in "${partners[@]}"; do
	compare+=(--compare "$p=$workdir/partner-$p/local.fdl:$workdir/holdout-$p.csv")
done
"$bin/fedlead-score" --model "$workdir/coordinator/model.fdl" --data "$workdir/holdout.csv" \
	--verify-ca "$workdir/pki/ca/ca.crt" --eval --quiet --report "$workdir/report.html" \
	"${compare[@]}" --compare-dp "$dp/model.fdl" >/dev/null
echo "   report: $workdir/report.html (its \"What federation added\" panel is for the partners)"

echo "== 7. a new lead scored the moment it arrives: the scoring service"
# acme serves the federated model it received, checked against the
# federation's CA, with deciles against its own training leads; its CRM
# posts a new lead and routes it by the answer. Stopped by its PID.
rm -f "$workdir/logs/serve.port"
"$bin/fedlead-score" serve --model "$workdir/partner-acme/model.fdl" \
	--verify-ca "$workdir/pki/ca/ca.crt" --reference "$workdir/acme.csv" \
	--listen 127.0.0.1:0 --port-file "$workdir/logs/serve.port" \
	>"$workdir/logs/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 100); do [ -s "$workdir/logs/serve.port" ] && break; sleep 0.1; done
[ -s "$workdir/logs/serve.port" ] ||
	{ echo "demo: the scoring service did not start; its log:" >&2; cat "$workdir/logs/serve.log" >&2; exit 1; }
serve_port=$(sed -n 's/^http=//p' "$workdir/logs/serve.port")
lead='{"age": 41, "job": "management", "marital": "married", "education": "tertiary",
 "default": "no", "balance": 2890, "housing": "no", "loan": "no", "contact": "cellular",
 "day": 14, "month": "oct", "campaign": 1, "pdays": -1, "previous": 0, "poutcome": "unknown"}'
echo "   fedlead-score serve on http://127.0.0.1:$serve_port (the federated model, signature verified)"
echo "   curl -H 'Content-Type: application/json' -d '{\"age\": 41, \"job\": \"management\", ...}' \\"
echo "        'http://127.0.0.1:$serve_port/v1/score?direction=both'"
answer=$(curl -sS --fail-with-body -H 'Content-Type: application/json' -d "$lead" \
	"http://127.0.0.1:$serve_port/v1/score?direction=both") ||
	{ echo "demo: the scoring service refused the lead: $answer" >&2; exit 1; }
printf '%s\n' "$answer" | sed 's/^/   /'
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
echo "model: $workdir/coordinator/model.fdl"
