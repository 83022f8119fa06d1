#!/usr/bin/env bash
# Quick start, command 1: installs what ferry needs, builds it, and runs the main job:
# the hello flow (examples/hello.cpp) end to end on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/bin/ferry run --path examples/hello.cpp --param name=ferry
