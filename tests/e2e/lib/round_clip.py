"""The schema round's clip ranges worked out by hand, independently of
fedlead (schema_round_transforms.sh, fed_mapping.sh): for each CSV given,
the column's values (empty and "n/a" fields skipped) sorted; a bound at
the 1st (99th) percentile by rank, but at least k ranks from its end,
rounded outward to two significant digits exactly (in fractions of the
values as written); moved
inward one rank at a time until at least k values round to the same
bound, up to the median; none for fewer than max(4 k, 50) values or k < 2.
Prints "pN LO HI" or "pN none" per file (N counting from 1) and
"union LO HI" over the ranges found (numbers as %.15g).
Usage: round_clip.py K COLUMN CSV..."""
import csv, math, sys
from fractions import Fraction


def outward(x, up):
    if x == 0:
        return 0.0
    e = math.floor(math.log10(abs(x)))
    while Fraction(10) ** e > abs(Fraction(x)):
        e -= 1
    while Fraction(10) ** (e + 1) <= abs(Fraction(x)):
        e += 1
    q = Fraction(x) / Fraction(10) ** (e - 1)
    return float((math.ceil(q) if up else math.floor(q)) * Fraction(10) ** (e - 1))


def bound(v, k, i, step, up, inside):
    while inside(i):
        b = outward(v[i], up)
        if sum(1 for x in v if outward(x, up) == b) >= k:
            return b
        i += step
    return None


k, col = int(sys.argv[1]), sys.argv[2]
lo, hi = [], []
for p, path in enumerate(sys.argv[3:], 1):
    # Fractions of the text as written: the node rounds "0.3" down to
    # 0.3, as the decimal reads, not to 0.29 as the nearest double
    # (0.29999999999999998...) would by exact arithmetic.
    v = sorted(Fraction(r[col]) for r in csv.DictReader(open(path)) if r[col] not in ("", "n/a"))
    n = len(v)
    l = h = None
    if k >= 2 and n >= max(4 * k, 50):
        a = max(k, math.floor(0.01 * (n - 1)))
        b = min(n - 1 - k, math.ceil(0.99 * (n - 1)))
        l = bound(v, k, a, 1, 0, lambda i: i <= (n - 1) // 2)
        h = bound(v, k, b, -1, 1, lambda i: i >= n // 2)
    if l is None or h is None:
        print("p%d none" % p)
        continue
    lo.append(l)
    hi.append(h)
    print("p%d %.15g %.15g" % (p, l, h))
if lo:
    print("union %.15g %.15g" % (min(lo), max(hi)))
