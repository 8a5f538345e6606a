"""val_rows_csv.py ROWS VALFRAC - prints a CSV for linreg (x,y) whose
validation rows, as the runtime splits them, hold y = 1e20: its square
overflows f32, so the validation loss is infinite while the training rows
stay ordinary. Mirrors TableData::split (runtime/driver/Data.cpp): PCG32
seeded (12345, hashName("split")), a Fisher-Yates permutation, and the
last rows of it held out."""
import sys

M = (1 << 64) - 1


def fnv1a(s):
    h = 1469598103934665603
    for c in s.encode():
        h = ((h ^ c) * 1099511628211) & M
    return h


class Pcg:
    def __init__(self, seed, stream):
        self.inc = ((stream << 1) | 1) & M
        self.state = 0
        self.next()
        self.state = (self.state + seed) & M
        self.next()

    def next(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & M
        x = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((x >> rot) | (x << ((32 - rot) & 31))) & 0xFFFFFFFF

    def below(self, n):
        limit = M - M % n
        while True:
            x = (self.next() << 32) | self.next()
            if x < limit:
                return x % n


n, frac, batch = int(sys.argv[1]), float(sys.argv[2]), 32
val = min(max(1, int(n * frac)), n - batch)
perm = list(range(n))
rng = Pcg(12345, fnv1a("split"))
for i in range(n - 1, 0, -1):
    j = rng.below(i + 1)
    perm[i], perm[j] = perm[j], perm[i]
held = set(perm[n - val:])
print("x,y")
for r in range(n):
    x = r / n
    print(f"{x},{1e20 if r in held else 3 * x + 2}")
