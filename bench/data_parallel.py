#!/usr/bin/env python3
"""bench/data_parallel.py - one process with two threads against two
processes with one thread each (mpirun), on the same global batch.

  python3 bench/data_parallel.py [--build DIR] [--reps N] [--configs baby,big]

(About 6 minutes on 2 cores with the default 3 repetitions; it trains on
the first 400 kB of Debian's fortunes.)

For the baby GPT (examples/gpt.grad, B = 12) and the 6-layer configuration
(-D n_layer=6 -D n_head=6 -D n_embd=384 -D T=256, B = 8) it builds the model
twice with --data-parallel: with the whole batch B for one process, and
with B/2 for each of two. Both then train on the same global batch of B
windows, so their step times compare directly. It reports, alternating the
two runs --reps times and taking medians of each run's own median:

  1×2T        ms per step, one process, --threads 2
  2×1T        ms per step, mpirun -np 2, --threads 1 each, with --overlap:
              averaging the gradients in 1 MiB buckets while the backward
              pass runs
  no overlap  the same with --no-overlap (the default on one machine):
              averaging after the backward pass
  exposed     ms per step the main thread waits for averaged gradients,
              with overlap and without (then: the whole all-reduce)
  efficiency  1×2T / 2×1T: the throughput two processes reach, relative to
              one process on both cores (the issue's goal: at least 90%)
  MiB         bytes all-reduced per step (every gradient, f32)

Prints the CPU model first; figures from another CPU are not comparable.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {
    "baby": ([], 12, 60),
    "big": (["-D", "n_layer=6", "-D", "n_head=6", "-D", "n_embd=384", "-D", "T=256"], 8, 12),
}
DONE = re.compile(r"median ([0-9.]+) ms/step(?:, ([0-9.]+) ms of it (?:averaging gradients|waiting for averaged gradients) "
                  r"\((\d+)%, ([0-9.]+) (\w+) in)?")


def cpu_model():
    info = {}
    for line in open("/proc/cpuinfo"):
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    isa = "AVX-512" if "avx512f" in info.get("flags", "") else "AVX2" if "avx2" in info.get("flags", "") else "no AVX2"
    return (f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')} model "
            f"{info.get('model', '?')}, {isa})")


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--configs", default="baby,big")
    args = ap.parse_args()
    gradc = os.path.join(args.build, "tools", "gradc")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs")
    print("| model | global batch | 1×2T ms/step | 2×1T ms/step | no overlap ms/step | exposed ms: overlap / none "
          "| efficiency | MiB all-reduced |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        # 400 kB of the default corpus: enough windows to train on, and a
        # validation split small enough that the final full validation of
        # each run does not dominate the benchmark.
        corpus = os.path.join(tmp, "corpus.txt")
        text = b""
        src = "/usr/share/games/fortunes"
        for f in sorted(os.listdir(src)):
            path = os.path.join(src, f)
            if os.path.isfile(path) and not f.endswith(".dat") and not f.endswith(".u8"):
                text += open(path, "rb").read()
            if len(text) > 400_000:
                break
        open(corpus, "wb").write(text[:400_000])
        for name in args.configs.split(","):
            defines, batch, steps = CONFIGS[name]
            exe = {}
            for b in (batch, batch // 2):
                exe[b] = os.path.join(tmp, f"{name}{b}")
                run([gradc, "build", "--data-parallel", *defines, "-D", f"B={b}",
                     os.path.join(ROOT, "examples", "gpt.grad"), "-o", exe[b]])
            one, two, plain, exposed, exposed_plain, mib = [], [], [], [], [], 0.0
            train = ["train", "--steps", str(steps), "--quiet", "--data", corpus]
            for _ in range(args.reps):
                m = DONE.search(run([exe[batch], *train, "--threads", "2"]))
                one.append(float(m.group(1)))
                m = DONE.search(run(["mpirun", "-np", "2", exe[batch // 2], *train, "--threads", "1", "--overlap"], env))
                two.append(float(m.group(1)))
                exposed.append(float(m.group(2)))
                mib = float(m.group(4)) * (1024 if m.group(5) == "GiB" else 1)
                m = DONE.search(run(["mpirun", "-np", "2", exe[batch // 2], *train, "--threads", "1", "--no-overlap"], env))
                plain.append(float(m.group(1)))
                exposed_plain.append(float(m.group(2)))
            a, b, c = statistics.median(one), statistics.median(two), statistics.median(plain)
            print(f"| {name} | {batch} | {a:.1f} | {b:.1f} | {c:.1f} | {statistics.median(exposed):.2f} / "
                  f"{statistics.median(exposed_plain):.2f} | {100 * a / b:.0f}% | {mib:.1f} |", flush=True)


if __name__ == "__main__":
    main()
