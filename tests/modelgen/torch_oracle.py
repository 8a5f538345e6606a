#!/usr/bin/env python3
"""torch_oracle.py - compare our f64 builds with the same models in PyTorch.

    torch_oracle.py [--rtol R] DIR...

Each DIR holds cases that `modelgen run --torch DIR` (or `modelgen check
--torch DIR`) wrote: NAME.py, the model translated to PyTorch, and
NAME.json, the random point (inputs and parameters) and what our f64
build computed there: the loss, every parameter's gradient, the metrics
and the outputs. Each case runs in PyTorch (float64, autograd) and every
value must agree within R relative (default 1e-9), with an absolute floor
of 1e-12 of the tensor's largest magnitude (for gradients, of the largest
gradient of the model).

The model runs once for the gradients entry (the "point:" values, where
training() is true) and once more for eval and predict (training() false).

Every case ends in one of three verdicts, and only the first is a pass:
  ok        every value agrees with PyTorch (and there was one to compare)
  MISMATCH  a value differs
  ERROR     the case could not be compared: it does not translate (a
            construct TorchTranslator.cpp writes as a placeholder, such as
            G.bad_member()), or raised while loading or running, or has
            nothing to compare
A model with no case (it uses dropout, whose masks PyTorch cannot draw)
leaves NAME.skip with the reason instead, and the summary counts it.
Needs PyTorch: Debian's python3-torch (run with /usr/bin/python3 when
another python3 comes first on PATH). Exits 1 if any case differs or could
not be compared, and names it.
"""
import argparse
import glob
import importlib.util
import json
import math
import os
import sys
import traceback
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gradc_torch  # noqa: E402


def tensor(spec):
    dtype = {"f32": torch.float64, "f64": torch.float64, "i32": torch.int32, "bool": torch.bool}[spec["dtype"]]
    return torch.tensor(spec["data"], dtype=dtype).reshape(spec["shape"])


def differs(name, ours, theirs, rtol, scale):
    theirs = [float(x) for x in theirs.detach().reshape(-1).tolist()]
    if len(ours) != len(theirs):
        return f"{name}: {len(ours)} elements here, {len(theirs)} in PyTorch"
    scale = max([abs(x) for x in ours if math.isfinite(x)] + [scale])
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not math.isfinite(a) and not math.isfinite(b):
            if a == b or (a != a and b != b):  # the same infinity, or both NaN
                continue
            return f"{name}[{i}]: ours {a!r}, PyTorch {b!r}"
        if not abs(a - b) <= rtol * max(abs(a), abs(b)) + 1e-12 * scale + 1e-13:
            return f"{name}[{i}]: ours {a!r}, PyTorch {b!r}"
    return None


def run_model(module, case, training):
    G = gradc_torch.G
    G.__init__()
    G.training = training
    G.inputs = {k: tensor(v) for k, v in case["inputs"].items()}
    G.params = {k: tensor(v).requires_grad_(True) for k, v in case["params"].items()}
    loss = module.model()
    if training and torch.is_tensor(loss) and loss.requires_grad:  # (a loss no parameter reaches has zero gradients)
        loss.backward()
    # G is one object that the next run resets: keep this run's values (a
    # predict output read after the gradients run had training()'s value
    # from that run, seed 554).
    run = types.SimpleNamespace(params=dict(G.params), outputs=dict(G.outputs), metrics=dict(G.metrics), used=set(G.used))
    return run, loss


def run_case(py, rtol):
    case = json.load(open(py[:-3] + ".json"))
    if not case.get("expect"):
        raise CannotCompare("the case holds no value to compare")
    spec = importlib.util.spec_from_file_location(os.path.basename(py)[:-3], py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    problems = []
    # A gradient that is zero in exact arithmetic is rounding noise from
    # terms the size of the other gradients: the floor scales with the
    # largest of them.
    grad_scale = max([abs(x) for k, v in case["expect"].items() if k.startswith("point:grad.") for x in v
                      if math.isfinite(x)] + [0.0])
    runs = {}
    for key, ours in case["expect"].items():
        where, name = key.split(":", 1)
        if where not in ("point", "eval", "predict"):
            raise CannotCompare(f"{key}: no entry '{where}' to run")
        training = where == "point"
        if training not in runs:
            runs[training] = run_model(module, case, training)
        G, loss = runs[training]
        if name == "loss":
            theirs = loss
        elif name.startswith("grad."):
            # A parameter the loss ignores is not in the compiled model; its
            # gradient is zero.
            p = G.params.get(name[5:])
            theirs = torch.zeros(len(ours)) if p is None else p.grad if p.grad is not None else torch.zeros_like(p)
        elif name.startswith("metric."):
            theirs = G.metrics.get(name[7:])
        else:
            theirs = G.outputs.get(name)
        if theirs is None:
            problems.append(f"{key}: PyTorch computed no such value")
            continue
        d = differs(key, ours, torch.as_tensor(theirs), rtol, grad_scale if name.startswith("grad.") else 0.0)
        if d:
            problems.append(d)
    for G, _ in runs.values():
        unused = set(G.params) - G.used
        if unused:
            problems.append(f"parameters the PyTorch program never declared: {sorted(unused)}")
            break
    return problems


class CannotCompare(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    cases = sorted(p for d in args.dirs for p in glob.glob(os.path.join(d, "*.py")))
    skipped = sorted(p for d in args.dirs for p in glob.glob(os.path.join(d, "*.skip")))
    if not cases and not skipped:
        sys.exit("torch_oracle.py: no cases (NAME.py with NAME.json) in " + ", ".join(args.dirs))
    # Cases without their other half: NAME.json alone is a case never run.
    alone = sorted(j for d in args.dirs for j in glob.glob(os.path.join(d, "*.json")) if not os.path.exists(j[:-5] + ".py"))
    mismatched, errors = 0, len(alone)
    for j in alone:
        print(f"ERROR {j}: could not compare: no {os.path.basename(j)[:-5]}.py beside it")
    torch.set_default_dtype(torch.float64)
    for py in cases:
        try:
            problems = run_case(py, args.rtol)
        except (gradc_torch.NotTranslated, CannotCompare) as e:
            errors += 1
            print(f"ERROR {py}: could not compare: {e}")
            continue
        except Exception as e:  # a case that does not run is never a pass
            errors += 1
            tb = traceback.extract_tb(e.__traceback__)
            at = next((f"{os.path.basename(f.filename)}:{f.lineno}: {f.line}" for f in reversed(tb)
                       if os.path.abspath(f.filename) == os.path.abspath(py)), "")
            print(f"ERROR {py}: could not compare: {type(e).__name__}: {e}" + (f"\n  at {at}" if at else ""))
            continue
        if problems:
            mismatched += 1
            print(f"MISMATCH {py}:\n  " + "\n  ".join(problems[:5]))
    ok = len(cases) + len(alone) - mismatched - errors
    print(f"{len(cases) + len(alone)} cases: {ok} agree with PyTorch, {mismatched} differ, {errors} could not be compared")
    if skipped:
        reasons = {}
        for p in skipped:
            with open(p) as f:
                reasons.setdefault(f.read().strip(), []).append(os.path.basename(p)[:-5])
        for why, names in sorted(reasons.items()):
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            print(f"{len(names)} model(s) have no case: {why} ({shown})")
    sys.exit(1 if mismatched or errors else 0)


if __name__ == "__main__":
    main()
