"""Checks a `train --profile-top 0` listing: one row per kernel of the
step, more than the 25 listed by default, and no "(N more kernels)" line."""
import re
import sys

text = open(sys.argv[1]).read()
kernels = int(re.search(r"profile of 'train': (\d+) kernels", text).group(1))
rows = re.findall(r"^\s+[\d.]+%\s+[\d.]+\s+\d+\s+\S", text, re.M)
if kernels <= 25 or len(rows) != kernels or "more kernels" in text:
    sys.exit(f"expected {kernels} (> 25) kernel rows and no summary line, got {len(rows)}:\n{text}")
