"""Checks that a training log's validation loss is the exact mean of the
loss terms of the rows held out for validation, whichever rows those are:

  subset_mean.py LOG TERM...

TERM is each data row's loss term, in file order; the log's first line
says how many rows are held out (K). Passes when the validation loss on
the `done:` line, as printed, is the mean of some K of the terms. With
terms that are distinct powers of 4 every choice of K rows has its own
sum, and a batch that counts a held-out row twice (wrapping around) gives
a value no choice of K rows prints."""
import itertools
import re
import sys

log = open(sys.argv[1]).read()
terms = [float(t) for t in sys.argv[2:]]
split = re.search(r"\((\d+) train, (\d+) validation\)", log)
done = re.search(r"^done:.*validation loss ([0-9.]+)", log, re.M)
if not split or not done:
    sys.exit("FAIL: the log names no validation rows or no validation loss")
k, printed = int(split.group(2)), done.group(1)
for rows in itertools.combinations(range(len(terms)), k):
    if f"{sum(terms[r] for r in rows) / k:.6f}" == printed:
        print(f"OK: validation loss {printed} is the mean over data rows {[r + 1 for r in rows]}")
        sys.exit(0)
print(f"FAIL: validation loss {printed} is not the mean of any {k} of the {len(terms)} rows")
sys.exit(1)
