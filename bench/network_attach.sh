#!/usr/bin/env bash
# What joining a network adds to a container's run: `bosun container run --rm --rootfs DIR true`
# with `--network none`, on a user network, and on a user network with two published ports,
# inside a network namespace of the bench's own (the host's links and tables are untouched).
# Prints median, p90 and mean per case and each network case's median minus the `none` one; the
# cases take turns run after run. A command that fails stops the script with an error naming it
# (bench/common.sh) instead of printing a time.
# Usage: bench/network_attach.sh [path/to/bosun] [runs]   (defaults: target/release/bosun, 30)
set -euo pipefail
. "$(dirname "$0")/common.sh"

bosun=${1:-target/release/bosun}
runs=${2:-30}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
bosun=$(realpath "$bosun")

tmp=$(mktemp -d)
ns=bsna-$$
export BOSUN_DATA_ROOT=$tmp/data BOSUN_RUN_ROOT=$tmp/run BOSUN_CGROUP_PARENT=bosun-bench-$$
in_ns() { nsenter --net=/run/netns/$ns "$@"; }
b() { in_ns "$bosun" "$@"; }

cleanup() {
    set +e
    if [ -f "$tmp/run/bosun.pid" ]; then
        for id in $(b container ls -aq --no-trunc); do b container rm -f "$id" >/dev/null; done
        for net in $(b network ls -q --filter type=custom 2>/dev/null); do b network rm "$net" >/dev/null 2>&1; done
        kill "$(cat "$tmp/run/bosun.pid")"
        sleep 1
    fi
    ip netns del "$ns" 2>/dev/null
    remove_cgroups "$BOSUN_CGROUP_PARENT"
    rm -rf "$tmp"
}
bench_trap cleanup

checked ip netns add "$ns"
checked in_ns ip link set lo up
test_images "$tmp/images"
rootfs=$tmp/rootfs
busybox_rootfs "$tmp/images/busybox.tar" "$rootfs"

checked b agent >/dev/null
wait_for_socket "$tmp/run/bosun.sock"
checked b network create benchnet >/dev/null

names=(none network network+ports)
cmds=(
    "nsenter --net=/run/netns/$ns $bosun container run --rm --network none --rootfs $rootfs true"
    "nsenter --net=/run/netns/$ns $bosun container run --rm --network benchnet --rootfs $rootfs true"
    "nsenter --net=/run/netns/$ns $bosun container run --rm --network benchnet -p 18080:80 -p 18081:81/udp --rootfs $rootfs true"
)

# The cases take turns, run after run, so that a change of machine load touches them alike.
measure() {
    local _ i
    # shellcheck disable=SC2086 # the command lines are split into words on purpose
    for _ in 1 2 3; do for i in "${!cmds[@]}"; do checked ${cmds[$i]} >/dev/null; done; done
    for i in "${!cmds[@]}"; do : >"$tmp/$i.times"; done
    for _ in $(seq 1 "$runs"); do
        for i in "${!cmds[@]}"; do
            # shellcheck disable=SC2086
            timed ${cmds[$i]}
            echo "$elapsed_us" | awk '{ print $1 / 1000 }' >>"$tmp/$i.times"
        done
    done
}

stats() {
    sort -g "$1" | awk '{ v[NR] = $1; s += $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              p = int(NR * 0.9 + 0.999999); if (p < 1) p = 1
              printf "%.1f %.1f %.1f\n", m, v[p], s / NR }'
}

echo "bosun: $bosun ($runs runs per case after 3 warm-up runs, load $(cut -d' ' -f1 /proc/loadavg))"
measure
none=$(stats "$tmp/0.times" | cut -d' ' -f1)
printf '%-14s %10s %10s %10s %14s\n' case "median ms" "p90 ms" "mean ms" "minus none"
for i in "${!names[@]}"; do
    read -r m p a < <(stats "$tmp/$i.times")
    printf '%-14s %10s %10s %10s %14s\n' "${names[$i]}" "$m" "$p" "$a" \
        "$(awk -v m="$m" -v n="$none" 'BEGIN { printf "%+.1f", m - n }')"
done
