"""Checks a `train --profile-top 0` listing: one row per kernel of the
step, more than the 25 listed by default, and no "(N more kernels)" line.
With threads, each row also says how long the caller waited in that kernel
for the other threads: the column must add up to the total wait the
summary line gives."""
import re
import sys

text = open(sys.argv[1]).read()
kernels = int(re.search(r"profile of 'train': (\d+) kernels", text).group(1))
waits = re.search(r"^\s+share\s+us/run\s+waited", text, re.M) is not None
if waits:
    rows = re.findall(r"^\s+[\d.]+%\s+[\d.]+\s+([\d.]+)\s+\d+\s+\S", text, re.M)
else:
    rows = re.findall(r"^\s+[\d.]+%\s+[\d.]+\s+\d+\s+\S", text, re.M)
if kernels <= 25 or len(rows) != kernels or "more kernels" in text:
    sys.exit(f"expected {kernels} (> 25) kernel rows and no summary line, got {len(rows)}:\n{text}")
if waits:
    total = float(re.search(r"the caller waited ([\d.]+) us per run", text).group(1))
    column = sum(float(w) for w in rows)
    # Each row is rounded to 0.1 us.
    if abs(column - total) > 0.05 * len(rows) + 0.1:
        sys.exit(f"the waited column adds up to {column:.1f} us, the total says {total:.1f}:\n{text}")
