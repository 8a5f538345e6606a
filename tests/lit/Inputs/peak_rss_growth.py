"""peak_rss_growth.py EXE STEPS — trains EXE for 1000 steps, then for STEPS,
and prints how much the second run's peak resident memory exceeds the
first's, in KiB (0 when it does not). Run time aside, a longer run of the
same model should take no more memory."""
import resource
import subprocess
import sys


def peak(steps):
    subprocess.run([sys.argv[1], "train", "--steps", str(steps), "--quiet", "--val-frac", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    # The largest peak of any child so far: the first run's, then the larger.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


short = peak(1000)
long = peak(int(sys.argv[2]))
print(f"peak memory grew {max(0, long - short)} KiB from 1000 steps to {sys.argv[2]}")
