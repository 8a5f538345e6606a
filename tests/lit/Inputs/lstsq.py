"""Least-squares line fit, for checking what linreg learns.

  lstsq.py gen FILE N SEED     write a CSV x,y with N rows of y = a·x + c + noise
  lstsq.py check FILE CKPT TOL compare the checkpoint's w, b with the closed form
"""
import random
import subprocess
import sys


def gen(path, n, seed):
    rng = random.Random(seed)
    a, c = rng.uniform(-4, 4), rng.uniform(-2, 2)
    with open(path, "w") as f:
        f.write("x,y\n")
        for _ in range(n):
            x = rng.uniform(-2, 2)
            f.write(f"{x!r},{a * x + c + rng.gauss(0, 0.3)!r}\n")


def check(path, ckpt, tol):
    xs, ys = [], []
    with open(path) as f:
        next(f)
        for line in f:
            x, y = line.split(",")
            xs.append(float(x))
            ys.append(float(y))
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    w = sxy / sxx
    b = my - w * mx
    out = subprocess.run([sys.executable, __file__.replace("lstsq.py", "safetensors_dump.py"), ckpt],
                         capture_output=True, text=True, check=True).stdout
    learned = {}
    for line in out.splitlines():
        if " = " in line and not line.startswith("meta"):
            name, vals = line.split(" = ")
            learned[name] = float(vals.split()[0])
    dw, db = abs(learned["w"] - w), abs(learned["b"] - b)
    print(f"closed form w = {w:.6f} b = {b:.6f}; learned w = {learned['w']:.6f} b = {learned['b']:.6f}")
    if dw > tol or db > tol:
        sys.exit(f"FAIL: differences {dw:.2e}, {db:.2e} exceed {tol}")
    print(f"OK: within {tol}")


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        check(sys.argv[2], sys.argv[3], float(sys.argv[4]))
