#!/usr/bin/env bash
# A hostile partner inside a secure federation of five (p1..p5, Newton,
# threshold 4 of 5, late_policy = wait: the issue's setting, where one bad
# share used to fail the federation blaming an honest partner). p5 is a stock
# fedlead-node of the test build told by FEDLEAD_HOSTILE (fault.h) to
# deviate once, in round 1; the others are honest stock nodes. Each case
# asserts that the coordinator names p5 with the exact reason, by a check
# that needs no one's word (signed share commitments, or p5's own malformed
# message), excludes it for good (audit "exclude", a permanent Reject, p5
# stops), that the federation of p1..p4 completes and every one of them saves
# the model, and that no log or audit line names an honest partner:
#   (a) bad-share      p5 deals p1 a share its signed commitment does not
#                      match: p1 accuses p5 (its own check), nothing of
#                      p1's data leaves in that attempt
#   (b) bad-sig        p5's commitment for p1 carries a bad signature
#   (c) short-masked   p5's masked update is one value short
#   (d) false-accuse   p5 accuses p1, whose share matched
#   (e) bad-reveal     p5 reveals an altered share when unmasking (and
#                      signs its reply as it is)
#   (f) inconsistent   p5 deals a share off its polynomial, committed to
#   (h) garbage-share  p5 seals p1 a share that does not open: p1 discloses
#                      its share-encryption secret of the attempt (its
#                      policy allows it at 4 of 5 with max_colluders = 1)
#   (j) bad-reveal-sig p5's unmask reply does not carry its valid signature
# In (e), (f) and (j) the honest partners revealed a sum over all five
# before p5 could be caught; going on over four is what their one-set rule
# (allow_participant_change, default no) refuses unless the task proves
# that p5 is hostile. (e) and (f) run with the honest nodes allowing the
# change. (g) repeats (e) with the default policy: p5 signed the reply that
# holds its altered share, the next task carries that reply and p1's signed
# commitment, and every honest node checks them itself, accepts the set
# without p5 and completes. Without such evidence every honest node
# refuses the smaller set by its own policy, the federation stops, and
# still only p5 is named: (i) inconsistent dealing (found when unmasking;
# nothing a node can check without the shares themselves), and
# (j) bad-reveal-sig (p5's reply does not carry its valid signature: what
# it revealed is proven to the coordinator only).
. "$(dirname "$0")/lib/fed.bash"
need_fault_points

pki p1 p2 p3 p4 p5
split_coil 5

HONEST="p[1-4]"
# run CASE ACT [honest node flags...]: a federation in $T/CASE with p5
# doing ACT in round 1; sets COORD_ST and NODE_ST[k] (exit statuses).
run() {
	local case=$1 act=$2 k
	shift 2
	local dir=$T/$case
	coordinator_conf "$dir/coordinator.conf" "p1, p2, p3, p4, p5" "min_partners = 4" \
		"algorithm = newton" "l2 = 1" "validation_split = 0" "threshold = 4"
	start_coordinator "$dir" --late-policy "${LATE:-wait}" --round-deadline 120s --start-wait 30s ||
		return 1
	NODE_PIDS=()
	for k in 1 2 3 4; do
		NODE_HOME=$dir start_node "p$k" "$T/p$k.csv" "$@"
		NODE_PIDS[k]=$NODE_PID
	done
	FEDLEAD_HOSTILE="$act@1" NODE_HOME=$dir start_node p5 "$T/p5.csv"
	NODE_PIDS[5]=$NODE_PID
	COORD_ST=0
	wait_pid "$COORD_PID" 240 || COORD_ST=$?
	for k in 1 2 3 4 5; do
		NODE_ST[k]=0
		wait_pid "${NODE_PIDS[k]}" 30 || NODE_ST[k]=$?
	done
}

# named CASE REGEX: the coordinator logged that p5 is excluded, with the
# exact reason, and audited it.
named() {
	local dir=$T/$1
	log_has "$dir/coordinator.log" "error: $2\$" &&
		log_has "$dir/audit.jsonl" '"event": ?"exclude".*"partner": ?"p5"'
}

# no_honest_blamed CASE: no line of the coordinator's or an honest node's
# log or audit log says an honest partner is excluded, lied or dealt badly
# (p5's own log says what p5 says: in (d), its lie).
no_honest_blamed() {
	local dir=$T/$1 f
	for f in "$dir"/coordinator.log "$dir"/audit.jsonl "$dir"/node-p[1-4]/node.log \
		"$dir"/node-p[1-4]/audit.jsonl; do
		if grep -E "$HONEST is excluded|partner $HONEST (dealt|revealed|accused|sent)|shares $HONEST dealt|\"partner\": ?\"$HONEST\".*exclude|exclude.*\"partner\": ?\"$HONEST\"|accuses $HONEST" \
			"$f" 2>/dev/null; then
			echo "     $f blames an honest partner (above)"
			return 1
		fi
	done
}

# completed CASE: the coordinator and p1..p4 finished, each with the
# model; p5 was refused for good and stopped.
completed() {
	local dir=$T/$1 k
	[ "$COORD_ST" -eq 0 ] || { echo "     coordinator exit $COORD_ST"; return 1; }
	log_has "$dir/coordinator.log" "federation test-federation done" || return 1
	for k in 1 2 3 4; do
		[ "${NODE_ST[k]}" -eq 0 ] && [ -s "$dir/node-p$k/model.fdl" ] ||
			{ echo "     p$k: exit ${NODE_ST[k]}"; return 1; }
	done
	[ "${NODE_ST[5]}" -ne 0 ] && [ "${NODE_ST[5]}" -ne 124 ] && [ ! -e "$dir/node-p5/model.fdl" ] &&
		log_has "$dir/node-p5/node.log" "refused this partner: round 1: .*p5 is excluded"
}

case_done() { # case_done CASE LABEL REASON-REGEX
	check "$2: p5 is named and excluded" named "$1" "$3"
	check "$2: the federation of p1..p4 completes, p5 stops" completed "$1"
	check "$2: no honest partner is blamed" no_honest_blamed "$1"
}

run a bad-share
check "(a) p1 accuses p5 by its own check" log_has "$T/a/node-p1/node.log" \
	"warn: round 1: partner p5 dealt this partner a share that does not match p5's signed commitment; this partner sends nothing of its data in this attempt and accuses p5, with the evidence"
case_done a "(a) bad share" \
	"round 1: partner p5 dealt p1 a share that does not match p5's signed commitment \(p1's evidence checked\); p5 is excluded"

run b bad-sig
case_done b "(b) bad commitment signature" \
	"round 1: partner p5's commitment to the shares it dealt p1 does not carry its valid signature; p5 is excluded"

run c short-masked
case_done c "(c) short masked update" \
	"round 1: partner p5 sent a masked update of ([0-9]+) values of kind 1, expected ([0-9]+) of kind 1; p5 is excluded"

run d false-accuse
case_done d "(d) false accusation" \
	"round 1: partner p5 accused p1 of dealing it a bad share, but the share matches p1's signed commitment; p5 is excluded"

run e bad-reveal --allow-participant-change yes
case_done e "(e) altered reveal" \
	"round 1: partner p5 revealed a share of p1's self-mask seed that does not match p1's signed commitment; p5 is excluded"

run f inconsistent --allow-participant-change yes
case_done f "(f) inconsistent dealing" \
	"round 1: the shares p5 dealt do not rebuild the self-mask seed it committed to, though each matches its signed commitment \(inconsistent dealing\); p5 is excluded"

run h garbage-share
check "(h) p1 accuses p5 by its own check" log_has "$T/h/node-p1/node.log" \
	"warn: round 1: partner p5 dealt this partner a share that does not open under the keys both advertised; this partner sends nothing of its data in this attempt and accuses p5, with the evidence"
case_done h "(h) a share that does not open" \
	"round 1: partner p5 sent p1 a share that does not open under the keys both advertised \(p1's evidence checked\); p5 is excluded"

# (g) The default node policy, and evidence the honest nodes check.
run g bad-reveal
case_done g "(g) altered reveal, default policy" \
	"round 1: partner p5 revealed a share of p1's self-mask seed that does not match p1's signed commitment; p5 is excluded"
g_evidence() {
	local k L
	log_has "$T/g/coordinator.log" "round 1: the next task carries the evidence that p5 revealed a bad share, for every partner to check" ||
		return 1
	for k in 1 2 3 4; do
		L=$T/g/node-p$k
		log_has "$L/node.log" "warn: round [0-9]+: this node checked the evidence that p5 revealed a share other than the one dealt to it; it accepts the participants without p5, and the set \{p1,p2,p3,p4\}\$" &&
			log_has "$L/audit.jsonl" '"event": ?"evidence_accepted".*"partners": ?"p5"' ||
			{ echo "     p$k"; return 1; }
	done
}
check "(g) every honest node accepts the set without p5 after checking the evidence itself" g_evidence

# Without evidence a node can check, the honest nodes refuse the smaller
# set. (Under late_policy = wait the coordinator would wait for them to
# come back, logging it each round_deadline; drop ends it.)
g_refused() { # g_refused CASE
	local k
	for k in 1 2 3 4; do
		[ "${NODE_ST[k]}" -eq 1 ] || { echo "     p$k: exit ${NODE_ST[k]}"; return 1; }
		log_has "$T/$1/node-p$k/node.log" "error: policy allow_participant_change: round [0-9]+: the task's participants \{p1,p2,p3,p4\} are not the set \{p1,p2,p3,p4,p5\}" &&
			log_has "$T/$1/node-p$k/audit.jsonl" '"event": ?"refuse".*"rule": ?"allow_participant_change"' ||
			return 1
	done
	[ "$COORD_ST" -ne 0 ] && [ "$COORD_ST" -ne 124 ] &&
		log_has "$T/$1/coordinator.log" "error: federation test-federation failed: only 0 partners left, below the quorum of 4"
}
LATE=drop run i inconsistent
check "(i) inconsistent dealing, default policy: p5 is named and excluded" named i \
	"round 1: the shares p5 dealt do not rebuild the self-mask seed it committed to, though each matches its signed commitment \(inconsistent dealing\); p5 is excluded"
check "(i) every honest node refuses the smaller set by its own policy; the federation stops" g_refused i
check "(i) no honest partner is blamed" no_honest_blamed i

LATE=drop run j bad-reveal-sig
check "(j) unsigned reveal, default policy: p5 is named and excluded" named j \
	"round 1: partner p5's unmask reply does not carry its valid signature; p5 is excluded"
check "(j) every honest node refuses the smaller set by its own policy; the federation stops" g_refused j
check "(j) no honest partner is blamed" no_honest_blamed j

finish
