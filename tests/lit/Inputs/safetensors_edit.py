"""safetensors_edit.py IN OUT [EDIT...] - writes a damaged copy of a
checkpoint, for tests of what the runtime refuses. Edits:
  meta:KEY=VALUE        set a metadata string
  dropmeta:KEY          remove a metadata string (as an older save lacks it)
  offsets:NAME=A,B      replace a tensor's data_offsets with the raw JSON A, B
  shape:NAME=RAW        replace a tensor's shape with the raw JSON list RAW
  nan:NAME              make the first element of an F32 tensor NaN
  drop:NAME             remove a tensor from the header (its bytes stay)
  dupmeta:KEY=VALUE     give metadata KEY a second value (a duplicate key)
  neg:NAME              make the first element of an F32 tensor -1
  append:N              append N zero bytes after the tensors' data
  nosum                 keep the checksum as it was (by default a checkpoint
                        that has one gets the edited file's, so that the
                        edit reaches the check it is for): damage
  dropsum               remove the checksum, and what saves wrote only
                        later (constants, the loss history, the progress
                        window), as a checkpoint saved before checksums
  losesum               remove the checksum alone: damage (a key that names
                        it misspelt), refused since the later fields show
                        the file had one
  flip:OFFSET           xor the byte at OFFSET of the tensors' data with 0x40
  spaced                write the header as json.dumps does by default, with
                        a space after each ',' and ':' (as a JSON tool
                        rewrites it), keeping the checksum as it was"""
import json
import struct
import sys

M = 2**64 - 1
K = 0x9E3779B97F4A7C15


def checksum(data):
    """grt::Checksum (runtime/core/Support.cpp) of `data`: a checkpoint's,
    with its own 16 digits as zeros (runtime/driver/Checkpoint.cpp)."""
    lanes = [1, 2, 3, 4]
    whole = len(data) // 32 * 32
    words = struct.unpack("<%dQ" % (whole // 8), data[:whole])
    for i in range(0, len(words), 4):
        for j in range(4):
            x = ((lanes[j] ^ words[i + j]) * K) & M
            lanes[j] = x ^ (x >> 29)
    h = 0
    for x in lanes:
        h = ((h ^ x) * K) & M
        h ^= h >> 29
    for c in data[whole:]:
        h = ((h ^ c) * 1099511628211) & M
    h = ((h ^ len(data)) * K) & M
    return h ^ (h >> 32)


src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(src, "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = bytearray(data[8 + n:])
raw = {}  # name -> {field: raw JSON text}
dups = []  # (key, value): metadata keys given twice
resum = "checksum" in header.get("__metadata__", {})
separators = (",", ":")
for e in edits:
    if e == "nosum":
        resum = False
        continue
    if e == "spaced":
        resum = False
        separators = (", ", ": ")
        continue
    if e in ("dropsum", "losesum"):
        resum = False
        del header["__metadata__"]["checksum"]
        if e == "dropsum":
            for later in ("constants", "history.train", "history.val", "log_every", "eval_every",
                          "window_steps", "window_loss"):
                header["__metadata__"].pop(later, None)
        continue
    kind, arg = e.split(":", 1)
    if kind == "meta":
        k, v = arg.split("=", 1)
        header.setdefault("__metadata__", {})[k] = v
    elif kind == "dropmeta":
        del header["__metadata__"][arg]
    elif kind in ("offsets", "shape"):
        name, v = arg.split("=", 1)
        raw.setdefault(name, {})["data_offsets" if kind == "offsets" else "shape"] = "[" + v + "]" if kind == "offsets" else v
    elif kind == "nan":
        start = header[arg]["data_offsets"][0]
        body[start:start + 4] = struct.pack("<f", float("nan"))
    elif kind == "drop":
        del header[arg]
    elif kind == "neg":
        start = header[arg]["data_offsets"][0]
        body[start:start + 4] = struct.pack("<f", -1.0)
    elif kind == "append":
        body += bytes(int(arg))
    elif kind == "flip":
        body[int(arg)] ^= 0x40
    elif kind == "dupmeta":
        dups.append(tuple(arg.split("=", 1)))
    else:
        sys.exit(f"unknown edit {e}")
if resum:
    header["__metadata__"]["checksum"] = "0" * 16
# Raw replacements go in as text, so values Python's json would not write
# (1e300 as an offset) reach the reader exactly.
text = json.dumps(header, separators=separators)
for name, fields in raw.items():
    entry = header[name]
    old = json.dumps({name: entry}, separators=(",", ":"))[1:-1]
    new_entry = json.dumps(entry, separators=(",", ":"))
    for field, value in fields.items():
        new_entry = new_entry.replace(f'"{field}":' + json.dumps(entry[field], separators=(",", ":")), f'"{field}":{value}')
    text = text.replace(old, json.dumps(name) + ":" + new_entry)
for k, v in dups:
    text = text.replace('"__metadata__":{', '"__metadata__":{' + json.dumps(k) + ":" + json.dumps(v) + ",", 1)
text += " " * (-len(text) % 8)
out = struct.pack("<Q", len(text)) + text.encode() + bytes(body)
if resum:
    out = out.replace(b'"checksum":"' + b"0" * 16 + b'"', b'"checksum":"' + b"%016x" % checksum(out) + b'"', 1)
with open(dst, "wb") as f:
    f.write(out)
