#!/usr/bin/env bash
# Idle resident memory of `bosun agent` (VmRSS from /proc/<pid>/status), after start and after
# serving a few requests and containers. Runs as root with its own temporary roots.
# Usage: bench/agent_rss.sh [path/to/bosun]   (default: target/release/bosun)
set -euo pipefail
. "$(dirname "$0")/cleanup.sh"

bosun=${1:-target/release/bosun}
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
tmp=$(mktemp -d)
export BOSUN_DATA_ROOT=$tmp/data BOSUN_RUN_ROOT=$tmp/run BOSUN_CGROUP_PARENT=bosun-bench-$$
host=unix://$tmp/run/bosun.sock

cleanup() {
    if [ -f "$tmp/run/bosun.pid" ]; then
        for id in $("$bosun" container -H "$host" ls -aq --no-trunc 2>/dev/null); do
            "$bosun" container -H "$host" rm -f "$id" >/dev/null 2>&1 || true
        done
        kill "$(cat "$tmp/run/bosun.pid")" 2>/dev/null || true
        sleep 0.5
    fi
    remove_networks "$tmp/data"
    rm -rf "$tmp"
    for hierarchy in /sys/fs/cgroup/*/; do
        [ -d "$hierarchy$BOSUN_CGROUP_PARENT" ] && find "$hierarchy$BOSUN_CGROUP_PARENT" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    true
}
trap cleanup EXIT

mkdir -p "$tmp/rootfs/bin"
cp /bin/busybox "$tmp/rootfs/bin/"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$tmp/rootfs/bin/$applet"
done

rss() { awk '/^VmRSS:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$(cat "$tmp/run/bosun.pid")/status"; }

"$bosun" agent >/dev/null
sleep 2
echo "agent idle RSS after start:            $(rss)"

for i in $(seq 1 20); do
    "$bosun" container -H "$host" run --rm --rootfs "$tmp/rootfs" true
done
"$bosun" container -H "$host" run -d --name idle --rootfs "$tmp/rootfs" sleep 1000 >/dev/null
"$bosun" container -H "$host" ls -a >/dev/null
"$bosun" container -H "$host" logs idle >/dev/null
sleep 12   # blocking-pool threads retire after 10 s idle
echo "agent idle RSS after 21 containers:    $(rss) (1 running)"
