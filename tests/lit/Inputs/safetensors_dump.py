"""Prints every tensor of a safetensors file as `name = v1 v2 ...` and its
metadata as `meta key = value`. A reader independent of gradc's own, so
tests show the checkpoints are plain safetensors."""
import json
import struct
import sys

FORMATS = {"F32": "f", "F64": "d", "I32": "i"}

with open(sys.argv[1], "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
for key, value in header.get("__metadata__", {}).items():
    print(f"meta {key} = {value}")
for name, t in header.items():
    if name == "__metadata__":
        continue
    start, end = t["data_offsets"]
    fmt = FORMATS[t["dtype"]]
    count = (end - start) // struct.calcsize(fmt)
    values = struct.unpack("<" + fmt * count, body[start:end])
    print(name, "=", " ".join(repr(v) for v in values))
