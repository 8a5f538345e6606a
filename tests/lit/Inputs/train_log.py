"""Checks a training log (the executable's stdout) against conditions:

  train_log.py LOG [--loss-falls] [--min METRIC VALUE] [--max METRIC VALUE]

METRIC is a name on the `done:` line (validation loss, accuracy, ...) or
`final loss`. --loss-falls compares the first and last progress lines."""
import re
import sys

log = open(sys.argv[1]).read()
args = sys.argv[2:]
done = [l for l in log.splitlines() if l.startswith("done:")]
if not done:
    sys.exit("FAIL: no 'done:' line in the log")
summary = done[-1]
values = {m.group(1).strip(): float(m.group(2)) for m in re.finditer(r"(?:,|;)\s*([a-z_ ]+?) (-?[0-9.e+-]+|nan|inf)", summary)}
steps = [float(m.group(1)) for m in re.finditer(r"^step\s+\d+/\d+\s+loss (\S+)", log, re.M)]
ok = True
i = 0
while i < len(args):
    a = args[i]
    if a == "--loss-falls":
        if len(steps) < 2 or not steps[-1] < steps[0]:
            print(f"FAIL: loss did not fall: {steps[:1]} ... {steps[-1:]}")
            ok = False
        else:
            print(f"OK: loss fell from {steps[0]} to {steps[-1]}")
        i += 1
    else:
        name, bound = args[i + 1], float(args[i + 2])
        v = values.get(name)
        good = v is not None and (v >= bound if a == "--min" else v <= bound)
        print(f"{'OK' if good else 'FAIL'}: {name} = {v} ({a[2:]} {bound})")
        ok = ok and good
        i += 3
sys.exit(0 if ok else 1)
