#!/usr/bin/env python3
"""torch_optimizers.py GRADC WORKDIR - the optimizers against torch.optim.

The torch oracle (tests/modelgen/torch_oracle.py) compares one step's loss
and gradients with PyTorch; this compares what the optimizers then do with
them, over several steps. A small regression (w: [3, 2], b: [2], and a
[1, 2] bias, which is a matrix to adamw) is built in f64 with each
optimizer and option and trained on four fixed rows (one batch a step);
the parameters after steps 3 and 6 of 6 must equal torch.optim's, with
PyTorch's own schedulers for warmup and cosine decay, to 1e-12 relative.

What is checked beyond the update rules: clipping by the global norm of all
gradients (clip_grad_norm_), adamw's decay of parameters of rank 2 or more
only, warmup from lr/W (LinearLR), the cosine after it over --steps - W
(SequentialLR with CosineAnnealingLR), and that --stop-after leaves the
schedule alone. Needs PyTorch (Debian's python3-torch).
"""
import json
import os
import struct
import subprocess
import sys
import warnings

import torch

torch.set_default_dtype(torch.float64)
# SequentialLR steps its schedulers with an epoch, which 1.13 warns of.
warnings.filterwarnings("ignore", category=UserWarning, module="torch.optim.lr_scheduler")
GRADC, WORK = sys.argv[1], sys.argv[2]
STEPS = 6
X = [[0.5, -1.2, 0.3], [-0.7, 0.4, 1.1], [1.3, 0.8, -0.6], [0.1, -0.3, -0.9]]
Y = [[1.0, -0.5], [0.2, 0.9], [-1.1, 0.4], [0.6, -1.4]]
MODEL = """model lin {
  input x: f32[4, 3]
  input y: f32[4, 2]
  param w: f32[3, 2] = normal(0.5)
  param b: f32[2] = normal(0.5)
  param c: f32[1, 2] = normal(0.5)
  loss = mean(square(x @ w + b + c - y))
  train TRAIN
}
"""
CONFIGS = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "clip": 0.5}),
    ("adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6}),
    ("adam", {"lr": 0.05, "warmup": 3}),
    ("adamw", {"lr": 0.05, "beta1": 0.85, "beta2": 0.99, "eps": 1e-7, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.1, "decay": "cosine", "min_lr": 0.01}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.1, "warmup": 2, "decay": "cosine", "min_lr": 0.01, "clip": 0.5}),
]


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")


def read_checkpoint(path):
    """The tensors of a safetensors file, as torch tensors."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F64", f"{name} is {e['dtype']}, not F64"
        start, end = e["data_offsets"]
        data = struct.unpack(f"<{(end - start) // 8}d", raw[8 + n + start:8 + n + end])
        out[name] = torch.tensor(data).reshape(e["shape"])
    return out


def torch_run(init, opt, hp, steps):
    params = {k: init[k].clone().requires_grad_(True) for k in ("w", "b", "c")}
    lr = hp["lr"]
    if opt == "sgd":
        o = torch.optim.SGD(params.values(), lr=lr, momentum=hp.get("momentum", 0))
    else:
        betas, eps = (hp.get("beta1", 0.9), hp.get("beta2", 0.999)), hp.get("eps", 1e-8)
        if opt == "adam":
            o = torch.optim.Adam(params.values(), lr=lr, betas=betas, eps=eps)
        else:  # adamw decays parameters of rank 2 or more: w and c, not b
            wd = hp.get("weight_decay", 0.01)
            o = torch.optim.AdamW([{"params": [p for p in params.values() if p.dim() >= 2], "weight_decay": wd},
                                   {"params": [p for p in params.values() if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=lr, betas=betas, eps=eps)
    warmup, cosine = int(hp.get("warmup", 0)), hp.get("decay") == "cosine"
    scheds = []
    if warmup:
        scheds.append(torch.optim.lr_scheduler.LinearLR(o, 1 / warmup, 1.0, total_iters=warmup - 1))
    if cosine:
        scheds.append(torch.optim.lr_scheduler.CosineAnnealingLR(o, STEPS - warmup, hp.get("min_lr", 0)))
    sched = (torch.optim.lr_scheduler.SequentialLR(o, scheds, [warmup]) if len(scheds) == 2 else
             scheds[0] if scheds else None)
    x, y = torch.tensor(X), torch.tensor(Y)
    after = {}
    for step in range(1, steps + 1):
        o.zero_grad()
        loss = ((x @ params["w"] + params["b"] + params["c"] - y) ** 2).mean()
        loss.backward()
        if hp.get("clip", 0) > 0:
            torch.nn.utils.clip_grad_norm_(params.values(), hp["clip"])
        o.step()
        if sched:
            sched.step()
        after[step] = {k: p.detach().clone() for k, p in params.items()}
    return after


def main():
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, "rows.csv"), "w") as f:
        f.write("x[0],x[1],x[2],y[0],y[1]\n")
        for x, y in zip(X, Y):
            f.write(",".join(repr(v) for v in x + y) + "\n")
    worst, failed = 0.0, []
    for i, (opt, hp) in enumerate(CONFIGS):
        d = os.path.join(WORK, f"c{i}")
        os.makedirs(d, exist_ok=True)
        args = ", ".join(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v!r}" for k, v in hp.items())
        statement = f"{opt}({args})"
        open(os.path.join(d, "m.grad"), "w").write(MODEL.replace("TRAIN", statement))
        run([GRADC, "build", "--dtype", "f64", "m.grad", "-o", "m"], d)
        common = ["./m", "train", "--data", "../rows.csv", "--val-frac", "0", "--threads", "1", "--quiet",
                  "--steps", str(STEPS)]
        # The initial values: a run stopped before any step would be
        # refused, so step 1 at a learning rate of 0 (no decay, no move).
        run(common + ["--stop-after", "1", "--lr", "0"] + (["--hp", "min_lr=0"] if "min_lr" in hp else []) +
            ["--save", "init.ckpt"], d)
        init = read_checkpoint(os.path.join(d, "init.ckpt"))
        theirs = torch_run(init, opt, hp, STEPS)
        for k in (3, STEPS):
            run(common + (["--stop-after", str(k)] if k < STEPS else []) + ["--save", f"s{k}.ckpt"], d)
            ours = read_checkpoint(os.path.join(d, f"s{k}.ckpt"))
            for name, t in theirs[k].items():
                err = float((ours[name] - t).abs().max() / t.abs().max().clamp_min(1e-300))
                worst = max(worst, err)
                if not err <= 1e-12:
                    failed.append(f"{statement}: {name} after step {k}: relative error {err:.2e}\n"
                                  f"  ours    {ours[name].flatten().tolist()}\n  PyTorch {t.flatten().tolist()}")
    for f in failed:
        print("MISMATCH " + f)
    print(f"{len(CONFIGS)} optimizer settings, steps 3 and {STEPS}: {'all agree' if not failed else f'{len(failed)} differ'}"
          f" with torch.optim (largest relative difference {worst:.1e})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
