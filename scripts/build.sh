#!/usr/bin/env bash
# Configures and builds ferry in ./build (Release with debug info), two jobs at a time.
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FERRY_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja "$@" >/dev/null
ninja -C "$build_dir" -j "${FERRY_JOBS:-2}"
