#!/usr/bin/env python3
"""bench/run.py - gradc against PyTorch on the CPU, side by side in one run.

  python3 bench/run.py [--build DIR] [--out FILE] [--reps N] [--no-torch] [--smoke]
                       [--models a,b] [--threads 1,2] [--precision f32|bf16]

For every example (and bench/mlp64.grad, the MLP of the performance
targets) it measures, in one run on this machine:

  compile    wall seconds of `gradc build` (median of 3)
  step       median milliseconds per training step at 1 and 2 threads:
             ours from the executable's own `done:` line, PyTorch's from
             bench/torch_ref.py (same model, batch, optimizer). PyTorch is
             run with each thread split (torch.set_num_threads vs OpenMP vs
             OpenBLAS threads) and its best is quoted.
  speedup    PyTorch's best step / ours, at the same thread count; "best vs
             best" compares each side at its fastest thread count
  peak RSS   the largest resident set of the training process (MiB), ours
             vs PyTorch's, from the kernel's accounting of each child

PyTorch's matrix products run in OpenBLAS (Debian's build links it). Its
0.3.21 does not know CPUs newer than it and falls back to a generic kernel
2-6x slower than its AVX-512 one; run.py asks which kernel PyTorch gets
and, when it is generic on a CPU with AVX2 or AVX-512, runs PyTorch with
OPENBLAS_CORETYPE set to the matching kernel and says so. The table's
header names the CPU and the kernel; a reference still crippled is marked
in the header and in every ratio.

Each measurement is repeated --reps times, alternating ours and PyTorch's,
and the median is reported. Prints a Markdown table (the one in README.md)
and writes it to --out when given. --smoke compiles two small models, runs
a few steps of ours only and checks the figures parse (part of the tests).
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, source, steps for ours, steps for PyTorch
MODELS = [
    ("linreg", "examples/linreg.grad", 20000, 2000),
    ("logreg", "examples/logreg.grad", 20000, 2000),
    ("mlp_1d", "examples/mlp_1d.grad", 20000, 2000),
    ("mlp_nd", "examples/mlp_nd.grad", 10000, 1000),
    ("moons", "examples/moons.grad", 10000, 1000),
    ("mlp64", "bench/mlp64.grad", 5000, 1000),
    ("gpt", "examples/gpt.grad", 60, 40),
]
# Measured only when --models names them (a step takes seconds): the README's
# bigger language model, nanoGPT's shakespeare-char shape with dropout 0.2.
# name: (source, steps for ours, steps for PyTorch, gradc build flags, torch_ref.py flags)
GPT6 = ["-D", "n_layer=6", "-D", "n_head=6", "-D", "n_embd=384", "-D", "T=256", "-D", "B=8"]
GPT6_TORCH = ["--layers", "6", "--heads", "6", "--embd", "384", "--context", "256", "--batch", "8"]
EXTRA_MODELS = {
    "gpt6": ("examples/gpt.grad", 20, 12, GPT6, GPT6_TORCH),
    "gpt6_dropout": ("examples/gpt.grad", 20, 12, GPT6 + ["-D", "dropout_rate=0.2"], GPT6_TORCH + ["--dropout", "0.2"]),
}


def run(cmd, env=None):
    """Runs cmd; returns (stdout+stderr, wall seconds, peak RSS in MiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    out = p.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed with status {p.returncode}:\n{out}")
    return out, wall, usage.ru_maxrss / 1024.0


def median_ms(out, who):
    m = re.search(r"median ([0-9.]+) ms/step", out)
    if not m:
        sys.exit(f"bench: no 'median ... ms/step' in the output of {who}:\n{out}")
    return float(m.group(1))


def torch_configs(threads):
    """Thread splits to try for PyTorch at this thread count: (torch threads, env)."""
    if threads == 1:
        return [(1, {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})]
    return [
        (threads, {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1"}),
        (1, {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": str(threads)}),
        (threads, {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}),
    ]


def fmt_ms(x):
    return f"{x:.4g}"


# OpenBLAS's generic (pre-AVX2) kernels, what it falls back to on a CPU it
# does not recognise; bench/gemm_bench.cpp has the same list.
GENERIC_CORES = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
                 "northwood", "banias", "opteron", "barcelona", "bobcat", "unknown"}
CORE_PROBE = ("import ctypes, torch\n"
              "lib = ctypes.CDLL('libopenblas.so.0')\n"
              "lib.openblas_get_corename.restype = ctypes.c_char_p\n"
              "print(lib.openblas_get_corename().decode())\n")


def cpu_flags():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


BLAS_PROBE = ("import os, torch\n"
              "torch.mm(torch.ones(64, 64), torch.ones(64, 64))\n"
              "libs = {l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l.split()[-1].lower()\n"
              "        or 'mkl' in l.split()[-1].lower() or 'blis' in l.split()[-1].lower()}\n"
              "print('\\n'.join(sorted(os.path.realpath(x) for x in libs)))\n")


def torch_blas_library(python):
    """The BLAS library PyTorch's process maps once it has multiplied two
    matrices (its real path, through Debian's alternatives), or ''."""
    p = subprocess.run([python, "-c", BLAS_PROBE], capture_output=True, text=True)
    libs = [l for l in p.stdout.split("\n") if l] if p.returncode == 0 else []
    return libs[0] if libs else ""


def torch_blas(python):
    """(kernel name, extra environment, crippled) for PyTorch's OpenBLAS on
    this CPU, choosing the matching kernel where OpenBLAS fell back to a
    generic one."""
    def probe(env):
        p = subprocess.run([python, "-c", CORE_PROBE], capture_output=True, text=True, env=dict(os.environ, **env))
        return p.stdout.strip() if p.returncode == 0 else ""
    extra = {}
    core = probe(extra)
    if not core:
        lib = torch_blas_library(python)
        # Netlib's reference BLAS (Debian's libblas3, what python3-torch
        # pulls in when no OpenBLAS is installed) is a triple loop: PyTorch
        # on it is 15-50x slower than on OpenBLAS, so every ratio is void.
        reference = "/blas/libblas.so" in lib or lib == ""
        name = f"not OpenBLAS: {lib or 'no BLAS library found in the process'}"
        if reference:
            print(f"bench: WARNING: PyTorch's matrix products run on {lib or 'an unknown BLAS'}, "
                  "Netlib's unoptimised reference BLAS: the ratios below are against a crippled reference. "
                  "Install OpenBLAS (apt-get install libopenblas0-pthread) for a fair one", file=sys.stderr)
        return name, extra, reference
    flags = cpu_flags()
    best = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
    if core.lower() in GENERIC_CORES and best and "OPENBLAS_CORETYPE" not in os.environ:
        print(f"bench: PyTorch's OpenBLAS chose its generic '{core}' kernel on a CPU with "
              f"{'AVX-512' if best == 'SkylakeX' else 'AVX2'}; running PyTorch with OPENBLAS_CORETYPE={best} "
              f"so that the reference runs at its best", file=sys.stderr)
        extra = {"OPENBLAS_CORETYPE": best}
        core = probe(extra) or core
    crippled = core.lower() in GENERIC_CORES and best is not None
    if ("OPENBLAS_CORETYPE" in os.environ and best == "SkylakeX"
            and not any(k in core.lower() for k in ("skylake", "cooperlake", "sapphirerapids"))):
        print(f"bench: WARNING: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} holds PyTorch's OpenBLAS to a "
              "kernel without AVX-512 on a CPU with AVX-512; unset it for a reference at its best", file=sys.stderr)
    if crippled:
        print(f"bench: WARNING: PyTorch's OpenBLAS runs its generic '{core}' kernel on a CPU with AVX2 or AVX-512: "
              "the ratios below are against a crippled reference", file=sys.stderr)
    return core, extra, crippled


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build folder (default: build)")
    ap.add_argument("--out", default="", help="also write the Markdown table here")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each measurement (default 3)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--models", default="", help="comma-separated subset of: " + ",".join(m[0] for m in MODELS)
                    + " (and, only when named: " + ",".join(EXTRA_MODELS) + ")")
    ap.add_argument("--no-torch", action="store_true", help="measure ours only")
    ap.add_argument("--precision", default="f32", choices=["f32", "bf16"],
                    help="bf16: ours with train --precision bf16, PyTorch's GPT under torch.autocast(bfloat16) "
                         "(GPT models only)")
    ap.add_argument("--smoke", action="store_true", help="a few steps of two small models, ours only (for tests)")
    a = ap.parse_args()

    gradc = os.path.join(a.build, "tools", "gradc")
    if not os.access(gradc, os.X_OK):
        sys.exit(f"bench: {gradc} not found; build first (./test.sh or cmake --build build)")
    threads = [int(t) for t in a.threads.split(",")]
    models = MODELS
    if a.models:
        want = a.models.split(",")
        unknown = [w for w in want if w not in [m[0] for m in MODELS] and w not in EXTRA_MODELS]
        if unknown:
            sys.exit(f"bench: unknown model(s) {', '.join(unknown)}")
        models = [m for m in MODELS if m[0] in want] + [(w, *EXTRA_MODELS[w][:3]) for w in want if w in EXTRA_MODELS]
    reps = a.reps
    if a.smoke:
        models = [("linreg", "examples/linreg.grad", 200, 0), ("mlp64", "bench/mlp64.grad", 50, 0)]
        a.no_torch, reps, threads = True, 1, [1, 2]
    if a.precision == "bf16" and any(not m[1].endswith("gpt.grad") for m in models):
        sys.exit("bench: --precision bf16 compares GPT models only (--models gpt,gpt6)")
    python = sys.executable
    if not a.no_torch:
        # Debian's python3-torch lives in the system Python, which may not be
        # the python3 first on PATH (pyenv, a virtualenv).
        def has_torch(py):
            return subprocess.run([py, "-c", "import torch"], capture_output=True).returncode == 0
        python = next((py for py in (sys.executable, "/usr/bin/python3") if os.path.exists(py) and has_torch(py)), None)
        if python is None:
            sys.exit("bench: PyTorch is missing (apt-get install python3-torch), or pass --no-torch")

    blas, blas_env, crippled = ("", {}, False) if a.no_torch else torch_blas(python)

    tmp = tempfile.mkdtemp(prefix="gradc-bench-")
    # The GPT reads the same text in both: random printable bytes.
    text = os.path.join(tmp, "text.txt")
    with open(text, "wb") as f:
        f.write(bytes((i * 7919 + (i >> 3) * 104729) % 95 + 32 for i in range(400000)))

    rows = []
    for name, src, steps, tsteps in models:
        exe = os.path.join(tmp, name)
        compile_s = []
        build_flags, torch_flags = EXTRA_MODELS[name][3:] if name in EXTRA_MODELS else ([], ["--model", name])
        for _ in range(1 if a.smoke else 3):
            _, wall, _ = run([gradc, "build", src, "-o", exe] + build_flags)
            compile_s.append(wall)
        row = {"name": name, "compile": statistics.median(compile_s)}
        data = ["--data", text] if name.startswith("gpt") else []
        if name in EXTRA_MODELS:
            torch_flags = ["--model", "gpt"] + torch_flags
        for t in threads:
            ours, theirs, ours_rss, theirs_rss = [], [], [], []
            for _ in range(reps):
                out, _, rss = run([exe, "train", "--steps", str(steps), "--threads", str(t), "--quiet",
                                   "--eval-every", str(10 * steps), "--precision", a.precision] + data)
                ours.append(median_ms(out, name))
                ours_rss.append(rss)
                if a.no_torch:
                    continue
                best = None
                for tt, env in torch_configs(t):
                    e = dict(os.environ, **blas_env, **env)
                    out, _, rss = run([python, "bench/torch_ref.py", "--steps", str(tsteps), "--threads", str(tt)]
                                      + torch_flags + data + (["--bf16"] if a.precision == "bf16" else []), env=e)
                    ms = median_ms(out, f"torch_ref {name}")
                    if best is None or ms < best[0]:
                        best = (ms, rss)
                theirs.append(best[0])
                theirs_rss.append(best[1])
            row[t] = {"ours": statistics.median(ours), "rss": max(ours_rss)}
            if theirs:
                row[t].update(torch=statistics.median(theirs), torch_rss=max(theirs_rss))
            print(f"  {name} threads={t}: ours {fmt_ms(row[t]['ours'])} ms"
                  + (f", PyTorch {fmt_ms(row[t]['torch'])} ms" if theirs else ""), file=sys.stderr, flush=True)
        rows.append(row)

    cpu = platform.processor() or "cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} CPUs; "
             f"median of {reps} runs per figure; step times in ms."
             + (" Matrix products in bf16: ours with train --precision bf16, PyTorch under torch.autocast(bfloat16)."
                if a.precision == "bf16" else "")
             + ("" if a.no_torch else (f" PyTorch's matrix products: OpenBLAS kernel {blas}" if not blas.startswith("not OpenBLAS")
                   else f" PyTorch's matrix products: {blas}")
                + (f" (OPENBLAS_CORETYPE={blas_env['OPENBLAS_CORETYPE']}: this OpenBLAS does not know the CPU)"
                   if blas_env else "")
                + (" — CRIPPLED REFERENCE: ratios marked ! overstate our speed" if crippled else "") + "."), ""]
    head = "| model | compile s |"
    rule = "|---|---:|"
    for t in threads:
        head += f" ours {t}T | PyTorch {t}T | speedup {t}T |" if not a.no_torch else f" ours {t}T |"
        rule += "---:|---:|---:|" if not a.no_torch else "---:|"
    if not a.no_torch:
        head += " best vs best |"
        rule += "---:|"
    head += " peak RSS MiB ours / PyTorch |" if not a.no_torch else " peak RSS MiB |"
    rule += "---:|"
    lines += [head, rule]
    mark = " !" if crippled else ""
    for r in rows:
        line = f"| {r['name']} | {r['compile']:.2f} |"
        for t in threads:
            x = r[t]
            if a.no_torch:
                line += f" {fmt_ms(x['ours'])} |"
            else:
                line += f" {fmt_ms(x['ours'])} | {fmt_ms(x['torch'])} | {x['torch'] / x['ours']:.1f}x{mark} |"
        if not a.no_torch:
            ours_best = min(r[t]["ours"] for t in threads)
            torch_best = min(r[t]["torch"] for t in threads)
            line += f" {torch_best / ours_best:.1f}x{mark} |"
        t = threads[-1]
        line += f" {r[t]['rss']:.0f} / {r[t]['torch_rss']:.0f} |" if not a.no_torch else f" {r[t]['rss']:.0f} |"
        lines.append(line)
    table = "\n".join(lines) + "\n"
    print(table)
    if a.out:
        with open(a.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
