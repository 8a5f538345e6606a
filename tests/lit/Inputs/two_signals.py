"""two_signals.py TIMES SIG1 SIG2 [--after FILE] -- COMMAND...: starts
COMMAND (a training run with --log-every 1) TIMES times, and once it has
printed a progress line sends SIG1 and SIG2 back to back: one INT and one
TERM, which may be handled at once, on two threads, or one after the other.
(Two of one kind sent so are one: the kernel keeps one pending of each. And
waiting for the run to answer the first before sending the second let a
short run finish its step and save first, on a busy machine.) With --after,
it waits for FILE to appear and for one more progress line after it (the run
then knows it saved FILE). Prints each run's exit status and its standard
error, its lines joined by " | ", one line per run."""
import os
import signal
import subprocess
import sys
import threading

times = int(sys.argv[1])
first, second = (getattr(signal, "SIG" + name) for name in sys.argv[2:4])
assert first != second, "two signals of one kind sent back to back are one"
after = sys.argv[sys.argv.index("--after") + 1] if "--after" in sys.argv else None
command = sys.argv[sys.argv.index("--") + 1:]
for i in range(times):
    if after and os.path.exists(after):
        os.remove(after)
    p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = []
    reader = threading.Thread(target=lambda: err.extend(p.stderr))
    reader.start()
    saw_file = False
    for line in p.stdout:
        if not line.startswith("step "):
            continue
        if after is None or saw_file:
            break
        saw_file = os.path.exists(after)
    p.send_signal(first)
    p.send_signal(second)
    p.stdout.read()
    p.wait()
    reader.join()
    lines = [l.strip() for l in err if l.strip()]
    print(f"run {i}: exit {p.returncode} | " + " | ".join(lines))
