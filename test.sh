#!/usr/bin/env bash
# test.sh — install what is missing, build, and run every test (unit, lit
# and end-to-end) through ctest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
gradc_install_deps
gradc_build
ctest --test-dir build --output-on-failure -j 2
