#!/usr/bin/env bash
# Unpack throughput of the image store: `bosun image load` of a docker-save archive (plain and
# gzip layers) and `bosun image pull` from a local docker-registry, each into an empty store,
# in MB/s of uncompressed layer content (best of N runs). Without /usr/bin/docker-registry the
# pull case is reported "skipped: <reason>". A command that fails stops the script with an error
# naming it (bench/common.sh) instead of printing a figure.
# Runs as root with its own temporary roots; never touches /var/lib/bosun or /run/bosun.
# Usage: bench/image_unpack.sh [path/to/bosun] [layer MB] [runs]   (defaults: target/release/bosun, 256, 3)
set -euo pipefail
. "$(dirname "$0")/common.sh"

bosun=${1:-target/release/bosun}
size_mb=${2:-256}
runs=${3:-3}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
registry_skip=
[ -x /usr/bin/docker-registry ] || registry_skip="/usr/bin/docker-registry is not installed (scripts/install-deps.sh)"
bosun=$(realpath "$bosun")

tmp=$(mktemp -d)
registry_pid=
cleanup() {
    set +e
    for run in "$tmp"/run-*; do
        [ -f "$run/bosun.pid" ] && kill "$(cat "$run/bosun.pid")" 2>/dev/null
    done
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null
    sleep 0.3
    for data in "$tmp"/data-*; do [ -d "$data" ] && remove_networks "$data"; done
    rm -rf "$tmp"
}
bench_trap cleanup

# One store per step: `store NAME` exports its roots.
store() {
    export BOSUN_DATA_ROOT=$tmp/data-$1 BOSUN_RUN_ROOT=$tmp/run-$1 BOSUN_CGROUP_PARENT=bosun-bench-$$
}

# A rootfs of the busybox tree (scripts/build-test-images.sh) plus $size_mb MB of
# incompressible-ish files in 1 MB pieces, spread over directories like a real image.
root=$tmp/rootfs
test_images "$tmp/images"
busybox_rootfs "$tmp/images/busybox.tar" "$root"
for i in $(seq 1 "$size_mb"); do
    d=$root/data/$((i % 16))
    mkdir -p "$d"
    head -c 1048576 /dev/urandom >"$d/f$i"
done

store src
checked "$bosun" image import "$root" bench/unpack:plain >/dev/null
checked "$bosun" image save -o "$tmp/plain.tar" bench/unpack:plain
# The same image with a gzip layer, as registries serve them: an OCI layout archive.
mkdir -p "$tmp/gz" && tar -C "$tmp/gz" -xf "$tmp/plain.tar"
layer=$(jq -r '.[0].Layers[0]' "$tmp/gz/manifest.json")
old_manifest=$(jq -r '.manifests[0].digest' "$tmp/gz/index.json" | cut -d: -f2)
gzip -1 -n -c <"$tmp/gz/$layer" >"$tmp/gz/layer.gz"
gz_digest=$(sha256sum "$tmp/gz/layer.gz" | cut -d' ' -f1)
gz_size=$(stat -c %s "$tmp/gz/layer.gz")
config=$(jq -r '.[0].Config' "$tmp/gz/manifest.json")
rm -rf "$tmp/gz/blobs/sha256/${layer##*/}"
mv "$tmp/gz/layer.gz" "$tmp/gz/blobs/sha256/$gz_digest"
config_digest=${config##*/}
config_size=$(stat -c %s "$tmp/gz/$config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$gz_digest" "$gz_size" >"$tmp/gz/m.json"
m_digest=$(sha256sum "$tmp/gz/m.json" | cut -d' ' -f1)
mv "$tmp/gz/m.json" "$tmp/gz/blobs/sha256/$m_digest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/bench/unpack:gzip"}}]}' \
    "$m_digest" "$(stat -c %s "$tmp/gz/blobs/sha256/$m_digest")" >"$tmp/gz/index.json"
rm -f "$tmp/gz/manifest.json" "$tmp/gz/blobs/sha256/$old_manifest"
tar -C "$tmp/gz" -cf "$tmp/gzip.tar" .
unpacked=$(du -sb "$root" | cut -f1)

# A registry with the image pushed (gzip layers are what registries usually hold; this push
# sends the plain layer, as stored).
registry_up() {
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$tmp/registry.yml" <<CONF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: 127.0.0.1:$port
CONF
    /usr/bin/docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
    registry_pid=$!
    local _
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
    curl -sf "http://127.0.0.1:$port/v2/" >/dev/null \
        || die "docker-registry does not answer at 127.0.0.1:$port: $(tail -n 3 "$tmp/registry.log")"
    checked "$bosun" image tag bench/unpack:plain "127.0.0.1:$port/bench/unpack:plain"
    checked "$bosun" image push -q "127.0.0.1:$port/bench/unpack:plain" >/dev/null
}
[ -n "$registry_skip" ] || registry_up

best() { sort -g | head -1; }
measure() { # name, command...
    local name=$1; shift
    local times=()
    for r in $(seq 1 "$runs"); do
        store "$name-$r"
        checked "$bosun" image ls -q >/dev/null   # the agent starts outside the timing
        timed "$@"
        times+=("$(echo "$elapsed_us / 1000000" | bc -l)")
        kill "$(cat "$BOSUN_RUN_ROOT/bosun.pid")"; sleep 0.2; remove_networks "$BOSUN_DATA_ROOT"; rm -rf "$BOSUN_DATA_ROOT"
    done
    local t
    t=$(printf '%s\n' "${times[@]}" | best)
    printf '%-28s %8.2f s %10.1f MB/s\n' "$name" "$t" "$(echo "$unpacked / 1000000 / $t" | bc -l)"
}

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "image: one layer, $((unpacked / 1000000)) MB uncompressed ($(find "$root/data" -type f | wc -l) files), best of $runs"
measure "load (plain layer)" "$bosun" image load -i "$tmp/plain.tar"
measure "load (gzip layer)" "$bosun" image load -i "$tmp/gzip.tar"
if [ -n "$registry_skip" ]; then
    skip_peer "pull (plain, local registry)" "$registry_skip"
else
    measure "pull (plain, local registry)" "$bosun" image pull "127.0.0.1:$port/bench/unpack:plain"
fi
