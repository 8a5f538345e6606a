"""on_output.py TEXT SHELL -- COMMAND... - runs COMMAND with its standard
output and error on one pipe, copied to standard output, and runs the shell
command SHELL once, as soon as a line holds TEXT, before reading on. A
command that prints a line a step is then at most a pipe's worth of lines
(64 KiB, about 700 progress lines) past that line when SHELL runs. Exits
with COMMAND's status."""
import subprocess
import sys

text, shell = sys.argv[1].encode(), sys.argv[2]
command = sys.argv[sys.argv.index("--") + 1:]
p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
pending = True
for line in p.stdout:
    sys.stdout.buffer.write(line)
    if pending and text in line:
        subprocess.run(shell, shell=True, check=True)
        pending = False
sys.exit(p.wait())
