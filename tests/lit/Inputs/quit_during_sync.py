"""quit_during_sync.py CKPT STEP -- COMMAND...: starts COMMAND (a training
run that saves to CKPT every few steps, with slow_dirsync.so preloaded),
and as soon as CKPT holds step STEP, while that save's directory sync is
under way, sends SIGINT and SIGTERM. Prints the run's exit status and
standard error on one line, then the step CKPT holds."""
import os
import signal
import subprocess
import sys
import time

from checkpoint_step import saved_step


def default_signals():
    """The run starts with Ctrl-C's signals at their defaults: a run that
    inherits one ignored (a background job of a script, as this may be)
    leaves it ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


ckpt, want = sys.argv[1], int(sys.argv[2])
command = sys.argv[sys.argv.index("--") + 1:]


if os.path.exists(ckpt):
    os.remove(ckpt)
p = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
deadline = time.time() + 120
while saved_step(ckpt) != want and p.poll() is None and time.time() < deadline:
    time.sleep(0.001)
# 50 ms into the 300 ms sync: the run records the save right after the
# rename, which this script may see first (by microseconds, or by a time
# slice on a loaded machine).
time.sleep(0.05)
p.send_signal(signal.SIGINT)
p.send_signal(signal.SIGTERM)
err = p.communicate(timeout=120)[1]
print("exit", p.returncode, "|", " | ".join(l for l in err.split("\n") if l.strip()))
print("file holds step", saved_step(ckpt))
