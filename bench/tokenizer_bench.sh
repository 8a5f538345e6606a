#!/usr/bin/env bash
# bench/tokenizer_bench.sh FILE [VOCAB] — the byte-level BPE tokenizer's
# speed on FILE (e.g. tinyshakespeare): training VOCAB - 256 merges (default
# 1256: 1,000 merges), then encoding and decoding in MB/s, each the median of
# 3 runs, with and without the pre-split. A benchmark, not a test.
# Any model executable has the `tokenizer` command; this builds the smallest
# example (linreg) with the gradc in build/ (build it first: ./setup.sh or
# cmake --build build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
file="${1:?usage: bench/tokenizer_bench.sh FILE [VOCAB]}"
vocab="${2:-1256}"
[ -r "$file" ] || { echo "error: cannot read $file" >&2; exit 1; }
gradc="$root/build/tools/gradc"
[ -x "$gradc" ] || { echo "error: $gradc is missing; build first (cmake --build build)" >&2; exit 1; }
exe="$(mktemp -d)/linreg"
trap 'rm -rf "$(dirname "$exe")"' EXIT
if ! out=$("$gradc" build "$root/examples/linreg.grad" -o "$exe" 2>&1); then echo "$out" >&2; exit 1; fi
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
"$exe" tokenizer bench --data "$file" --vocab "$vocab" --runs 3
"$exe" tokenizer bench --data "$file" --vocab "$vocab" --runs 3 --no-presplit
