# tests/lit/Inputs/gradc_sanitized.py - `gradc` for the sanitizer run of the
# lit suite: `build ... -o OUT` compiles the object with gradc (-c) and links
# it against libgradrt-sanitized.a (AddressSanitizer + UBSan, formatting
# through the compiled libfmt) instead of libgradrt.a; every other command
# goes to gradc unchanged.
#
# usage: gradc_sanitized.py GRADC RUNTIME_LIBRARY ARGS...
import os
import subprocess
import sys


def main():
    gradc, runtime, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    output = None
    for i, a in enumerate(args):
        if a == "-o" and i + 1 < len(args):
            output = args[i + 1]
        elif a.startswith("-o="):
            output = a[3:]
    if not args or args[0] != "build" or "-c" in args or output is None:
        os.execv(gradc, [gradc] + args)
    rest, skip = [], False
    for i, a in enumerate(args):
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif not a.startswith("-o="):
            rest.append(a)
    obj = output + ".o"
    rc = subprocess.call([gradc] + rest + ["-c", "-o", obj])
    if rc != 0:
        return rc
    rc = subprocess.call(["c++", obj, runtime, "-o", output, "-fsanitize=address,undefined", "-lfmt", "-lpthread", "-lm"])
    os.unlink(obj)
    return rc


if __name__ == "__main__":
    sys.exit(main())
