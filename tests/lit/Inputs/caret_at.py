#!/usr/bin/env python3
# caret_at.py TEXT < diagnostics: checks that the first "FILE:LINE:COL:
# error:" points at TEXT, both by its column in the echoed source line and
# by its caret (the line below it). Prints "caret at TEXT" or why not, and
# exits non-zero when it is not.
import re
import sys

want = sys.argv[1]
lines = sys.stdin.read().splitlines()
for i, line in enumerate(lines):
    m = re.search(r":(\d+):(\d+): error:", line)
    if not m:
        continue
    col = int(m.group(2))
    source = lines[i + 1] if i + 1 < len(lines) else ""
    caret = lines[i + 2] if i + 2 < len(lines) else ""
    if not source[col - 1:].startswith(want):
        sys.exit(f"column {col} is at {source[col - 1:]!r}, not {want!r}: {line}")
    if caret.find("^") != col - 1:
        sys.exit(f"the caret is at column {caret.find('^') + 1}, not {col}: {line}")
    print(f"caret at {want}")
    sys.exit(0)
sys.exit("no located error in the input")
