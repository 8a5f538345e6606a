"""svg_check.py FILE... — each file must parse as XML with an <svg> root and
draw something (paths, circles or rects)."""
import sys
import xml.etree.ElementTree as ET

for path in sys.argv[1:]:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), f"{path}: root is {root.tag}"
    shapes = [e for e in root.iter() if e.tag.split("}")[-1] in ("path", "circle", "rect")]
    assert len(shapes) > 3, f"{path}: draws nothing"
    print(f"{path.split('/')[-1]}: valid SVG, {len(shapes)} shapes")
