"""sin_data.py FILE N SEED — N rows of y = sin(x), x uniform on [-π, π]; then
prints the mean squared error of the least-squares straight line through
them, the best any linear model can do."""
import math
import random
import sys

path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
xs = [rng.uniform(-math.pi, math.pi) for _ in range(n)]
ys = [math.sin(x) for x in xs]
with open(path, "w") as f:
    f.write("x,y\n")
    for x, y in zip(xs, ys):
        f.write(f"{x!r},{y!r}\n")
mx, my = sum(xs) / n, sum(ys) / n
w = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
b = my - w * mx
print(f"{sum((w * x + b - y) ** 2 for x, y in zip(xs, ys)) / n:.9g}")
