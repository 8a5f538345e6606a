#!/usr/bin/env bash
# setup.sh — on a fresh Debian 12 machine: install the dependencies, build
# gradc, compile the example GPT, train it briefly on the default corpus
# (the text of the `fortunes` package), and let it write a sample.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
gradc_install_deps
gradc_build

echo "==> compiling examples/gpt.grad (4 layers, 4 heads, 128 wide, context 64, batch 12)"
./build/tools/gradc build examples/gpt.grad -o build/gpt
echo "==> training it for 500 steps on /usr/share/games/fortunes (a few minutes on 2 cores)"
./build/gpt train --steps 500 --eval-every 100 --save build/gpt.safetensors
echo "==> a sample from the trained model"
./build/gpt sample --load build/gpt.safetensors --prompt "Q: " --tokens 300 --temperature 0.8 --top-k 40
