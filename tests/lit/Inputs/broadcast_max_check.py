"""broadcast_max_check.py CSV PREDICT_OUTPUT

The predict output of slp_miscompile.test's model prints, per row, the
inputs x2 [5,1] and x3 [1,3] and then v5 = maximum(x3, x2) [5,3]; checks
every element of v5 against max computed here."""
import csv
import sys

rows = list(csv.DictReader(open(sys.argv[2])))
bad = 0
for r in rows:
    x2 = [float(r[f"x2[{i}]"]) for i in range(5)]
    x3 = [float(r[f"x3[{j}]"]) for j in range(3)]
    for i in range(5):
        for j in range(3):
            got, want = float(r[f"v5[{i * 3 + j}]"]), max(x3[j], x2[i])
            if abs(got - want) > 1e-7 * max(1.0, abs(want)):
                print(f"v5[{i},{j}] = {got}, expected max({x3[j]}, {x2[i]}) = {want}")
                bad += 1
print(f"{len(rows)} rows, {bad} wrong elements")
sys.exit(1 if bad else 0)
