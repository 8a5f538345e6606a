"""two_signals.py TIMES SIG1 SIG2 [--after FILE] -- COMMAND...: starts
COMMAND (a training run with --log-every 1) TIMES times, and once it has
printed a progress line sends SIG1 and SIG2 back to back: one INT and one
TERM, which may be handled at once, on two threads, or one after the other.
(Two of one kind sent so are one: the kernel keeps one pending of each. And
waiting for the run to answer the first before sending the second let a
short run finish its step and save first, on a busy machine.)

"Back to back" must hold whatever the scheduler does to this script: on a
loaded CI machine it was preempted between the two kill() calls, long enough
for the run to finish its step and start or finish the save the first
signal asked for (the run then said "saved" and exited 130, or left a
temporary file that the next run's note reported). So the run is stopped
(SIGSTOP, and every thread seen stopped) before either is sent, and
continued once both are pending: it meets them together. With --after,
it waits for FILE to appear and for one more progress line after it (the run
then knows it saved FILE). Prints each run's exit status and its standard
error, its lines joined by " | ", one line per run."""
import glob
import os
import signal
import subprocess
import sys
import threading
import time

from checkpoint_step import saved_step


def default_signals():
    """The run starts with Ctrl-C's signals at their defaults: a run that
    inherits one ignored (a background job of a script, as this may be)
    leaves it ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)



def stopped(pid):
    """Whether every thread of PID is in the stopped state (T)."""
    try:
        for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
            with open(stat) as f:
                # pid (comm) STATE ...: comm may hold spaces and parentheses.
                if f.read().rsplit(")", 1)[1].split()[0] != "T":
                    return False
        return True
    except (OSError, IndexError):
        return False


def send_together(p, first, second):
    """Sends FIRST and SECOND to P so that both are pending before it runs
    again."""
    p.send_signal(signal.SIGSTOP)
    deadline = time.time() + 30
    while not stopped(p.pid) and time.time() < deadline:
        time.sleep(0.001)
    p.send_signal(first)
    p.send_signal(second)
    p.send_signal(signal.SIGCONT)


times = int(sys.argv[1])
first, second = (getattr(signal, "SIG" + name) for name in sys.argv[2:4])
assert first != second, "two signals of one kind sent back to back are one"
after = sys.argv[sys.argv.index("--after") + 1] if "--after" in sys.argv else None
command = sys.argv[sys.argv.index("--") + 1:]
for i in range(times):
    # Each run starts afresh: without FILE, and without the temporary file
    # of a save the last run was quitting in the middle of (it may have run
    # on to its next --save-every save while this script read its output;
    # that save's next run removes the file, and says so in a note).
    if after:
        for stale in glob.glob(glob.escape(after)) + glob.glob(glob.escape(after) + ".tmp-*"):
            os.remove(stale)
    p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    err = []
    reader = threading.Thread(target=lambda: err.extend(p.stderr))
    reader.start()
    # A run that prints no progress line (--quiet) is not left to train
    # a million steps: it is killed, and the line says so.
    watchdog = threading.Timer(120, p.kill)
    watchdog.daemon = True
    watchdog.start()
    # Once FILE appears, its step S is read from it, and the signals wait
    # for the line of a later step: the run prints step S's line before it
    # saves S, and S+1's after it has recorded that save. (The first line
    # read after FILE appeared was not enough: this script, preempted, read
    # lines the run had printed before the save, and sent the signals while
    # the save's fsync of the directory was still under way: "this run has
    # saved nothing to FILE yet".)
    saved = None
    for line in p.stdout:
        if not line.startswith("step "):
            continue
        if after is None or (saved is not None and int(line.split()[1].split("/")[0]) > saved):
            break
        if saved is None and os.path.exists(after):
            saved = saved_step(after)
    else:
        p.wait()
        reader.join()
        print(f"run {i}: exit {p.returncode} before the signals (no progress line, or killed after 120 s)")
        continue
    watchdog.cancel()
    send_together(p, first, second)
    p.stdout.read()
    p.wait()
    reader.join()
    lines = [l.strip() for l in err if l.strip()]
    print(f"run {i}: exit {p.returncode} | " + " | ".join(lines))
