"""expect_table.py TABLE [NAME=VALUE...] - runs a table of commands that a
model executable must answer in a set way, and reports every row that does
not. A row is `EXIT | FRAGMENT | COMMAND`: the command (run by bash, $NAME
replaced by the values given) must exit with EXIT (`!0`: any failure, not a
crash), and its output (stdout and stderr together) must contain FRAGMENT.
No output may look like a crash: a C++ exception, an abort, a sanitizer
report. Lines starting with # are comments."""
import subprocess
import sys

CRASH = ["terminate called", "Aborted", "Sanitizer", "runtime error:", "std::", "Segmentation fault", "core dumped"]

table, values = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
rows = failed = 0
for lineno, line in enumerate(open(table), 1):
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    want, fragment, command = (p.strip() for p in line.split("|", 2))
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        command = command.replace("$" + name, value)
        fragment = fragment.replace("$" + name, value)
    rows += 1
    p = subprocess.run(["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode(errors="replace")
    ok_exit = (p.returncode != 0 and 0 < p.returncode < 128) if want == "!0" else p.returncode == int(want)
    crash = [c for c in CRASH if c in out]
    if not ok_exit or fragment not in out or crash:
        failed += 1
        print(f"{table}:{lineno}: FAILED: {command}\n  exit {p.returncode}, expected {want}; expected output "
              f"containing {fragment!r}{'; looks like a crash' if crash else ''}; got:\n" +
              "\n".join("    " + l for l in out.splitlines()[-8:]))
print(f"{rows} cases, {failed} failed")
sys.exit(1 if failed else 0)
