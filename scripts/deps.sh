#!/usr/bin/env bash
# scripts/deps.sh — install what gradc needs on Debian 12, skipping what is
# already there. Sourced by setup.sh and test.sh.
set -euo pipefail

# clang-19 and libFuzzer build the sanitizer fuzz targets (tests/fuzz).
# openmpi-bin runs data-parallel training (mpirun -np N ./model train); the
# executables load its libmpi.so.40 themselves, so no MPI headers are needed.
GRADC_PACKAGES=(cmake ninja-build g++ llvm-19-dev llvm-19-tools libfmt-dev libgtest-dev python3 fortunes openmpi-bin
                clang-19 libfuzzer-19-dev libclang-rt-19-dev)

gradc_install_deps() {
  local missing=()
  for p in "${GRADC_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  echo "==> installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configure (once) and build in ./build with two jobs.
gradc_build() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ ! -f "$root/build/build.ninja" ]; then
    cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$root/build" -j 2
}
