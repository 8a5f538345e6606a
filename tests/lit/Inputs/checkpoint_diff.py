"""checkpoint_diff.py A B [--rtol R]: compares the tensors of two
safetensors checkpoints (gradc's params and optimizer state) and prints
the largest difference relative to each tensor's largest magnitude.
Exits 1 when a tensor is missing from either or differs by more than R
(default 0: bit for bit). Independent of gradc's own reader.

A parameter whose gradient is zero in exact arithmetic (a GPT's key bias:
softmax ignores what it adds to a row of scores) has Adam steps driven by
rounding noise, which any change of summation order changes completely.
Such a parameter, found by its Adam second moment in A being below 1e-20 of
the largest (a gradient RMS 1e-10 of the largest), is listed and skipped
with its optimizer state."""
import json
import struct
import sys

FORMATS = {"F32": "f", "F64": "d", "I32": "i"}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        fmt = FORMATS[t["dtype"]]
        out[name] = struct.unpack("<" + fmt * ((end - start) // struct.calcsize(fmt)), body[start:end])
    return out


args = sys.argv[1:]
rtol = 0.0
if "--rtol" in args:
    i = args.index("--rtol")
    rtol = float(args[i + 1])
    del args[i:i + 2]
a, b = load(args[0]), load(args[1])
if a.keys() != b.keys():
    sys.exit(f"different tensors: {sorted(a.keys() ^ b.keys())}")
second = {n[:-len(".adam_v")]: max(abs(v) for v in a[n]) for n in a if n.endswith(".adam_v")}
top = max(second.values(), default=0.0)
noise = sorted(p for p, v in second.items() if v < 1e-20 * top)
if noise:
    print("skipped, their gradient is rounding noise:", " ".join(noise))
worst, where = 0.0, None
for name in sorted(a):
    if any(name == p or name.startswith(p + ".adam_") for p in noise):
        continue
    scale = max([abs(v) for v in a[name]] + [1e-300])
    d = max((abs(x - y) for x, y in zip(a[name], b[name])), default=0.0) / scale
    if where is None or d > worst:
        worst, where = d, name
print(f"{len(a)} tensors; largest relative difference {worst:.3g} (in {where})")
if worst > rtol:
    sys.exit(f"differs by more than {rtol:g}")
print("same" if worst == 0 else f"within {rtol:g}")
