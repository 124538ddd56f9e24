# Federations with and without differential privacy on a held-out split, for
# the utility test (tests/e2e/dp_utility.sh) and its benchmark
# (bench/dp_utility.sh). Sourced after lib/fed.bash, whose pki,
# coordinator_conf, start_coordinator, start_node and wait_pid it uses.

# split_holdout CSV: every 4th lead of CSV (data rows 4, 8, ...) into
# $T/test.csv, the others into three partner files $T/p1.csv .. $T/p3.csv
# of unequal size (the split_coil rule on what is left). The header goes
# to every file. Semicolons become commas, as deploy/demo.sh does (the
# bank file's export; no field of the bundled files holds a semicolon).
split_holdout() {
	tr ';' ',' <"$1" | awk -v dir="$T" '
		NR == 1 { for (k = 1; k <= 3; k++) print > (dir "/p" k ".csv"); print > (dir "/test.csv"); next }
		(NR - 1) % 4 == 0 { print > (dir "/test.csv"); next }
		{ k = 1 + int((m % 10) * 3 / 10); m++; print > (dir "/p" k ".csv") }
	'
}

# dp_federation DIR EPSILON [STEPS]: a federation of p1..p3 on the split
# (schema $FED_SCHEMA, also given to the nodes), secure aggregation 3 of 3,
# l2 = 1, no validation part. EPSILON 0: without differential privacy,
# Newton to convergence. Otherwise privacy = on with a plan of STEPS
# evaluations (max_iterations = STEPS; without STEPS max_iterations is not
# set, and the coordinator takes plan v7's 4), and every node spends
# privacy_epsilon = EPSILON (delta 1e-6) over exactly those releases. The
# model is DIR/model.fdl; returns non-zero when a process did not finish
# with 0.
dp_federation() {
	local dir=$1 eps=$2 steps=${3:-4} k rc=0 pids=() flags=() iter=()
	[ -z "${3:-}" ] || iter=("max_iterations = $3")
	if [ "$eps" = 0 ]; then
		coordinator_conf "$dir/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
			"algorithm = newton" "l2 = 1" "validation_split = 0"
	else
		coordinator_conf "$dir/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
			"algorithm = newton" "l2 = 1" "validation_split = 0" \
			"${iter[@]}" "privacy = on"
		flags=(--privacy-epsilon "$eps" --privacy-delta 1e-6 --privacy-releases "$((steps + 1))")
	fi
	start_coordinator "$dir" || return 1
	for k in 1 2 3; do
		NODE_HOME=$dir NODE_SCHEMA=$FED_SCHEMA start_node "p$k" "$T/p$k.csv" "${flags[@]}"
		pids+=("$NODE_PID")
	done
	wait_pid "$COORD_PID" 300 || rc=$?
	for k in 0 1 2; do wait_pid "${pids[$k]}" 60 || rc=$?; done
	return "$rc"
}

# holdout_metrics MODEL: "AUC LOG-LOSS" of MODEL on $T/test.csv, by
# fedlead-score --eval.
holdout_metrics() {
	"$FL_BIN/fedlead-score" --model "$1" --data "$T/test.csv" --eval --json --quiet |
		"$PY" -c 'import json, sys; j = json.load(sys.stdin); print("%.6f %.6f" % (j["auc"], j["log_loss"]))'
}
