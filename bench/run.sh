#!/usr/bin/env bash
# Builds ferry and its benchmarks (Release, in build-bench/, two jobs) and runs them all,
# printing one table: benchmark | ferry | baseline | ratio | target | ok?
#
#   bash bench/run.sh             # everything (3 to 4 minutes on 2 cores, build included)
#   bash bench/run.sh executor    # one part: executor, compile, load, freeze, register,
#                                 # storage, agent, latency, git, objects, server or docker
#                                 # (several may be given; objects needs azurite and Ceph RGW
#                                 # installed, server's PostgreSQL rows postgresql-15, docker
#                                 # root, podman, runc and docker-registry: bench/docker.sh)
#
# Every figure is a ratio against a baseline measured in the same run, so compare ratios
# across machines, not absolute times. Targets are reported, never asserted: the script fails
# only when a build or a benchmark fails. See docs/benchmarks.md.
#
# Environment: FERRY_BENCH_BUILD_DIR (default build-bench), FERRY_BENCH_JOBS (default 2).
# FERRY_HOME is set to a fresh temporary folder (removed at the end), so ~/.ferry is never
# touched and every run starts from a cold cache. The agent benchmarks start
# `ferry agent local start` in that folder and stop it (SIGTERM, or SIGKILL on an error)
# before the program exits; the server benchmarks do the same with `ferry server start`, its
# agents and a temporary PostgreSQL.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FERRY_BENCH_BUILD_DIR:-$root/build-bench}"
jobs="${FERRY_BENCH_JOBS:-2}"

echo "== building (Release) in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j"$jobs" ferry_cli ferry_bench >&2

home="$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-home.XXXXXX")"
trap 'rm -rf "$home"' EXIT
export FERRY_HOME="$home"
# The benchmarks compare ferry's compile command with the bare compiler using ferry's
# defaults: overrides would make the two differ.
unset FERRY_CXX FERRY_CXXFLAGS FERRY_INCLUDE_DIR

if commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null)"; then
  if [ -n "$(git -C "$root" status --porcelain -- src include 2>/dev/null)" ]; then
    commit="$commit + uncommitted changes in src/ or include/"
  fi
  echo "== commit $commit" >&2
fi

# "docker" is bench/docker.sh (containers, not a part of ferry_bench); everything else is
# ferry_bench's. No parts: all of both.
parts=()
docker=0
for part in "$@"; do
  if [ "$part" = docker ]; then docker=1; else parts+=("$part"); fi
done
[ $# -eq 0 ] && docker=1
start=$SECONDS
if [ $# -eq 0 ] || [ ${#parts[@]} -gt 0 ]; then
  echo "== running ferry_bench ${parts[*]:-all} (FERRY_HOME=$home)" >&2
  "$build/bin/ferry_bench" "${parts[@]}" | tee "$build/benchmarks.md"
  rows_only=1
else
  : >"$build/benchmarks.md"
  rows_only=0
fi
if [ "$docker" = 1 ]; then
  echo "== running bench/docker.sh" >&2
  FERRY_BENCH_BUILD_DIR="$build" FERRY_BENCH_ROWS_ONLY=$rows_only bash "$root/bench/docker.sh" |
    tee -a "$build/benchmarks.md"
fi
echo >&2
echo "== done in $((SECONDS - start)) s; the table is also in $build/benchmarks.md" >&2
