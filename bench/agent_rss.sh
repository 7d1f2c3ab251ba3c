#!/usr/bin/env bash
# Idle resident memory of `bosun agent` (VmRSS from /proc/<pid>/status), after start and after
# serving a few requests and containers. Runs as root with its own temporary roots. A command
# that fails stops the script with an error naming it (bench/common.sh) instead of a figure.
# Usage: bench/agent_rss.sh [path/to/bosun]   (default: target/release/bosun)
set -euo pipefail
. "$(dirname "$0")/common.sh"

bosun=${1:-target/release/bosun}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
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
    remove_cgroups "$BOSUN_CGROUP_PARENT"
}
bench_trap cleanup

test_images "$tmp/images"
busybox_rootfs "$tmp/images/busybox.tar" "$tmp/rootfs"

# The agent's VmRSS; stops when the agent is gone (no figure for a dead agent).
rss() {
    local pid
    pid=$(cat "$tmp/run/bosun.pid")
    [ -r "/proc/$pid/status" ] || die "the agent (pid $pid) is not running"
    awk '/^VmRSS:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pid/status"
}

checked "$bosun" agent >/dev/null
wait_for_socket "$tmp/run/bosun.sock"
sleep 2
figure=$(rss)
echo "agent idle RSS after start:            $figure"

for i in $(seq 1 20); do
    checked "$bosun" container -H "$host" run --rm --rootfs "$tmp/rootfs" true
done
checked "$bosun" container -H "$host" run -d --name idle --rootfs "$tmp/rootfs" sleep 1000 >/dev/null
checked "$bosun" container -H "$host" ls -a >/dev/null
checked "$bosun" container -H "$host" logs idle >/dev/null
sleep 12   # blocking-pool threads retire after 10 s idle
figure=$(rss)
echo "agent idle RSS after 21 containers:    $figure (1 running)"
