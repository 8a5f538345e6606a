"""check_meanbyte.py CORPUS T -- COMMAND...: runs COMMAND (an eval or train of
meanbyte.grad, whose loss is the mean target byte), and checks the
validation loss it prints is the mean target byte over the whole validation
split, the last 10% of CORPUS, cut into windows of T that do not overlap
(window k's targets are bytes kT+1 .. kT+T), and that its bits per byte are
that loss / ln 2."""
import math
import re
import subprocess
import sys

corpus, T = sys.argv[1], int(sys.argv[2])
cmd = sys.argv[sys.argv.index("--") + 1:]
text = open(corpus, "rb").read()
val = text[int(len(text) * 0.9):]
windows = (len(val) - 1) // T
want = sum(val[1:windows * T + 1]) / (windows * T)
out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
m = re.search(r"(?:^loss|validation loss) ([0-9.]+) \(([0-9.]+) bits/byte\)", out, re.M)
if not m:
    sys.exit(f"no validation loss with bits/byte in:\n{out}")
loss, bpb = float(m.group(1)), float(m.group(2))
# The model sums in f32: a few units in the 7th digit.
if abs(loss - want) > 1e-6 * want:
    sys.exit(f"validation loss {loss}, but the mean target byte over {windows} windows is {want}")
if abs(bpb - want / math.log(2)) > 1e-4:
    sys.exit(f"{bpb} bits/byte, but {want} / ln 2 is {want / math.log(2)}")
print(f"ok: {windows} windows, loss {loss}, {bpb} bits/byte")
