#!/usr/bin/env bash
# The model report and the coordinator's dashboard, as a person sees them:
# a model trained on the CoIL leads is scored into an HTML report, a
# federation's dashboard is fetched from the coordinator, and both are
# rendered in headless Chromium to PNG screenshots with no console errors.
# Without Chromium the page checks still run, and the test then exits 77
# (ctest: skipped), saying that the rendering was not tested.
# FL_DOCS_OUT=DIR copies the screenshots there (docs/report.png and
# docs/dashboard.png are made this way).
. "$(dirname "$0")/lib/fed.bash"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)

# render URL PNG NAME: screenshot of URL; checks it loaded with no console
# errors, that its DOM has the expected title, and that the PNG is a real
# 1280-pixel-wide picture.
render() {
	local url=$1 png=$2 name=$3 height=${4:-2000}
	local flags=(--headless --no-sandbox --disable-gpu --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--hide-scrollbars --user-data-dir="$(mktemp -d "$T/chromium.XXXXXX")")
	local st=0
	timeout 90 "$CHROMIUM" "${flags[@]}" --enable-logging=stderr --v=0 \
		--window-size=1280,"$height" --screenshot="$png" "$url" >"$png.out" 2>"$png.log" || st=$?
	check "$name: chromium exits 0 (status $st)" test "$st" = 0
	check "$name: screenshot written" test -s "$png"
	# The pages run no script, so any console line at all (an error, a
	# blocked load reported by the Content-Security-Policy) is a fault.
	check "$name: no console messages" bash -c '! grep -Eq ":CONSOLE|Uncaught|Refused to" "$1"' _ "$png.log"
	check "$name: PNG of 1280 x $height pixels" "$PY" -c '
import struct, sys
d = open(sys.argv[1], "rb").read(24)
ok = d[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", d[16:24]) == (1280, int(sys.argv[2]))
sys.exit(0 if ok else 1)' "$png" "$height"
	st=0
	timeout 90 "$CHROMIUM" "${flags[@]}" --dump-dom "$url" >"$png.dom" 2>"$png.dom.log" || st=$?
	check "$name: chromium --dump-dom exits 0 (status $st)" test "$st" = 0
}

# ---- the model report ----

awk -v dir="$T" 'NR == 1 { print > (dir "/train.csv"); print > (dir "/holdout.csv"); next }
	(NR - 2) % 5 == 0 { print > (dir "/holdout.csv"); next } { print > (dir "/train.csv") }' "$COIL"
"$FL_BIN/fedlead-node" train --schema "$SCHEMA" --data "$T/train.csv" --validation-split 0.2 \
	--out "$T/model.fdl" >/dev/null 2>&1
check "a model trained on the CoIL leads" test -s "$T/model.fdl"

# Relative paths, as a person would type them (and as the report shows them).
(cd "$T" && "$FL_BIN/fedlead-score" --model model.fdl --data holdout.csv --eval \
	--report report.html >eval.txt 2>score.err)
check "fedlead-score --report exits 0 and says where the report is" \
	grep -q "wrote report.html" "$T/score.err"
check "--report still prints the evaluation" grep -q "^AUC " "$T/eval.txt"
R=$T/report.html
check "the report states the top-20 % sentence" \
	grep -Eq "Calling the top 20 % of leads reaches <b>[0-9]+ %</b> of all conversions \(<b>[0-9.]+" "$R"
auc=$(sed -n 's/^AUC \([0-9.]*\).*/\1/p' "$T/eval.txt")
auc3=$("$PY" -c "print('%.3f' % float('$auc'))")
check "the report's AUC matches fedlead-score --eval ($auc3)" grep -q "ROC curve — AUC $auc3" "$R"
for chart in "Cumulative gains" "ROC curve" "Lift by decile" "Calibration by decile" \
	"Score distribution" "Top drivers"; do
	check "the report has the chart \"$chart\"" grep -q "<title>$chart" "$R"
done
check "the report names the model and lead files as given" \
	grep -q "Model <code>model.fdl</code> · leads <code>holdout.csv</code>" "$R"
check "the report names the schema fingerprint" \
	grep -q "Schema fingerprint</td><td><code>[0-9a-f]\{64\}</code>" "$R"
check "the report is self-contained: no script, no external URL" \
	bash -c '! grep -Eiq "<script|src=\"http|href=\"http|@import|url\(" "$1"' _ "$R"
check "no NaN or infinity in any SVG number" \
	bash -c '! grep -Eiq "=\"[^\"]*(nan|inf)" "$1"' _ "$R"

"$FL_BIN/fedlead-score" --model "$T/model.fdl" --data "$T/holdout.csv" \
	--report "$T/unlabelled.html" --quiet >/dev/null
check "without --eval: distribution and deciles, no ROC" \
	bash -c 'grep -q "<title>Score distribution" "$1" && grep -q "<title>Predicted conversion rate by decile" "$1" && ! grep -q "ROC" "$1"' _ "$T/unlabelled.html"

if [ -z "$CHROMIUM" ]; then
	skip_part "report rendering: chromium is not installed"
else
	render "file://$R" "$T/report.png" "report" 3400
	check "report: the browser saw the page title" grep -q "<title>Lead scoring report" "$T/report.png.dom"
fi

# ---- the coordinator's dashboard ----

pki p1 p2 p3
split_coil 3
coordinator_conf "$T/coord/coordinator.conf" "p1, p2, p3" "min_partners = 3" \
	"algorithm = fedavg" "rounds = 400" "validation_split = 0.2" "l2 = 1"
start_coordinator "$T/coord" --late-policy wait --round-deadline 10m ||
	{ bad "coordinator starts"; finish; exit 1; }
nodes=()
for k in 1 2 3; do start_node "p$k" "$T/p$k.csv"; nodes+=("$NODE_PID"); done
round_at_least() { [ "$(status_round)" -ge "$1" ]; }
check "training passes round 25" wait_for 60 round_at_least 25
# p3 goes away for good; with late_policy = wait the federation holds its
# state, so the page below shows a fixed picture: rounds done, p3 gone.
check "p3 is killed (kill -9)" kill9 "${nodes[2]}"
connected_two() { http_get /status | tail -n +3 | "$PY" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["partners"]["connected"] == 2 else 1)'; }
check "the coordinator sees p3 disconnected" wait_for 30 connected_two

http_get / >"$T/dash.txt"
check "GET / answers 200 with HTML" \
	bash -c '[ "$(sed -n 1p "$1")" = 200 ] && sed -n 2p "$1" | grep -q "^text/html"' _ "$T/dash.txt"
check "the dashboard names the federation and reloads itself" \
	bash -c 'grep -q "<h1>Federation test-federation</h1>" "$1" && grep -q "http-equiv=\"refresh\" content=\"5\"" "$1"' _ "$T/dash.txt"
check "the dashboard shows p3 not connected and 2 of 3 partners" \
	bash -c 'grep -q "<tr><td>p3</td><td><span class=\"badge b-off\">not connected" "$1" && grep -q ">2 / 3<" "$1"' _ "$T/dash.txt"
check "the dashboard says FedAvg round k of 400" grep -Eq "FedAvg round [0-9]+ of 400" "$T/dash.txt"
check "the dashboard draws loss and AUC per round" \
	bash -c 'grep -q "<title>Loss per round" "$1" && grep -q "<title>Validation AUC per round" "$1" && grep -c "<path d=\"M" "$1" | grep -qv "^0$"' _ "$T/dash.txt"
check "the dashboard loads nothing: no script, no external URL" \
	bash -c '! grep -Eiq "<script|src=\"http|href=\"http|url\(" "$1"' _ "$T/dash.txt"

if [ -z "$CHROMIUM" ]; then
	skip_part "dashboard rendering: chromium is not installed"
else
	render "http://127.0.0.1:$HTTP_PORT/" "$T/dashboard.png" "dashboard" 1500
	check "dashboard: the browser saw the page title" \
		grep -q "<title>fedlead · test-federation · training" "$T/dashboard.png.dom"
fi
if [ -n "${FL_DOCS_OUT:-}" ] && [ -n "$CHROMIUM" ]; then
	cp "$T/report.png" "$FL_DOCS_OUT/report.png"
	cp "$T/dashboard.png" "$FL_DOCS_OUT/dashboard.png"
fi
# Still training (400 rounds): stopped here.
check "the coordinator is still running at the end, and is killed" kill9 "$COORD_PID"
check "p1 is still running at the end, and is killed" kill9 "${nodes[0]}"
check "p2 is still running at the end, and is killed" kill9 "${nodes[1]}"
finish
