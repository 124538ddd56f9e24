#!/usr/bin/env bash
# The README's first command, deploy/demo.sh, with the programs of this build
# (FL_DEMO_BIN: no install, no build): the federation of three partners
# split by customer segment completes, every partner gets the same signed
# model, and the closing table compares like with like and shows what the
# partners care about. On the bundled bank-marketing leads the federated
# model ranks all partners' held-out leads at least as well as each
# partner's local-only model (a property of the split, checked here with
# the margin it has). A second federation of the same partners under
# differential privacy (epsilon 1 each) gets its own row (fed+DP). The
# federated model's report shows the same figures in its "what federation
# added" panel.
. "$(dirname "$0")/lib/fed.bash"

out=$T/demo.out
if FL_DEMO_BIN=$FL_BIN bash "$FL_SRC/deploy/demo.sh" --workdir "$T/demo" >"$out" 2>"$T/demo.err"; then
	ok "the demo runs end to end"
else
	bad "the demo runs end to end"
	cat "$out" "$T/demo.err"
	finish
	exit 1
fi
D=$T/demo

has() { grep -qF -- "$1" "$out"; }
check "the demo names its sections" \
	bash -c 'for s in "== 1. a demo certificate authority" "== 2. split the leads: three partners by customer segment" \
		"== 3. coordinator and three partner nodes" "== 4. each partner alone, trained the same way" \
		"== 5. what federation is worth to each partner"; do grep -qF -- "$s" "$0" || exit 1; done' "$out"
check "the demo says which protocol chose l2 for every model" \
	has "Protocol: every model chose l2 on a 20 % validation split of its training"
check "every partner received the same signed model" has "every partner received the same signed model"
check "the model's signature was checked" has "the federated model's signature checks against the demo CA"

# The split: by job group, a quarter of each partner held out, every lead once.
check "acme holds management, admin. and technician leads" \
	grep -qE '^   acme +4227 leads for training, 1408 held out  \(management, admin., technician\)$' "$out"
check "globex and initech hold the other segments" \
	bash -c 'grep -qE "^   globex +2541 leads for training, +847 held out" "$0" &&
		grep -qE "^   initech +1809 leads for training, +603 held out" "$0"' "$out"
total=0
for f in acme globex initech holdout-acme holdout-globex holdout-initech; do
	total=$((total + $(wc -l <"$D/$f.csv") - 1))
done
check "every bundled lead is in exactly one partner file ($total of 11435)" [ "$total" -eq 11435 ]
check "no held-out lead is in a training file" \
	bash -c 'cat "$0"/acme.csv "$0"/globex.csv "$0"/initech.csv | sort >"$0/train.sorted" &&
		tail -n +2 "$0/holdout.csv" | sort >"$0/holdout.sorted" &&
		[ -z "$(comm -12 "$0/train.sorted" "$0/holdout.sorted")" ]' "$D"

# The table: for each partner a local, a federated and a private federated
# (fed+DP) row on its own and on all partners' held-out leads, with AUC, its
# interval, log-loss and hits.
num='[0-9]\.[0-9]{4}'
rows=$(grep -cE "^   (acme|globex|initech|        ) +((own|all): [0-9]+ \([0-9]+ conv\.\))? +(local|federated|fed\+DP) +$num [0-9]\.[0-9]{3}-[0-9]\.[0-9]{3} +$num +[0-9]+ of [0-9]+$" "$out" || true)
check "the table has a local, a federated and a fed+DP row per partner and held-out set (18 rows, saw $rows)" \
	[ "$rows" -eq 18 ]
check "the private federation ran under each partner's differential privacy" \
	has "   Trained with differential privacy: ε = 1, δ = 10⁻⁶ per partner (distributed discrete Gaussian under secure aggregation, zCDP accountant, 5 of 5 releases, clip 4, each lead's gradient clipped to 3.2 in the evaluations without the Hessian)"
check "the table names the held-out conversions for each set" \
	bash -c 'grep -qF "acme     own: 1408 (687 conv.)" "$0" && grep -qF "all: 2858 (1309 conv.)" "$0"' "$out"
for p in acme globex initech; do
	check "$p's gain is said in plain words" \
		grep -qE "^   - $p, on its own [0-9]+ held-out leads \([0-9]+ converted\): AUC [+-]$num \($num -> $num\), log-loss [+-]$num, .* in its top 10 % \([0-9]+ -> [0-9]+ of [0-9]+\)$" "$out"
done

# The figures behind the table, and the property the split was chosen for.
tsv=$D/comparison.tsv
check "comparison.tsv holds the 18 rows of the table" [ "$(tail -n +2 "$tsv" | wc -l)" -eq 18 ]
for p in acme globex initech; do
	la=$(awk -F'\t' -v p="$p" '$1 == p && $2 == "all" && $3 == "local" { print $6 }' "$tsv")
	fa=$(awk -F'\t' -v p="$p" '$1 == p && $2 == "all" && $3 == "federated" { print $6 }' "$tsv")
	check "$p: the federated model ranks all partners' held-out leads better than $p's local one (AUC $fa vs $la)" \
		awk -v l="$la" -v f="$fa" 'BEGIN { exit !(l > 0.7 && f >= l + 0.003) }'
	# The printed row says the same as the figures file.
	check "$p: the printed table matches comparison.tsv" \
		grep -qE "^ +federated +$(printf '%.4f' "$fa") " "$out"
done
# An independent look at one figure: score the held-out leads again.
auc=$("$FL_BIN/fedlead-score" --model "$D/coordinator/model.fdl" --data "$D/holdout.csv" --eval --json |
	tr -d ' \n' | sed -E 's/.*"auc":([0-9.]+).*/\1/')
check "the federated AUC on all held-out leads is what fedlead-score says ($auc)" \
	awk -F'\t' -v a="$auc" '$1 == "acme" && $2 == "all" && $3 == "federated" { f = ($6 == a) } END { exit !f }' "$tsv"

# The federated model's report carries the same figures in its "what
# federation added" panel, computed by fedlead-score from the models and
# held-out files: every row of comparison.tsv is in it, AUC and log-loss to
# four places, the top-10 % count and the held-out conversions.
R=$D/report.html
check "the demo says where the report is" has "   report: $R"
check "the report has the federation panel once" \
	[ "$(grep -c '<h2>What federation added</h2>' "$R" 2>/dev/null)" = 1 ]
check "the report's panel has the figures of comparison.tsv for every partner" python3 - "$R" "$tsv" <<'PY'
import csv, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
rows = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
assert len(rows) == 18, len(rows)
for r in rows:
    tr = re.search(r'<tr data-partner="%s" data-leads="%s" data-model="%s"[^>]*>(.*?)</tr>'
                   % (r["partner"], r["leads"], r["model"]), html)
    assert tr, ("no panel row", r)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", tr.group(1))
    want = {"local": "local only", "federated": "federated",
            "federated_dp": "federated with DP"}[r["model"]]
    i = cells.index(want)
    auc, interval, ll, hits = cells[i + 1:i + 5]
    assert auc == "%.4f" % float(r["auc"]), (r, auc)
    assert ll == "%.4f" % float(r["log_loss"]), (r, ll)
    assert re.fullmatch(r"0\.\d{3}\u2013[01]\.\d{3}", interval), (r, interval)
    lo, hi = (float(x) for x in interval.split("\u2013"))
    assert lo < float(r["auc"]) < hi, (r, interval)
    n = int(r["rows"]) // 10
    assert hits == "%s of %s" % (format(int(r["top10_hits"]), ","), format(n, ",")), (r, hits)
    if r["model"] == "local":
        held = "%s (%s converted)" % (format(int(r["rows"]), ","), format(int(r["converted"]), ","))
        assert held in cells[i - 1], (r, cells[i - 1])
for p in ("acme", "globex", "initech"):
    for where in ("on its own", "on all partners&#39;"):
        assert re.search(r"<li><b>%s</b>, %s [0-9,]+ held-out leads \([0-9,]+ converted\): AUC "
                         r"0\.\d{4} \u2192 0\.\d{4} .*finds .* in its top 10 %% \(" % (p, where),
                         html), (p, where)
assert "<script" not in html.lower() and not re.search(r"(src|href)=\"?https?:", html)
PY

# The last step: the scoring service on the federated model scored one new
# lead with curl, its signature verified, and was stopped.
check "the scoring service scores the new lead with the verified federated model" "$PY" -c '
import json, re, sys
out = open(sys.argv[1]).read()
assert "== 7. a new lead scored the moment it arrives: the scoring service" in out
assert re.search(r"fedlead-score serve on http://127\.0\.0\.1:\d+ \(the federated model, signature verified\)", out)
ans = json.loads(out.split("?direction=both\x27\n", 1)[1].split("\nmodel: ", 1)[0])
lead = ans["leads"][0]
assert 0 < lead["score"] < 1 and 1 <= lead["decile"] <= 10, lead
assert lead["reasons"] and lead["down_reasons"] and lead["unseen"] == [], lead
' "$out"
check "the service logged its verified model and stopped on SIGTERM" \
	bash -c 'grep -q "signature verified" "$0" && grep -q "notice: stopping (SIGTERM)" "$0"' "$D/logs/serve.log"

# A second run starts afresh and gives the same table.
FL_DEMO_BIN=$FL_BIN bash "$FL_SRC/deploy/demo.sh" --workdir "$T/demo" >"$T/demo2.out" 2>&1
check "a second run gives the same table" \
	bash -c 'diff <(sed -n "/== 5/,/^   Intervals/p" "$0" | grep -v "port\|http\|fed+DP") \
		<(sed -n "/== 5/,/^   Intervals/p" "$1" | grep -v "port\|http\|fed+DP")' "$out" "$T/demo2.out"
finish
