"""at_least.py A B [FACTOR] — succeeds when the number in file A is at least
FACTOR (default 1) times the number in file B. A file's number is the last
"validation loss X" in it, else the first "loss X", else its last number."""
import re
import sys

def last_number(path):
    text = open(path).read()
    val = re.findall(r"validation loss (-?[0-9][0-9.e+-]*)", text)
    if val:
        return float(val[-1])
    m = re.search(r"loss (-?[0-9][0-9.e+-]*)", text)
    return float(m.group(1) if m else re.findall(r"-?[0-9][0-9.e+-]*", text)[-1])

a, b = last_number(sys.argv[1]), last_number(sys.argv[2])
if len(sys.argv) > 3:
    b *= float(sys.argv[3])
print(f"{a:.9g} {'>=' if a >= b else '<'} {b:.9g}")
sys.exit(0 if a >= b else 1)
