"""write_safetensors.py OUT NAME=DIMS:VALUE... - writes a safetensors file
of F32 tensors, each filled with one value, and no metadata but PyTorch's
{"format": "pt"}: weights as another framework exports them, with none of
what a gradc checkpoint adds (model name, step, checksum, optimizer state).
DIMS is comma-separated ("2,32"; empty for a scalar)."""
import json
import struct
import sys

header, blobs, offset = {}, [], 0
for arg in sys.argv[2:]:
    name, spec = arg.split("=", 1)
    dims, value = spec.split(":")
    shape = [int(d) for d in dims.split(",") if d]
    count = 1
    for d in shape:
        count *= d
    blob = struct.pack("<%df" % count, *([float(value)] * count))
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
    offset += len(blob)
    blobs.append(blob)
header["__metadata__"] = {"format": "pt"}
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
