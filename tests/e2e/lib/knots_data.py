"""The leads of the knots-from-data end-to-end tests (fed_knots.sh,
fed_knots_resume.sh): 900 leads over three partners (450, 270, 180),
spend skewed over [0, 5000] with every 30th missing, tenure bell-shaped
over [0, 60]; conversion rises then falls with spend (a deterministic
pattern). Writes p1.csv .. p3.csv, pooled.csv and knots.schema.json into
the directory given."""
import math, sys
t = sys.argv[1]
rows = []
s = 12345
def u():
    global s
    s = (s * 6364136223846793005 + 1442695040888963407) % 2**64
    return (s >> 11) / 2**53
for i in range(900):
    a = u()
    spend = 5000 * a * a
    tenure = 60 * (u() + u() + u()) / 3
    z = 1.5 * math.sin(spend / 800) + (tenure - 30) ** 2 / 300 - 0.8
    won = "yes" if u() < 1 / (1 + math.exp(-z)) else "no"
    cell = "" if i % 30 == 11 else "%.4f" % spend
    rows.append(f"{i},{cell},{tenure:.4f},{won}\n")
header = "lead,spend,tenure,won\n"
parts = [rows[:450], rows[450:720], rows[720:]]
for k, part in enumerate(parts, 1):
    open(f"{t}/p{k}.csv", "w").write(header + "".join(part))
open(f"{t}/pooled.csv", "w").write(header + "".join(rows))
open(f"{t}/knots.schema.json", "w").write("""{"fedlead_schema": 1,
 "label": {"column": "won", "positive": "yes", "negative": "no"},
 "id": "lead",
 "features": [
  {"name": "spend", "type": "numeric", "missing": "impute", "clip": [0, 5000],
   "transform": "spline", "knots": 6},
  {"name": "tenure", "type": "numeric", "clip": [0, 60], "transform": "bins", "knots": 5}]}
""")
