#!/usr/bin/env bash
# Quick start, command 2: installs what ferry needs, builds it, and runs the whole test
# suite (unit and end-to-end) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "${FERRY_JOBS:-2}" --timeout 300
