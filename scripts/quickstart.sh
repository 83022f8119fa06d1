#!/usr/bin/env bash
# Quick start, command 1: installs what ferry needs, builds it, and runs the main job on the
# embedded default (SQLite under $FERRY_HOME, Local storage): register the hello flow, create
# a run, and let a local agent fetch the flow from storage and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ferry=./build/bin/ferry

$ferry register --path examples/hello.cpp
# One agent in the background, for exactly one run; `run --watch` follows that run to the end.
$ferry agent local start --max-runs 1 --poll-interval 0.2 &
agent=$!
trap 'kill $agent 2>/dev/null || true' EXIT
$ferry run hello --param name=ferry --watch
wait $agent
trap - EXIT
