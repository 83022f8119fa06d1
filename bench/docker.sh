#!/usr/bin/env bash
# Docker storage benchmark: build and push of a one-flow image, through the Docker Engine API
# (podman here) against the daemonless builder, on a loopback docker-registry, several rounds.
# The engine build is the baseline (ratio = daemonless / engine); a bare `curl` upload of the
# flow package to the same registry, as a blob, shows what the push itself costs.
#
#   bash bench/docker.sh [ROUNDS]      # needs root, podman, runc and docker-registry
#
# Uses the build in build-bench/ (bench/run.sh makes it) or FERRY_BENCH_BUILD_DIR.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FERRY_BENCH_BUILD_DIR:-$root/build-bench}"
rounds="${1:-5}"
if [ ! -x "$build/bin/ferry" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_BENCH=ON >/dev/null
  ninja -C "$build" -j2 ferry_cli >&2
fi
ferry="$build/bin/ferry"

work="$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-docker.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  sleep 0.5
  umount -R "$work"/podman/root/overlay 2>/dev/null || true
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

free_port() {  # a random port nobody listens on
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
now() { date +%s%N; }                       # nanoseconds
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }

# The registry (no auth: the benchmark measures builds, not logins).
port="$(free_port)"
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<CONF
version: 0.1
storage: { filesystem: { rootdirectory: $work/registry/data } }
http: { addr: 127.0.0.1:$port }
CONF
setsid docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
pids+=($!)
registry="127.0.0.1:$port"

# podman serving the Engine API (runc, explicit ulimits, host network: see DESIGN.md §8).
mkdir -p "$work/podman"
cat > "$work/podman/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat > "$work/podman/registries.conf" <<CONF
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1"
insecure = true
CONF
CONTAINERS_CONF="$work/podman/containers.conf" \
CONTAINERS_REGISTRIES_CONF="$work/podman/registries.conf" \
  setsid podman --root "$work/podman/root" --runroot "$work/podman/runroot" \
  --tmpdir "$work/podman/tmp" system service --time=0 "unix://$work/podman/sock" \
  >"$work/podman/log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sf --unix-socket "$work/podman/sock" http://d/_ping >/dev/null 2>&1 && \
    curl -sf "http://$registry/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done

export FERRY_HOME="$work/home" DOCKER_HOST="unix://$work/podman/sock"
export FERRY_RUNTIME_IMAGE="$registry/ferry-runtime:bench"
"$ferry" image build-runtime --tag "$FERRY_RUNTIME_IMAGE" >/dev/null

register() {  # builder, flow name -> seconds
  local t0 t1
  t0="$(now)"
  TEST_FLOW_NAME="$2" TEST_REGISTRY="$registry" TEST_BASE_IMAGE="$FERRY_RUNTIME_IMAGE" \
    TEST_BUILDER="$1" "$ferry" register --path "$root/tests/fixtures/e2e/docker_flow.cpp" \
    >"$work/register.log" 2>&1 || { cat "$work/register.log" >&2; exit 1; }
  t1="$(now)"
  secs "$t0" "$t1"
}

# Warm-up: the flow source compiles once; the engine pulls the base image once.
register engine bench-warm >/dev/null
register daemonless bench-warm-d >/dev/null

engine=(); daemonless=(); upload=()
package="$work/package.ferry"
"$ferry" flow freeze --path "$root/tests/fixtures/e2e/docker_flow.cpp" -o "$package" >/dev/null
for i in $(seq "$rounds"); do
  engine+=("$(register engine "bench-engine-$i")")
  daemonless+=("$(register daemonless "bench-daemonless-$i")")
  # Baseline for the push itself: the package as one monolithic blob upload with curl.
  digest="sha256:$(sha256sum "$package" | cut -d' ' -f1)"
  t0="$(now)"
  loc="$(curl -sf -X POST -D - -o /dev/null "http://$registry/v2/bench-curl-$i/blobs/uploads/" \
        | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')"
  case "$loc" in http*) ;; *) loc="http://$registry$loc" ;; esac
  sep='?'; case "$loc" in *\?*) sep='&' ;; esac
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$package" \
    "$loc${sep}digest=$digest" -o /dev/null
  t1="$(now)"
  upload+=("$(secs "$t0" "$t1")")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
me="$(median "${engine[@]}")"; md="$(median "${daemonless[@]}")"; mu="$(median "${upload[@]}")"
size="$(stat -c %s "$package")"
# The rows of bench/run.sh's table (benchmark | ferry | baseline | ratio | target | ok?); the
# issue sets no target for these, so they are reported only. FERRY_BENCH_ROWS_ONLY=1 (as
# bench/run.sh sets it) leaves the header out.
if [ "${FERRY_BENCH_ROWS_ONLY:-0}" != 1 ]; then
  printf '| benchmark | ferry | baseline | ratio | target | ok? |\n|---|---|---|---|---|---|\n'
fi
printf '| docker: register a one-flow image, daemonless vs engine build+push (median of %s) | %s ms | %s ms | %sx | - | - |\n' \
  "$rounds" "$(calc "$md*1000")" "$(calc "$me*1000")" "$(calc "$md/$me")"
printf '| docker: daemonless register vs curl upload of the %s-byte package (median of %s) | %s ms | %s ms | %sx | - | - |\n' \
  "$size" "$rounds" "$(calc "$md*1000")" "$(calc "$mu*1000")" "$(calc "$md/$mu")"
