#!/bin/sh
# bench/lm_hour.sh — the README's bigger language model: nanoGPT's
# shakespeare-char shape (6 layers, 6 heads, 384 wide, context 256, batch 8)
# with dropout 0.2, trained for up to an hour on one machine, twice side by
# side: reading bytes, and reading the tokens of a BPE tokenizer of 1024
# tokens trained on the training split. Each run gets one thread (one core
# of two), so both see the same machine for the same wall time, and their
# validation curves against wall time compare the tokenizers fairly.
#
#   bench/lm_hour.sh CORPUS [STEPS] [OUTDIR] [both|bytes]
#
# STEPS (default 1500) sets the learning-rate schedule and so the run's
# length: 1500 took 43 minutes (1.45 s a step with one thread while the
# other run shared the machine; Sapphire Rapids class, 2 vCPUs). Writes
# OUTDIR/{byte,bpe}.log (each line stamped with the seconds since the start),
# checkpoints every 250 steps, and OUTDIR/curve.svg (bench/plot_curves.py).
#
# With `bytes`, only the byte model trains, alone on the machine with the
# default two threads: the hour on two cores that the README reports.
set -eu
usage="usage: bench/lm_hour.sh CORPUS [STEPS] [OUTDIR] [both|bytes]"
corpus=${1:?$usage}
steps=${2:-1500}
out=${3:-lm_hour}
mode=${4:-both}
case $mode in both|bytes) ;; *) echo "$usage" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
gradc=${GRADC:-$here/build/tools/gradc}
mkdir -p "$out"
shape="-D n_layer=6 -D n_head=6 -D n_embd=384 -D T=256 -D B=8 -D dropout_rate=0.2"
# shellcheck disable=SC2086
"$gradc" build "$here/examples/gpt.grad" $shape -o "$out/gpt_byte"
stamp() { python3 -u -c 'import sys, time
t0 = time.time()
for line in sys.stdin: print(f"{time.time() - t0:9.1f} {line}", end="", flush=True)'; }
common="--data $corpus --steps $steps --log-every 50 --eval-every 100 --save-every 250"
if [ "$mode" = bytes ]; then
  # shellcheck disable=SC2086
  "$out/gpt_byte" train $common --save "$out/byte.ckpt" 2>&1 | stamp > "$out/byte.log"
  python3 "$here/bench/plot_curves.py" "$out/curve.svg" "bytes, 2 threads=$out/byte.log"
  tail -n 2 "$out/byte.log"
  exit 0
fi
common="$common --threads 1"
# shellcheck disable=SC2086
"$gradc" build "$here/examples/gpt.grad" $shape -D vocab=1024 -o "$out/gpt_bpe"
# The tokenizer sees the training split only: the first 90% of the bytes,
# where train puts the split.
size=$(wc -c < "$corpus")
head -c $((size * 9 / 10)) "$corpus" > "$out/train_split.txt"
"$out/gpt_bpe" tokenizer train --vocab 1024 --data "$out/train_split.txt" -o "$out/tok1024.txt"

# shellcheck disable=SC2086
("$out/gpt_byte" train $common --save "$out/byte.ckpt" 2>&1 | stamp > "$out/byte.log") &
# shellcheck disable=SC2086
("$out/gpt_bpe" train $common --tokenizer "$out/tok1024.txt" --save "$out/bpe.ckpt" 2>&1 | stamp > "$out/bpe.log") &
wait
python3 "$here/bench/plot_curves.py" "$out/curve.svg" "bytes=$out/byte.log" "BPE 1024=$out/bpe.log"
tail -n 2 "$out/byte.log" "$out/bpe.log"
