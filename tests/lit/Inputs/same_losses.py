"""same_losses.py REFERENCE.log OTHER.log... --rtol R

Every progress line's loss ("step N/M  loss X") and the final loss and
validation loss on the `done:` line must agree between the reference log
and each other log within relative tolerance R (absolute floor 1e-6).
Prints the largest difference seen."""
import re
import sys

args = sys.argv[1:]
rtol = float(args[args.index("--rtol") + 1])
logs = [a for i, a in enumerate(args) if a != "--rtol" and (i == 0 or args[i - 1] != "--rtol")]


def losses(path):
    text = open(path).read()
    out = {f"step {m.group(1)}": float(m.group(2)) for m in re.finditer(r"^step\s+(\d+)/\d+\s+loss (\S+)", text, re.M)}
    done = [l for l in text.splitlines() if l.startswith("done:")]
    if not done:
        sys.exit(f"FAIL: no 'done:' line in {path}")
    for name in ("final loss", "validation loss"):
        m = re.search(name + r" (-?[0-9.e+-]+)", done[-1])
        if m:
            out[name] = float(m.group(1))
    return out


ref = losses(logs[0])
worst = 0.0
for other in logs[1:]:
    got = losses(other)
    if set(got) != set(ref):
        sys.exit(f"FAIL: {other} reports {sorted(got)}, the reference {sorted(ref)}")
    for k, v in ref.items():
        diff = abs(got[k] - v) / max(abs(v), 1e-6)
        worst = max(worst, diff)
        if diff > rtol:
            sys.exit(f"FAIL: {k}: {v} in {logs[0]} but {got[k]} in {other} (relative difference {diff:.2e} > {rtol})")
print(f"OK: {len(ref)} losses agree in {len(logs)} logs; largest relative difference {worst:.2e}")
