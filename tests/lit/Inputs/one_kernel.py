"""one_kernel.py IN.gir GRAPH > OUT.gir

A hand-made .gir for the verifier's tests: every node of graph @GRAPH in
one loop kernel, kernel 0, storing the graph's first output, with the
memory plan's tags dropped (plan-memory makes them anew). A long chain of
ops so becomes one expression tree as deep as the chain."""
import re
import sys

text = open(sys.argv[1]).read()
start = text.index("graph @" + sys.argv[2])
end = text.index("\n}", start)
body = text[start:end]
root = re.search(r'output "[^"]+" = (%\S+)', body).group(1)
shape = re.search(re.escape(root) + r" = [^\n]* : \w+(\[[0-9,]*\])", body).group(1)
body = re.sub(r"\n  kernel \d+ = [^\n]*", "", body)
body = re.sub(r"kernel\(\d+\)", "kernel(0)", body)
body = re.sub(r" arena\(\d+\)", "", body)
header, rest = body.split("\n", 1)
body = header + "\n  kernel 0 = loop %s stores %s\n" % (shape, root) + rest
sys.stdout.write(text[:start] + body + text[end:])
