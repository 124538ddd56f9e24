#!/usr/bin/env bash
# The end-to-end demo on the bundled CoIL 2000 leads: installs what is
# missing, builds, validates the lead file against the schema, trains a
# model, scores held-out leads and prints the ranking metrics.
# Usage: deploy/demo.sh [--workdir DIR]   (default: ./demo-out)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
workdir=$PWD/demo-out
while [ $# -gt 0 ]; do
	case $1 in
	--workdir) workdir=$2; shift 2 ;;
	--workdir=*) workdir=${1#--workdir=}; shift ;;
	-h|--help) sed -n '2,6p' "$0"; exit 0 ;;
	*) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

bash "$src/deploy/install-deps.sh" build
build=$src/build
bash "$src/deploy/build.sh" "$build"
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
data=$src/tests/data/coil2000
schema=$data/coil2000.schema.json

# Hold out every fifth lead: the model never sees them, so their metrics are
# an honest estimate of how it ranks new leads.
awk 'NR == 1 || (NR - 2) % 5 != 4' "$data/train.csv" >"$workdir/leads-train.csv"
awk 'NR == 1 || (NR - 2) % 5 == 4' "$data/train.csv" >"$workdir/leads-holdout.csv"

echo "== 1. validate the lead export against the schema"
"$build/fedlead-node" check --schema "$schema" --data "$workdir/leads-train.csv" \
	>"$workdir/check.txt"
head -6 "$workdir/check.txt"
echo "(per-column summary of all $(($(wc -l <"$workdir/check.txt") - 3)) features in $workdir/check.txt)"
echo
echo "== 2. train (L2 strength chosen on a validation split)"
"$build/fedlead-node" train --schema "$schema" --data "$workdir/leads-train.csv" \
	--l2 auto --validation-split 0.2 --out "$workdir/model.fdl"
echo
echo "== 3. score the held-out leads"
"$build/fedlead-score" --model "$workdir/model.fdl" --data "$workdir/leads-holdout.csv" \
	--out "$workdir/scored.csv" --eval --top 100
echo
echo "== 4. what drives conversion"
"$build/fedlead-score" --model "$workdir/model.fdl" --explain --top 5
echo
echo "first scored leads ($workdir/scored.csv):"
head -4 "$workdir/scored.csv"
echo
echo "model: $workdir/model.fdl"
