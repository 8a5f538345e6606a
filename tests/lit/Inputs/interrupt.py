"""interrupt.py SIGNAL TIMES CKPT CHECK -- COMMAND... - starts COMMAND (a
training run that saves to CKPT) TIMES times and sends SIGNAL (KILL, TERM
or INT) at a random moment once the run has written CKPT; after each, the shell command
CHECK (which loads CKPT) must succeed. For TERM and INT the run must exit
with 128 + the signal and say it saved. Prints one summary line."""
import glob
import os
import random
import signal
import subprocess
import sys
import time

sig = getattr(signal, "SIG" + sys.argv[1])
times, ckpt, check = int(sys.argv[2]), sys.argv[3], sys.argv[4]
command = sys.argv[sys.argv.index("--") + 1:]
rng = random.Random(1)
bad = []
for i in range(times):
    # Wait for this run to write CKPT (a new file, not the last run's), so
    # the signal comes once training is under way.
    before = os.stat(ckpt).st_mtime_ns if os.path.exists(ckpt) else None
    p = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline:
        if os.path.exists(ckpt) and os.stat(ckpt).st_mtime_ns != before:
            break
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.3))
    p.send_signal(sig)
    err = p.communicate(timeout=60)[1].decode(errors="replace")
    if os.environ.get("SHOW_STDERR"):
        print(f"run {i} stderr: {err.strip()}")
    if sig != signal.SIGKILL:
        if p.returncode != 128 + sig or "saved " + ckpt not in err:
            bad.append(f"run {i}: exit {p.returncode}, stderr: {err.strip()}")
    elif p.returncode not in (-signal.SIGKILL, 0):
        bad.append(f"run {i}: exit {p.returncode}, stderr: {err.strip()}")
    c = subprocess.run(check, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if c.returncode != 0:
        bad.append(f"run {i}: the checkpoint does not load: {c.stderr.decode(errors='replace').strip()}")
for b in bad:
    print(b)
print(f"{times} runs stopped by SIG{sys.argv[1]}, {len(bad)} bad")
