"""Feeds gradc hundreds of broken variants of the examples and checks that
each run ends cleanly: exit 0 (it happened to stay valid) or 1 (errors
reported), never a crash, an internal error (70) or a hang.

  mutate.py GRADC COUNT SEED FILE... SCRATCH
"""
import random
import subprocess
import sys

gradc, count, seed, files, scratch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:-1], sys.argv[-1]
rng = random.Random(seed)
sources = [open(f).read() for f in files]
pieces = list("()[]{}@+-*/=,:.#\"\n0123456789") + ["model", "fn", "param", "input", "return", "for", "in", "..",
                                                   "train", "data", "none", "1e999", "-", "[0,", "x", "f32[", "]]"]
bad = 0
for i in range(count):
    text = rng.choice(sources)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text = text[:pos] + text[pos + rng.randint(1, 8):]
        elif op < 0.8:
            text = text[:pos] + rng.choice(pieces) + text[pos:]
        else:
            text = text[:pos] + chr(rng.randrange(1, 256)) + text[pos:]
    path = scratch + ".grad"
    with open(path, "wb") as f:
        f.write(text.encode("utf-8", errors="surrogateescape"))
    try:
        r = subprocess.run([gradc, "dump", path, "--stage=loops"], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        print(f"HANG on mutation {i}:\n{text}")
        bad += 1
        continue
    if r.returncode not in (0, 1):
        print(f"exit {r.returncode} on mutation {i}:\n{r.stderr.decode(errors='replace')[-2000:]}\n--- input:\n{text}")
        bad += 1
print(f"{count} mutations, {bad} bad")
sys.exit(1 if bad else 0)
