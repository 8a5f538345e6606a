"""write_safetensors.py OUT NAME=DIMS:VALUE[:DTYPE]... - writes a safetensors
file of F32 tensors, each filled with one value, and no metadata but
PyTorch's {"format": "pt"}: weights as another framework exports them, with
none of what a gradc checkpoint adds (model name, step, checksum, optimizer
state). DIMS is comma-separated ("2,32"; empty for a scalar). A DTYPE other
than F32 (C64, F8_E8M0: dtypes gradc has no use for) gets zero bytes."""
import json
import struct
import sys

header, blobs, offset = {}, [], 0
for arg in sys.argv[2:]:
    name, spec = arg.split("=", 1)
    dims, value, dtype = (spec.split(":") + ["F32"])[:3]
    shape = [int(d) for d in dims.split(",") if d]
    count = 1
    for d in shape:
        count *= d
    if dtype == "F32":
        blob = struct.pack("<%df" % count, *([float(value)] * count))
    else:
        blob = bytes(count * {"C64": 8, "F8_E8M0": 1}[dtype])
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
    offset += len(blob)
    blobs.append(blob)
header["__metadata__"] = {"format": "pt"}
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
