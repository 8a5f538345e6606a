"""kill_rank.py LIMIT MPIRUN... --save CKPT ...: starts a data-parallel
job, waits for its first checkpoint, kills the process of rank 1 with
SIGKILL, and checks that the whole job then ends within LIMIT seconds.
Prints the job's standard error, then how it ended; exits 1 if it hangs."""
import os
import signal
import subprocess
import sys
import time

limit, cmd = float(sys.argv[1]), sys.argv[2:]
ckpt = cmd[cmd.index("--save") + 1]
exe = os.path.abspath(cmd[cmd.index("train") - 1])
job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def rank_pid(rank):
    """The process of the job's rank `rank`: its executable, and
    OMPI_COMM_WORLD_RANK in its environment."""
    for pid in os.listdir("/proc"):
        try:
            if os.path.realpath(f"/proc/{pid}/exe") != exe:
                continue
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(pid)
    return None


deadline = time.time() + 60
while not os.path.exists(ckpt) and time.time() < deadline and job.poll() is None:
    time.sleep(0.05)
pid = rank_pid(1)
if pid is None or not os.path.exists(ckpt):
    job.kill()
    sys.exit(f"no checkpoint or no rank 1 within 60 s: {job.communicate()[1]}")
os.kill(pid, signal.SIGKILL)
print(f"killed rank 1 after {ckpt} appeared")
start = time.time()
try:
    _, err = job.communicate(timeout=limit)
except subprocess.TimeoutExpired:
    job.kill()
    sys.exit(f"the job still runs {limit:g} s after rank 1 was killed")
print(err)
print(f"the job ended with status {job.returncode} within {limit:g} s ({time.time() - start:.1f} s)")
