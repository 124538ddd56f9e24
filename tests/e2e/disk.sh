#!/usr/bin/env bash
# The coordinator's disk going bad, and damaged files:
#   (a) the state directory on a small file system of its own (a 1 MiB
#       tmpfs, mounted in a private mount namespace made for this test):
#       after the first checkpoint the file system is filled, then made
#       read-only. Each failed checkpoint is a clear error in the log
#       ("No space left on device", "Read-only file system"), training
#       goes on, and the last good checkpoint is left intact, byte for
#       byte, with no temporary file beside it. The coordinator is then
#       killed; once space is freed it restarts, resumes from that
#       checkpoint, and the final model equals an uninterrupted run's
#       exactly. A coordinator given a state directory on the read-only
#       file system refuses to start, naming it.
#       Root ignores file modes, so a real full / read-only file system is
#       the honest test; where no mount namespace can be made (no
#       CAP_SYS_ADMIN) this half cannot run: (b) and (c) still do, and the
#       test then exits 77 (skipped), saying why.
#       The coordinator stops itself at the start of rounds 2, 3 and 4
#       (FEDLEAD_FAULT=pause@task@N): the disk is changed while it is
#       stopped, so each change meets exactly the next checkpoint, and the
#       kill lands in round 4 whatever the speed of the machine.
#   (b) the checkpoint with one byte changed: the coordinator refuses to
#       start with the state file's checksum message; restored, it loads.
#   (c) a model file with one byte changed: fedlead-score refuses it with
#       the model file's checksum message.
if [ -z "${FL_DISK_NS:-}" ] && unshare -m --propagation private true 2>/dev/null; then
	# A private mount namespace: the tmpfs is seen by this test alone and
	# disappears with it, whatever happens.
	FL_DISK_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib/fed.bash"

need_fault_points
MNT=$T/mnt
mkdir -p "$MNT"
# On exit, once every process is gone (cleanup in lib/fed.bash): the
# read-only bind mount and the tmpfs, top first.
unmount_all() {
	while mountpoint -q "$MNT"; do umount "$MNT" || return 1; done
}
CLEANUP+=(unmount_all)

pki p1 p2
head -n 1201 "$COIL" >"$T/small.csv"
COIL=$T/small.csv split_coil 2
SETTINGS=("min_partners = 2" "algorithm = newton" "l2 = 1" "validation_split = 0")
FLAGS=(--late-policy wait --round-deadline 90s)

# federation NAME [flags...]: coordinator and p1, p2 in $T/NAME; pids in
# COORD_PID and NODES. The coordinator runs with FEDLEAD_FAULT=$CFAULT.
federation() {
	local D=$T/$1 k
	shift
	coordinator_conf "$D/coordinator.conf" "p1, p2" "${SETTINGS[@]}"
	FEDLEAD_FAULT=${CFAULT:-} start_coordinator "$D" "${FLAGS[@]}" "$@" || return 1
	NODES=()
	for k in 1 2; do
		# Two partners: below the nodes' default policy, lowered explicitly.
		NODE_HOME=$D start_node "p$k" "$T/p$k.csv" --min-partners 2
		NODES+=("$NODE_PID")
	done
}
finished() { # finished NAME: coordinator and nodes exit 0, nodes hold the model
	local D=$T/$1 ok=0
	wait_pid "$COORD_PID" 120 || ok=1
	wait_pid "${NODES[0]}" 30 || ok=1
	wait_pid "${NODES[1]}" 30 || ok=1
	cmp -s "$D/node-p1/model.fdl" "$D/model.fdl" && cmp -s "$D/node-p2/model.fdl" "$D/model.fdl" || ok=1
	return $ok
}
# flip FILE OFFSET: changes one byte (xor 0x01) in place.
flip() {
	"$PY" -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[o] ^= 1
open(p, "wb").write(b)' "$1" "$2"
}

# The uninterrupted run, in the background while (a) runs.
(
	federation ref && finished ref && echo ok >"$T/ref.done"
) >"$T/ref.out" 2>&1 &
ref_job=$!
track "$ref_job"

# ---- (a) full, then read-only state file system ----
if [ -z "${FL_DISK_NS:-}" ]; then
	skip_part "(a) full and read-only disks: no private mount namespace here (unshare -m failed)"
	have_mnt=
elif ! mount -t tmpfs -o size=1m,mode=0700 fedlead-e2e "$MNT" 2>"$T/mount.err"; then
	skip_part "(a) full and read-only disks: cannot mount a tmpfs here ($(cat "$T/mount.err"))"
	have_mnt=
else
	have_mnt=1
fi
if [ -n "$have_mnt" ]; then
	D=$T/full
	S=$MNT/state
	LOG=$D/coordinator.log
	CFAULT=pause@task@2,pause@task@3,pause@task@4 federation full --state-dir "$S" ||
		must "(a) coordinator starts" false
	must "(a) the coordinator pauses at the start of round 2" \
		wait_paused 60 "$COORD_PID" "$LOG" task@2
	check "(a) the first checkpoint (round 1) is written" test -s "$S/checkpoint"
	good=$(sha256sum <"$S/checkpoint")
	# dd stops when the file system is full, and must say so.
	st=0
	dd if=/dev/zero of="$MNT/filler" bs=4k 2>"$T/dd.err" || st=$?
	check "(a) the state file system is full (dd: No space left on device)" \
		bash -c '[ "$1" != 0 ] && grep -q "No space left on device" "$2"' _ "$st" "$T/dd.err"
	echo "disk filled: $(df -k "$MNT" | awk 'NR == 2 { print $4 }') KiB left"
	must "(a) the coordinator resumes" resume "$COORD_PID" "$LOG" task@2
	must "(a) the coordinator pauses at the start of round 3" \
		wait_paused 60 "$COORD_PID" "$LOG" task@3
	check "(a) full disk: the failed checkpoint of round 2 is logged with its cause" \
		log_has "$LOG" "checkpoint after round 2 not written: $S/checkpoint: cannot write checkpoint: No space left on device \(the previous one is intact\)"
	# Remounting the tmpfs itself read-only is refused while the
	# coordinator holds files open for writing (its lock); a read-only bind
	# mount on top has no writers, and every path now resolves through it.
	must "(a) a read-only bind mount over the state file system" \
		bash -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"' _ "$MNT"
	must "(a) the coordinator resumes" resume "$COORD_PID" "$LOG" task@3
	must "(a) the coordinator pauses at the start of round 4" \
		wait_paused 60 "$COORD_PID" "$LOG" task@4
	check "(a) read-only file system: the failed checkpoint of round 3 is logged with its cause" \
		log_has "$LOG" "checkpoint after round 3 not written: $S/checkpoint: cannot write checkpoint: Read-only file system \(the previous one is intact\)"
	# Every completed round is checkpointed: the last good one is the
	# round before the first failure.
	first_failed=$(sed -n 's/.*checkpoint after round \([0-9]*\) not written.*/\1/p' "$LOG" | head -n 1)
	good_round=$((${first_failed:-1} - 1))
	echo "failed checkpoints: $(grep -c "not written" "$LOG"), the first after round" \
		"$first_failed; the last good one is round $good_round's"
	must "(a) the coordinator, paused in round 4, is killed (kill -9)" kill9 "$COORD_PID"
	check "(a) the last good checkpoint is intact, byte for byte" \
		test "$(sha256sum <"$S/checkpoint")" = "$good"
	check "(a) no temporary file was left beside it" \
		test "$(ls -A "$S" | sort | tr '\n' ' ')" = "checkpoint lock "
	# A new coordinator on the read-only file system.
	coordinator_conf "$T/ro/coordinator.conf" "p1, p2" "${SETTINGS[@]}"
	st=0
	"$FL_BIN/fedlead-coordinator" --config "$T/ro/coordinator.conf" --state-dir "$MNT/other" \
		2>"$T/ro/err" || st=$?
	check "(a) a state directory on a read-only file system: refuses to start (status 1)" test "$st" = 1
	check "(a) ... naming the directory and the cause" \
		log_has "$T/ro/err" "^fedlead-coordinator: $MNT/other: cannot create state directory: Read-only file system$"
	# Space back: the restart resumes from the intact checkpoint. The nodes
	# have been trying to reconnect all along.
	must "(a) the read-only bind mount is removed" umount "$MNT"
	must "(a) the filler is removed" rm "$MNT/filler"
	start_coordinator "$D" "${FLAGS[@]}" --state-dir "$S" --listen "127.0.0.1:$PORT" ||
		must "(a) the coordinator restarts" false
	check "(a) after space is freed the restarted coordinator finishes; nodes have the model" \
		finished full
	check "(a) it resumed from the last good checkpoint" \
		log_has "$LOG" "resumed federation test-federation after round $good_round \(phase (statistics|training)\)"
fi

ref_st=0
wait "$ref_job" || ref_st=$?
if ! check "the uninterrupted run finishes; nodes have the model" \
	test "$ref_st" = 0 -a -e "$T/ref.done"; then
	sed 's/^/     ref: /' "$T/ref.out"
fi
if [ -n "$have_mnt" ]; then
	check "(a) the final weights equal the uninterrupted run's exactly" \
		cmp -s <(weights "$T/full/model.fdl") <(weights "$T/ref/model.fdl")
fi

# ---- (b) a checkpoint with one byte changed ----
S=$T/ref/state
coord_once() { # coord_once OUT: the finished federation's coordinator once more
	local st=0
	"$FL_BIN/fedlead-coordinator" --config "$T/ref/coordinator.conf" 2>"$1" || st=$?
	return $st
}
check "(b) the intact final checkpoint loads: the federation is already done (status 0)" \
	coord_once "$T/b0.err"
check "(b) ... and says so" log_has "$T/b0.err" "federation test-federation already done"
size=$(stat -c %s "$S/checkpoint")
flip "$S/checkpoint" $((size / 2))
st=0
coord_once "$T/b1.err" || st=$?
check "(b) one byte changed: the coordinator refuses to start (status 2, bad input)" test "$st" = 2
check "(b) ... with the checksum message naming the file" \
	log_has "$T/b1.err" "^fedlead-coordinator: $S/checkpoint: checkpoint is corrupt \(checksum mismatch\)$"
cat "$T/b1.err"
flip "$S/checkpoint" $((size / 2))
check "(b) the byte restored, it loads again" coord_once "$T/b2.err"

# ---- (c) a model file with one byte changed ----
M=$T/ref/model.fdl
check "(c) the intact model exports" bash -c "\"$FL_BIN/fedlead-score\" --model $M --export json >/dev/null"
cp "$M" "$T/bad.fdl"
flip "$T/bad.fdl" $(($(stat -c %s "$M") / 2))
st=0
"$FL_BIN/fedlead-score" --model "$T/bad.fdl" --export json >"$T/c.out" 2>"$T/c.err" || st=$?
cat "$T/c.err"
check "(c) one byte changed: fedlead-score refuses the model (status 2, bad input)" test "$st" = 2
check "(c) ... with the checksum message naming the file" \
	log_has "$T/c.err" "$T/bad\.fdl: model file is corrupt \(checksum mismatch\)"
check "(c) ... and prints nothing" test ! -s "$T/c.out"
finish
