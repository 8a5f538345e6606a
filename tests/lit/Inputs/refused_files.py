"""refused_files.py DIR LIN_CKPT - writes the malformed inputs that
tests/lit/e2e/Inputs/refused_inputs.txt feeds to model executables: CSV
files, text corpora and damaged copies of the checkpoint LIN_CKPT (of
linreg: tensors w [1,1] and b [1])."""
import copy
import json
import os
import random
import struct
import sys

d, lin = sys.argv[1], sys.argv[2]


def put(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# CSV files for linreg (columns x, y) and indices.grad (columns c, label).
rows = "".join(f"{i / 10},{i / 5}\n" for i in range(40))
put("empty.csv", "")
put("blank.csv", "\n\n  \n")
put("hdr.csv", "x,y\n")
put("noy.csv", "x\n1\n2\n")
put("unk.csv", "a,b\n1,2\n")
put("case.csv", "X,Y\n1,2\n")
put("dup.csv", "x,y,x\n1,2,3\n")
put("extra.csv", "id,x,y\n" + "".join(f"{i},{i},{2 * i}\n" for i in range(40)))
put("nonnum.csv", "x,y\n1,abc\n")
put("nan.csv", "x,y\n1,2\n2,nan\n")
put("inf.csv", "x,y\n1,inf\n")
put("ninf.csv", "x,y\n1,-Infinity\n")
# strtod reads hexadecimal; a CSV holds decimals.
put("hex.csv", "x,y\n1,2\n0x10,3\n")
put("cell.csv", "x,y\n1,\n")
put("ragged.csv", "x,y\n1,2\n2\n")
put("ragged3.csv", "x,y\n1,2,5\n")
put("trail.csv", "x,y\n1,2,\n")
put("trailhdr.csv", "x,y,\n1,2,\n")
put("crlf.csv", "x,y\r\n" + rows.replace("\n", "\r\n"))
put("one.csv", "x,y\n1,2\n")
put("cr.csv", "x,y\r" + rows.replace("\n", "\r"))
put("tiny.csv", "x,y\n" + rows.replace("\n", "e-400\n"))
put("huge.csv", "x,y\n1,1e400\n")
put("bom.csv", "\ufeffx,y\n" + rows)
put("quoted.csv", '"x","y"\n' + "".join(f'"{i}","{i}"\n' for i in range(40)))
put("comma.csv", 'x,y\n1,"2,5"\n')
put("tab.csv", "x\ty\n1\t2\n")
put("semi.csv", "x;y\n1;2\n")
put("long.csv", "x,y\n1," + "9" * 300000 + "\n")
put("wide.csv", "x,y\n1,2" + "," * 100000 + "\n")
put("nul.csv", "x,y\n1,2\0\n")
random.seed(1)
put("garbage.csv", bytes([0x89]) + b"PNG\r\n\x1a\n" + bytes(random.randrange(256) for _ in range(4000)))
put("ifrac.csv", "c,label\n0,1\n1,2.5\n")
put("ibig.csv", "c,label\n0,1\n1,3000000000\n")
put("ineg.csv", "c,label\n0,1\n-2147483649,1\n")
put("i1e10.csv", "c,label\n0,1\n1,1e10\n")
put("inan.csv", "c,label\n0,1\n1,nan\n")
# Text corpora.
put("empty.txt", "")
put("short.txt", "hello, world\n")
put("bin.txt", bytes(random.randrange(256) for _ in range(30)))

# Checkpoints: damaged copies of linreg's.
data = open(lin, "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
# What is checked behind the checksum, as a checkpoint saved before
# checksums meets it: the copies have none (with one, each would be
# "damaged"; checkpoint_checksum.test covers that).
header["__metadata__"].pop("checksum", None)
# And what saves wrote only after checksums (a file with them and no
# checksum is refused as damaged).
for later in ("constants", "history.train", "history.val", "log_every", "eval_every", "window_steps", "window_loss"):
    header["__metadata__"].pop(later, None)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
n, data = len(text), struct.pack("<Q", len(text)) + text + body
put("t0.ckpt", b"")
put("t5.ckpt", data[:5])
put("t8.ckpt", data[:8])
put("thdr.ckpt", data[:8 + n // 2])
put("tbody.ckpt", data[:8 + n + 2])
put("tlast.ckpt", data[:-1])
put("zip.ckpt", b"PK\x03\x04" + bytes(60))
put("text.ckpt", "w = 3.0\nb = 2.0\n")
put("hlen0.ckpt", struct.pack("<Q", 0) + data[8:])
put("hbig.ckpt", struct.pack("<Q", 10**6) + data[8:])
put("hhuge.ckpt", struct.pack("<Q", 2**64 - 1) + data[8:])
put("json.ckpt", data[:8] + data[8:8 + n].replace(b'"dtype"', b'"dtype', 1) + body)
put("jsonarr.ckpt", struct.pack("<Q", 8) + b"[1,2,3] " + body)


def edited(name, change):
    h = copy.deepcopy(header)
    change(h)
    text = json.dumps(h).encode()
    text += b" " * (-len(text) % 8)
    put(name, struct.pack("<Q", len(text)) + text + body)


edited("f16.ckpt", lambda h: h["w"].update(dtype="F16"))
edited("i32.ckpt", lambda h: h["w"].update(dtype="I32"))
edited("rank.ckpt", lambda h: h["w"].update(shape=[1]))
edited("shapeneg.ckpt", lambda h: h["w"].update(shape=[-1, 1]))
edited("overlap.ckpt", lambda h: h["b"].update(data_offsets=h["w"]["data_offsets"]))
edited("reversed.ckpt", lambda h: h["w"].update(data_offsets=[4, 0]))
edited("size.ckpt", lambda h: h["w"].update(data_offsets=[0, 8]))
edited("nodtype.ckpt", lambda h: h["w"].pop("dtype"))
edited("notobj.ckpt", lambda h: h.update(w=5))
edited("nometa.ckpt", lambda h: h.pop("__metadata__"))
edited("nostep.ckpt", lambda h: h["__metadata__"].pop("step"))
edited("nomodel.ckpt", lambda h: h["__metadata__"].pop("model"))
edited("metanum.ckpt", lambda h: h["__metadata__"].update(step=5))
edited("metaarr.ckpt", lambda h: h.update(__metadata__=[1]))
edited("other.ckpt", lambda h: h["__metadata__"].update(model="mlp"))
edited("extra.ckpt", lambda h: h.update(zzz={"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}))
