#!/usr/bin/env bash
# bench/run.sh — every benchmark, in one command:
#   1. our GEMM against OpenBLAS sgemm (square 256..2048 and the GPT's
#      shapes, 1 and 2 threads): build/bench/gemm_bench
#   2. each example's training step against PyTorch, compile times and peak
#      memory: bench/run.py
# Installs the benchmark-only references (python3-torch, libopenblas-dev)
# if missing, builds, and writes both tables to build/bench-results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
GRADC_PACKAGES+=(python3-torch libopenblas-dev)
gradc_install_deps
gradc_build
# Configure again so that the GEMM benchmark sees OpenBLAS.
cmake -S . -B build >/dev/null
cmake --build build -j 2 --target gemm_bench
# The references choose their own kernel (and gemm_bench and run.py upgrade
# a generic choice): a preset OPENBLAS_CORETYPE can hold OpenBLAS back, as
# Haswell did on an AVX-512 AMD EPYC (100 against 190 GFLOP/s per core).
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  echo "bench/run.sh: ignoring OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE from the environment so that OpenBLAS runs at its best" >&2
  unset OPENBLAS_CORETYPE
fi
out=build/bench-results.md
{
  echo "## GEMM: ours vs OpenBLAS (GFLOPS, median)"
  echo
  echo '```'
  ./build/bench/gemm_bench
  echo '```'
  echo
  echo "## Training steps vs PyTorch"
  echo
  python3 bench/run.py
} | tee "$out"
echo "==> written to $out"
