#!/usr/bin/env bash
# Installs everything ferry needs to build and test, from Debian 12 packages only.
# Idempotent: packages already present are left alone, and nothing runs when all are there.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libssl-dev libsqlite3-dev
  libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev libpqxx-dev libarchive-dev libsimdjson-dev
  # Real servers the tests start on loopback (none runs as a service), and the fuzzers.
  nginx-light lighttpd lighttpd-mod-openssl openssh-server openssh-client clang libclang-rt-14-dev
  radosgw ceph-mon ceph-osd postgresql-15
  # Container images: a registry, and podman serving the Docker Engine API (runc: crun fails here).
  docker-registry apache2-utils podman runc conmon golang-github-containers-common
  containernetworking-plugins iptables catatonit
)

# azurite (the Azure Blob emulator) comes from npm: 3.35.0 is the newest that runs on
# Node 18/20. Installed under /opt/ferry-test-tools, found there by the test fixture.
install_azurite() {
  local prefix=/opt/ferry-test-tools
  [ -x "$prefix/node_modules/.bin/azurite-blob" ] && return 0
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  if ! command -v npm >/dev/null; then  # machines that come with their own Node keep it
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends nodejs npm
  fi
  "${sudo_cmd[@]}" mkdir -p "$prefix"
  "${sudo_cmd[@]}" npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    azurite@3.35.0 >&2
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_azurite
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
install_azurite
