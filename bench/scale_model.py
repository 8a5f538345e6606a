#!/usr/bin/env python3
"""bench/scale_model.py - what data parallelism would give on a cluster.

  python3 bench/scale_model.py [--nodes 2,4,...] [--latency-us A]
                               [--model NAME:MIB:STEP_MS ...]

A model, not a measurement: docs/data-parallel.md explains it and checks it
against what two processes measured on one machine. Each node is a machine
like ours and keeps the per-node batch (weak scaling), so its compute time
per step stays what one node measured (STEP_MS). A ring all-reduce of S
bytes over N nodes sends 2(N-1) messages of S/N bytes per node, so on links
of bandwidth b with per-message latency A it takes

    t_ar = 2(N-1)·A + 2·(N-1)/N · S/b

Efficiency is compute / (compute + exposed all-reduce). Without overlap all
of t_ar is exposed; with overlap the all-reduce runs during the backward
pass (about 2/3 of the step), and only what does not fit in it is exposed
(the last bucket always is: its gradients are finished last).
"""
import argparse

# Measured on this repo's 2-vCPU Sapphire Rapids-class machine (README):
# bytes all-reduced per step (every gradient, f32, MiB) and the step time of
# one process on both cores (ms).
DEFAULT_MODELS = ["baby:3.2:31.7", "6-layer:41.4:794"]


def allreduce_ms(nodes, mib, gbit, latency_us):
    s = mib * 2**20
    b = gbit * 1e9 / 8
    return (2 * (nodes - 1) * latency_us * 1e-6 + 2 * (nodes - 1) / nodes * s / b) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", default="2,4,8,16,32,64")
    ap.add_argument("--latency-us", type=float, default=10.0)
    ap.add_argument("--model", action="append", help="NAME:MIB:STEP_MS (repeatable)")
    ap.add_argument("--bucket-mib", type=float, default=1.0)
    args = ap.parse_args()
    nodes = [int(n) for n in args.nodes.split(",")]
    for spec in args.model or DEFAULT_MODELS:
        name, mib, step = spec.split(":")
        mib, step = float(mib), float(step)
        print(f"\n{name}: {mib:g} MiB all-reduced per step, {step:g} ms of compute per step per node\n")
        print("| link | " + " | ".join(f"{n} nodes" for n in nodes) + " |")
        print("|---|" + "---|" * len(nodes))
        for gbit in (10, 100):
            cells = []
            for n in nodes:
                t = allreduce_ms(n, mib, gbit, args.latency_us)
                backward = step * 2 / 3
                last = allreduce_ms(n, min(args.bucket_mib, mib), gbit, args.latency_us)
                exposed = max(t - backward, last)
                cells.append(f"{t:.1f} ms: {100 * step / (step + t):.0f}% / {100 * step / (step + exposed):.0f}%")
            print(f"| {gbit} Gbit/s | " + " | ".join(cells) + " |")
    print("\n(each cell: all-reduce time per step; efficiency without overlap / with overlap)")


if __name__ == "__main__":
    main()
