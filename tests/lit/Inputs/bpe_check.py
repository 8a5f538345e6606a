"""bpe_check.py — an independent reader of the tokenizer files that
`MODEL tokenizer train` writes (tiktoken's plain format), sharing no code
with the runtime:

  bpe_check.py sample OUT CORPUS      write a sample text: a slice of CORPUS
                                      plus digits, UTF-8, invalid UTF-8, NUL,
                                      long runs and every byte value
  bpe_check.py check TOK SAMPLE IDS [--no-presplit]
                                      load TOK (base64 + rank per line; ranks
                                      0..N-1 in order, the first 256 single
                                      bytes, every later token two earlier
                                      ones joined), encode SAMPLE the way
                                      tiktoken does, and compare with IDS
                                      (the executable's `tokenizer encode`);
                                      decode IDS and compare with SAMPLE
  bpe_check.py merges TOK CORPUS N [--no-presplit]
                                      train N merges the naive minbpe way and
                                      compare with ranks 256..256+N-1

Prints one line per check; exits 1 on the first failure."""
import base64
import re
import sys

# GPT-2's pattern on bytes, without contractions; bytes >= 0x80 are letters.
PRESPLIT = re.compile(rb" ?[A-Za-z\x80-\xff]+| ?[0-9]+| ?[^\sA-Za-z0-9\x80-\xff]+|\s+(?!\S)|\s+")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def load(path):
    ranks = {}
    with open(path, "rb") as f:
        for n, line in enumerate(f.read().split(b"\n")[:-1]):
            b64, rank = line.split(b" ")
            token = base64.b64decode(b64, validate=True)
            if int(rank) != n:
                fail(f"{path}:{n + 1}: rank {int(rank)}, expected {n}")
            if token in ranks:
                fail(f"{path}:{n + 1}: duplicate token {token!r}")
            if n < 256 and len(token) != 1:
                fail(f"{path}:{n + 1}: rank {n} is {token!r}, not a single byte")
            if n >= 256 and not any(token[:k] in ranks and token[k:] in ranks for k in range(1, len(token))):
                fail(f"{path}:{n + 1}: {token!r} is not two earlier tokens joined")
            ranks[token] = n
    if len(ranks) < 256:
        fail(f"{path}: only {len(ranks)} tokens")
    return ranks


def bpe(ranks, piece):
    """tiktoken's merge loop: join the adjacent pair whose bytes have the
    lowest rank (the leftmost on a tie) until no pair is a token."""
    parts = [piece[i:i + 1] for i in range(len(piece))]
    while True:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return [ranks[p] for p in parts]


def encode(ranks, text, presplit):
    ids = []
    for piece in (PRESPLIT.findall(text) if presplit else [text] if text else []):
        ids += bpe(ranks, piece)
    return ids


def naive_merges(text, n, presplit):
    words = [list(w) for w in (PRESPLIT.findall(text) if presplit else [text])]
    vocab = {i: bytes([i]) for i in range(256)}
    for k in range(n):
        counts = {}
        for w in words:
            for pair in zip(w, w[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        new = 256 + k
        vocab[new] = vocab[pair[0]] + vocab[pair[1]]
        for j, w in enumerate(words):
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == pair:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[j] = out
    return [vocab[256 + k] for k in range(len(vocab) - 256)]


cmd = sys.argv[1]
presplit = "--no-presplit" not in sys.argv
if cmd == "sample":
    corpus = open(sys.argv[3], "rb").read()
    sample = (corpus[1000:3000] + b" 12345 3.14 x=y+z; caf\xc3\xa9 na\xefve \xff\xfe\xc3\x28 nul\x00byte\n\n\t  "
              + b"a" * 500 + b" " * 300 + bytes(range(256)) + corpus[:200] + b"  \n")
    open(sys.argv[2], "wb").write(sample)
elif cmd == "check":
    ranks = load(sys.argv[2])
    sample = open(sys.argv[3], "rb").read()
    got = [int(x) for x in open(sys.argv[4]).read().split()]
    want = encode(ranks, sample, presplit)
    if got != want:
        i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        fail(f"encodings differ at token {i}: executable {got[i:i + 8]}, python {want[i:i + 8]}")
    print(f"ok: {len(ranks)} tokens loaded; {len(sample)} bytes encode to the same {len(got)} ids")
    byid = {r: t for t, r in ranks.items()}
    if b"".join(byid[i] for i in got) != sample:
        fail("the ids do not decode to the sample")
    print("ok: the ids decode to the sample")
elif cmd == "merges":
    ranks = load(sys.argv[2])
    byid = {r: t for t, r in ranks.items()}
    n = int(sys.argv[4])
    want = naive_merges(open(sys.argv[3], "rb").read(), n, presplit)
    got = [byid[256 + k] for k in range(n)]
    if got != want:
        k = next(k for k in range(n) if got[k] != want[k])
        fail(f"merge {k + 1}: executable {got[k]!r}, python {want[k]!r}")
    print(f"ok: the first {n} merges are minbpe's")
else:
    fail("unknown command " + cmd)
