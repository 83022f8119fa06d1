#!/usr/bin/env bash
# Installs ferry into a temporary prefix, then (1) builds a user's CMake project against it
# with find_package(ferry) + ferry_add_flow_module, and (2) runs a lone flow source with the
# installed ferry, which must find its installed headers by itself.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build_dir" --prefix "$prefix" >/dev/null
test -f "$prefix/include/ferry/ferry.hpp"
test -x "$prefix/bin/ferry"

cmake -S "$source_dir/tests/e2e/install_project" -B "$work/user" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
ninja -C "$work/user" >/dev/null
module=$(find "$work/user" -name 'libuserflows.so' | head -n1)
test -n "$module" || { echo "FAIL: libuserflows.so was not built"; exit 1; }
nm -D "$module" | grep -q ferry_module_v1 || { echo "FAIL: module exports no ferry_module_v1"; exit 1; }

# The installed ferry compiles a lone source with its installed headers: FERRY_INCLUDE_DIR
# is unset, and the installed headers sit next to the installed library.
unset FERRY_INCLUDE_DIR
out=$(FERRY_HOME="$work/home" "$prefix/bin/ferry" run --path "$source_dir/tests/e2e/install_project/flows.cpp")
echo "$out"
grep -q "Result: 42" <<<"$out" || { echo "FAIL: installed ferry did not run the flow"; exit 1; }
echo "install test passed"
