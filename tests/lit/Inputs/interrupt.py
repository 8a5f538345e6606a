"""interrupt.py SIGNAL TIMES CKPT CHECK [--cpu SECONDS] [--closed-std] -- COMMAND... - starts COMMAND (a
training run that saves to CKPT) TIMES times and sends SIGNAL (KILL, TERM,
HUP or INT) at a random moment once the run has written CKPT; after each, the shell command
CHECK (which loads CKPT) must succeed. For TERM and INT the run must exit
with 128 + the signal and say it saved. Prints one summary line.

With --cpu SECONDS, the signal waits further, once CKPT is written, for the
run to have used SECONDS of CPU time since: work it does only after CKPT,
whatever the scheduler does to it. The wall-clock wait alone is not enough
where the signal must find the run past what follows CKPT: a run held up
for that long after writing CKPT, by a loaded machine or an fsync, got the
signal before it got there (interrupted_validation.test).

With --closed-std, COMMAND runs with its standard input, output and error
closed (`>&- 2>&-`): what it says is not seen, so only its exit status and
CKPT are checked. A file it opened took their numbers, and its messages
were written into the checkpoint."""
import glob
import os
import random
import signal
import subprocess
import sys
import time

sig = getattr(signal, "SIG" + sys.argv[1])
times, ckpt, check = int(sys.argv[2]), sys.argv[3], sys.argv[4]
options = sys.argv[5:sys.argv.index("--")]
cpu = float(options[options.index("--cpu") + 1]) if "--cpu" in options else None
closed = "--closed-std" in options
command = sys.argv[sys.argv.index("--") + 1:]
ticks = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User and system CPU time of PID, all its threads, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # pid (comm) STATE ...: comm may hold spaces and parentheses.
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    except (OSError, IndexError, ValueError):
        return None




def default_signals():
    """The run starts with Ctrl-C's signals at their defaults: a run that
    inherits one ignored (a background job of a script, as this may be)
    leaves it ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


rng = random.Random(1)
bad = []
for i in range(times):
    # Wait for this run to write CKPT (a new file, not the last run's), so
    # the signal comes once training is under way.
    before = os.stat(ckpt).st_mtime_ns if os.path.exists(ckpt) else None
    if closed:
        p = subprocess.Popen(command, preexec_fn=lambda: [default_signals()] + [os.close(fd) for fd in (0, 1, 2)])
    else:
        p = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_signals)
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline:
        if os.path.exists(ckpt) and os.stat(ckpt).st_mtime_ns != before:
            break
        time.sleep(0.01)
    if cpu is not None:
        start, deadline = cpu_seconds(p.pid), time.time() + 60
        while p.poll() is None and time.time() < deadline:
            used = cpu_seconds(p.pid)
            if start is None or used is None or used - start >= cpu:
                break
            time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.3))
    p.send_signal(sig)
    err = (p.communicate(timeout=60)[1] or b"").decode(errors="replace")
    if os.environ.get("SHOW_STDERR"):
        print(f"run {i} stderr: {err.strip()}")
    if sig != signal.SIGKILL:
        if p.returncode != 128 + sig or ("saved " + ckpt not in err and not closed):
            bad.append(f"run {i}: exit {p.returncode}, stderr: {err.strip()}")
    elif p.returncode not in (-signal.SIGKILL, 0):
        bad.append(f"run {i}: exit {p.returncode}, stderr: {err.strip()}")
    c = subprocess.run(check, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if c.returncode != 0:
        bad.append(f"run {i}: the checkpoint does not load: {c.stderr.decode(errors='replace').strip()}")
for b in bad:
    print(b)
print(f"{times} runs stopped by SIG{sys.argv[1]}, {len(bad)} bad")
