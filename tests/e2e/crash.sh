#!/usr/bin/env bash
# kill -9 in every phase of a secure round, and the model is still exactly
# the uninterrupted run's.
#
# Three partners, Newton, l2 fixed, no validation split: training is
# deterministic, and secure aggregation, though its masks are random,
# recovers sums that are exact in fixed point, so every crash below must
# end in weights bit-identical to the uninterrupted run's.
#
# The kills come from the fault-injection hook (FEDLEAD_FAULT=STEP@ROUND:
# the process SIGKILLs itself at that point), so each lands exactly in the
# phase named, without racing the protocol:
#   coordinator: stats@1 (statistics task sent), keys@K (key list sent),
#                shares@K (shares forwarded), masked@K (unmask request
#                sent), unmask@K (every reveal in, before unmasking);
#                restarted with the same configuration and port, it resumes
#                from its last checkpoint and the nodes reconnect by
#                themselves;
#   node p3:     key_advert@K, share_set@K, masked_update@K, unmask_reply@K
#                (just after sending that message); restarted, it rejoins
#                and, under late_policy = wait, the round starts again with
#                fresh keys for everyone.
# K = 3, a Newton round; max_iterations = 3 keeps runs short (stopping
# before convergence makes the comparison only stricter). The reference
# and the nine cases run JOBS (5) at a time: they mostly wait on round
# trips. CASES="..." runs a subset (e.g. CASES="ref keys").
. "$(dirname "$0")/lib/fed.bash"
need_fault_points

K=3
CASES=${CASES:-ref stats keys shares masked unmask key_advert share_set masked_update unmask_reply}
SETTINGS=("min_partners = 3" "algorithm = newton" "l2 = 1" "validation_split = 0"
	"max_iterations = 3")
FLAGS=(--late-policy wait --round-deadline 90s --start-wait 30s)

pki p1 p2 p3
# 1500 leads in three unequal slices keep a federation to a few seconds.
head -n 1501 "$COIL" >"$T/small.csv"
COIL=$T/small.csv split_coil 3

# federation NAME: a coordinator and p1..p3 in $T/NAME, started with
# FEDLEAD_FAULT=$CFAULT (coordinator) and $NFAULT (p3) when set; pids in
# COORD_PID and NODES.
federation() {
	local D=$T/$1 k
	coordinator_conf "$D/coordinator.conf" "p1, p2, p3" "${SETTINGS[@]}"
	FEDLEAD_FAULT=${CFAULT:-} start_coordinator "$D" "${FLAGS[@]}" || return 1
	NODES=()
	for k in 1 2 3; do
		FEDLEAD_FAULT=$([ "$k" = 3 ] && echo "${NFAULT:-}") NODE_HOME=$D \
			start_node "p$k" "$T/p$k.csv"
		NODES+=("$NODE_PID")
	done
}

# finished NAME: the coordinator and all three nodes end with status 0, and
# every node holds the coordinator's model.
finished() {
	local D=$T/$1 k ok=0
	wait_pid "$COORD_PID" 120 || ok=1
	for k in 0 1 2; do wait_pid "${NODES[$k]}" 30 || ok=1; done
	for k in 1 2 3; do cmp -s "$D/node-p$k/model.fdl" "$D/model.fdl" || ok=1; done
	return $ok
}

killed_at() { # killed_at PID LOG FAULT: PID died of SIGKILL, logging the fault
	local st=0
	wait_pid "$1" 60 2>/dev/null || st=$?
	[ "$st" = 137 ] && log_has "$2" "fault injection: killed at $3\$"
}

rejoined() { # rejoined LOG PID: coordinator PID logged the join of each of p1..p3
	local k
	for k in 1 2 3; do
		log_has "$1" "fedlead-coordinator\[$2\] notice: partner p$k joined" || return 1
	done
}

same_weights() { # same_weights NAME: its weights are the reference's, bit for bit
	weights "$T/$1/model.fdl" >"$T/w-$1" && cmp -s "$T/w-$1" "$T/w-ref"
}

rounds_of() { jget <(model_json "$T/$1/model.fdl") 'j["provenance"]["rounds"]'; }

# run_case CASE: one crash case, start to end; prints ok/FAIL lines and
# its time. Runs in a subshell of its own, several at once: the work is
# mostly waiting on round trips.
run_case() {
	local c=$1 t0=$SECONDS fault who D=$T/$1
	PIDS=()
	trap stop_mine EXIT
	case $c in
	ref)
		federation ref || { bad "the reference coordinator starts"; return; }
		check "the uninterrupted reference run finishes; every node has the model" finished ref
		echo "time ref $((SECONDS - t0)) s ($(rounds_of ref) rounds)"
		return
		;;
	stats) fault=stats@1 who=coordinator ;;
	keys | shares | masked | unmask) fault=$c@$K who=coordinator ;;
	*) fault=$c@$K who=node ;;
	esac
	if [ "$who" = coordinator ]; then
		CFAULT=$fault federation "$c" || { bad "[$fault] coordinator starts"; return; }
		check "[$fault] the coordinator is killed at $fault" \
			killed_at "$COORD_PID" "$D/coordinator.log" "$fault"
		# The nodes know the coordinator by address: it comes back on the same port.
		start_coordinator "$D" "${FLAGS[@]}" --listen "127.0.0.1:$PORT" ||
			{ bad "[$fault] the coordinator restarts"; return; }
		check "[$fault] the federation finishes after the restart; every node has the model" \
			finished "$c"
		if [ "$c" = stats ]; then
			# Nothing was complete: no checkpoint, the restart starts afresh.
			check "[$fault] the restart found no checkpoint and started afresh" \
				bash -c "! grep -q 'resumed federation' $D/coordinator.log"
		else
			check "[$fault] the restart resumed from the checkpoint of round $((K - 1))" \
				log_has "$D/coordinator.log" "resumed federation test-federation after round $((K - 1)) \(phase training\)"
		fi
		# Counted where the joins happen: the node may never have seen its
		# first Welcome, lost with the coordinator's unsent output when
		# it was killed (stats@1 comes right after the last join).
		check "[$fault] the nodes reconnected by themselves: the restarted coordinator saw p1, p2, p3 join" \
			rejoined "$D/coordinator.log" "$COORD_PID"
	else
		NFAULT=$fault federation "$c" || { bad "[$fault] coordinator starts"; return; }
		check "[$fault] node p3 is killed at $fault" \
			killed_at "${NODES[2]}" "$D/node-p3/node.log" "$fault"
		NODE_HOME=$D start_node p3 "$T/p3.csv"
		NODES[2]=$NODE_PID
		check "[$fault] the federation finishes after p3's restart; every node has the model" \
			finished "$c"
		check "[$fault] p3 joined twice" \
			test "$(grep -c "joined federation" "$D/node-p3/node.log")" = 2
		if [ "$c" != unmask_reply ]; then
			# Its round secrets died with it: the round is run again.
			check "[$fault] the round was restarted with fresh keys" \
				log_has "$D/coordinator.log" "round $K: restarting secure aggregation for p3"
		fi
	fi
	echo "time $fault $((SECONDS - t0)) s ($(rounds_of "$c") rounds)"
}

# Each case in a subshell of its own, JOBS at a time; CASE_OF maps the
# subshell's PID to its case, STATUS keeps how each ended (0 unless the
# case's script itself stopped on an error: its checks print ok/FAIL).
declare -A CASE_OF STATUS
running=()
reap_one() { # reap_one: waits for one running case to end
	local pid st=0 left=() p
	wait -n -p pid "${running[@]}" || st=$?
	STATUS[${CASE_OF[$pid]}]=$st
	for p in "${running[@]}"; do [ "$p" = "$pid" ] || left+=("$p"); done
	running=("${left[@]}")
}

JOBS=${JOBS:-5}
t0=$SECONDS
for c in $CASES; do
	[ "${#running[@]}" -lt "$JOBS" ] || reap_one
	run_case "$c" >"$T/$c.out" 2>&1 &
	track "$!"
	CASE_OF[$!]=$c
	running+=("$!")
done
while [ "${#running[@]}" -gt 0 ]; do reap_one; done
times=()
for c in $CASES; do
	sed '/^time /d' "$T/$c.out"
	passed=$((passed + $(sed -n '/^ok /p' "$T/$c.out" | wc -l)))
	failed=$((failed + $(sed -n '/^FAIL /p' "$T/$c.out" | wc -l)))
	[ "${STATUS[$c]}" = 0 ] || bad "[$c] the case stopped before its end (status ${STATUS[$c]})"
	times+=("$(sed -n 's/^time //p' "$T/$c.out")")
done
# The comparisons, once every run is over.
if [ -s "$T/ref/model.fdl" ]; then
	weights "$T/ref/model.fdl" >"$T/w-ref"
	echo "reference: $(rounds_of ref) rounds, $(wc -l <"$T/w-ref") weights"
	for c in $CASES; do
		[ "$c" = ref ] && continue
		f=$(sed -n 's/^time \([^ ]*\) .*/\1/p' "$T/$c.out")
		check "[${f:-$c}] final weights identical to the uninterrupted run's" same_weights "$c"
		check "[${f:-$c}] the model names all three participants" \
			test "$(jget <(model_json "$T/$c/model.fdl") '",".join(sorted(j["provenance"]["participants"]))')" = "p1,p2,p3"
	done
elif [[ " $CASES " == *" ref "* ]]; then
	bad "the reference run left no model: nothing to compare with"
fi
printf "time: %s\n" "${times[@]}"
echo "all runs: $((SECONDS - t0)) s of wall time"
finish
