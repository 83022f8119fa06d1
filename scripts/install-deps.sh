#!/usr/bin/env bash
# Installs everything ferry needs to build and test, from Debian 12 packages only.
# Idempotent: packages already present are left alone, and nothing runs when all are there.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libssl-dev libsqlite3-dev
  libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  # Real servers the tests start on loopback (none runs as a service), and the fuzzers.
  nginx-light lighttpd openssh-server openssh-client clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
