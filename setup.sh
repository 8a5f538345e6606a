#!/usr/bin/env bash
# setup.sh — on a fresh Debian 12 machine: install the dependencies, build
# gradc, then compile the example model and train it.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
gradc_install_deps
gradc_build

echo "==> compiling examples/linreg.grad"
./build/tools/gradc build examples/linreg.grad -o build/linreg
echo "==> training it on its own data (y = 3x + 2 plus noise)"
./build/linreg train --steps 300
