"""svg_lines.py SVG - the number of points of each line loss.svg
draws (its <path> elements, in the legend's order: train, validation)."""
import re
import sys

svg = open(sys.argv[1]).read()
for name, d in zip(("train", "validation"), re.findall(r'<path d="([^"]*)" fill="none"', svg)):
    print(f"{name}: {len(re.findall(r'[ML]', d))} points")
