#!/usr/bin/env bash
# Container start from a cached image (overlayfs of its layers + a per-container upper dir)
# against the same busybox tree given as a plain directory rootfs:
# `bosun container run --rm busybox:bench true` vs `bosun container run --rm --rootfs DIR true`,
# side by side with hyperfine. Prints both and the difference of the medians (target < 5 ms).
# Runs as root with its own temporary roots and cgroup parent. Each command runs once, checked,
# before hyperfine: a failure stops the script with an error naming it (bench/common.sh).
# Usage: bench/image_start.sh [path/to/bosun] [runs]   (defaults: target/release/bosun, 30)
set -euo pipefail
. "$(dirname "$0")/common.sh"

bosun=${1:-target/release/bosun}
runs=${2:-30}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
command -v hyperfine >/dev/null || checked apt-get install -y hyperfine >/dev/null
bosun=$(realpath "$bosun")

tmp=$(mktemp -d)
parent=bosun-bench-$$
export BOSUN_DATA_ROOT=$tmp/data BOSUN_RUN_ROOT=$tmp/run BOSUN_CGROUP_PARENT=$parent
host=unix://$tmp/run/bosun.sock
cleanup() {
    set +e
    if [ -f "$tmp/run/bosun.pid" ]; then
        for id in $("$bosun" container -H "$host" ls -aq --no-trunc 2>/dev/null); do
            "$bosun" container -H "$host" rm -f "$id" >/dev/null 2>&1
        done
        kill "$(cat "$tmp/run/bosun.pid")" 2>/dev/null
        sleep 0.5
    fi
    remove_networks "$tmp/data"
    rm -rf "$tmp"
    remove_cgroups "$parent"
}
bench_trap cleanup

test_images "$tmp/images"
busybox_rootfs "$tmp/images/busybox.tar" "$tmp/rootfs"
checked "$bosun" image -H "$host" import "$tmp/images/busybox.tar" busybox:bench >/dev/null
image_cmd="$bosun container -H $host run --rm busybox:bench true"
rootfs_cmd="$bosun container -H $host run --rm --rootfs $tmp/rootfs true"
# shellcheck disable=SC2086 # the command lines are split into words on purpose
checked $image_cmd >/dev/null
# shellcheck disable=SC2086
checked $rootfs_cmd >/dev/null

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
checked hyperfine -N --warmup 3 --runs "$runs" --export-json "$tmp/start.json" \
    -n image "$image_cmd" -n rootfs "$rootfs_cmd"
jq -r '.results[] | "\(.command): median \(.median * 1000 | . * 10 | round / 10) ms, mean \(.mean * 1000 | . * 10 | round / 10) ms"' "$tmp/start.json"
jq -r '"image start extra (median): \((.results[0].median - .results[1].median) * 1000 | . * 10 | round / 10) ms"' "$tmp/start.json"
