#!/usr/bin/env python3
"""plot_curves.py - validation bits per byte against wall time, as SVG.

    plot_curves.py OUT.svg LABEL=LOG...

Each LOG is a `train` log whose lines start with the seconds since the run
began (bench/lm_hour.sh stamps them). Every progress line with a
new validation estimate gives a point; the final whole-split figure of the
`done:` line, a ring. Losses are converted from nats per token to bits per
byte with the validation split's tokens per byte (from the log's first
line; 1 for a byte model), so models with different tokenizers share the
axis. No plotting library needed: the SVG is written by hand.
"""
import math
import re
import sys

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def read(path):
    points, final, tokens_per_byte = [], None, 1.0
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        try:
            t = float(parts[0])
        except ValueError:
            continue
        text = parts[1]
        m = re.search(r"\((\d+) train, (\d+) validation\).*\((\d+) train, (\d+) validation;", text)
        if m:  # bytes, then tokens
            tokens_per_byte = int(m.group(4)) / int(m.group(2))
        m = re.match(r"step +(\d+)/\d+ .* val ([0-9.]+)", text)
        if m:
            # A progress line between validations repeats the last estimate.
            v = float(m.group(2)) * tokens_per_byte / math.log(2)
            if not points or v != points[-1][1]:
                points.append((t, v))
        m = re.search(r"validation loss [0-9.]+ \(([0-9.]+) bits/byte\) over the whole", text)
        if m:
            final = (t, float(m.group(1)))
    return points, final


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, series = sys.argv[1], []
    for arg in sys.argv[2:]:
        label, _, path = arg.partition("=")
        series.append((label, *read(path)))
    xs = [t for _, pts, fin in series for t, _ in pts + ([fin] if fin else [])]
    ys = [v for _, pts, fin in series for _, v in pts + ([fin] if fin else [])]
    if not xs:
        sys.exit("no validation points in the logs")
    W, H, L, R, T, B = 720, 420, 70, 20, 30, 50
    xmax = max(xs) / 60 * 1.02
    ylo, yhi = math.floor(min(ys) * 10) / 10, math.ceil(min(max(ys), min(ys) + 3) * 10) / 10
    sx = lambda t: L + (t / 60) / xmax * (W - L - R)
    sy = lambda v: T + (yhi - min(v, yhi)) / (yhi - ylo) * (H - T - B)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    step = 10 if xmax > 30 else 5
    for m in range(0, int(xmax) + 1, step):
        x = sx(m * 60)
        svg.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#ddd"/>')
        svg.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">{m}</text>')
    v = ylo
    while v <= yhi + 1e-9:
        y = sy(v)
        svg.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.1f}</text>')
        v += 0.1 if yhi - ylo <= 1.5 else 0.5
    svg.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">wall time (minutes)</text>')
    svg.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
               'validation bits per byte</text>')
    for i, (label, pts, fin) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in pts)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        text = label
        if fin:
            svg.append(f'<circle cx="{sx(fin[0]):.1f}" cy="{sy(fin[1]):.1f}" r="5" fill="none" stroke="{c}" stroke-width="2"/>')
            text += f" (whole split at the end: {fin[1]:.3f})"
        y = T + 16 + 18 * i
        svg.append(f'<line x1="{W - R - 330}" y1="{y - 4}" x2="{W - R - 305}" y2="{y - 4}" stroke="{c}" stroke-width="2"/>')
        svg.append(f'<text x="{W - R - 300}" y="{y}">{text}</text>')
    svg.append("</svg>")
    open(out, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
