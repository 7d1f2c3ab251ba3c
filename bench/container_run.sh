#!/usr/bin/env bash
# End-to-end `bosun container run --rm --rootfs DIR true` against `runc run` on the same busybox
# rootfs (and crun / docker when they are installed and working). Prints median, p90 and mean per
# tool, the ratio of each to runc, and the agent's VmRSS after the runs.
# Runs as root with its own temporary roots and cgroup parent; never touches /var/lib/bosun or
# /run/bosun. Installs runc (and hyperfine, when apt can) if missing.
# Usage: bench/container_run.sh [path/to/bosun] [runs]   (defaults: target/release/bosun, 30)
set -euo pipefail
. "$(dirname "$0")/cleanup.sh"

bosun=${1:-target/release/bosun}
runs=${2:-30}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
bosun=$(realpath "$bosun")

if ! command -v runc >/dev/null; then
    apt-get install -y runc >/dev/null
fi
if ! command -v hyperfine >/dev/null; then
    apt-get install -y hyperfine >/dev/null 2>&1 || true
fi

tmp=$(mktemp -d)
parent=bosun-bench-$$
export BOSUN_DATA_ROOT=$tmp/data BOSUN_RUN_ROOT=$tmp/run BOSUN_CGROUP_PARENT=$parent
host=unix://$tmp/run/bosun.sock
runc_id=bosun-bench-$$
runc_root=$tmp/runc-state

cleanup() {
    set +e
    if [ -f "$tmp/run/bosun.pid" ]; then
        for id in $("$bosun" container -H "$host" ls -aq --no-trunc 2>/dev/null); do
            "$bosun" container -H "$host" rm -f "$id" >/dev/null 2>&1
        done
        kill "$(cat "$tmp/run/bosun.pid")" 2>/dev/null
        sleep 0.5
    fi
    runc --root "$runc_root" delete -f "$runc_id" >/dev/null 2>&1
    if [ -n "${crun_ok:-}" ]; then crun --root "$tmp/crun-state" delete -f "$runc_id" >/dev/null 2>&1; fi
    remove_networks "$tmp/data"
    rm -rf "$tmp"
    for hierarchy in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [ -d "$hierarchy$parent" ] && find "$hierarchy$parent" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The busybox rootfs shared by every tool.
rootfs=$tmp/bundle/rootfs
mkdir -p "$rootfs/bin"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done

# The OCI bundle for runc (and crun): default spec, `true`, no terminal, writable root, cgroups
# under the bench parent so cleanup finds them.
(cd "$tmp/bundle" && runc spec)
jq --arg cg "/$parent/runc" \
    '.process.args = ["true"] | .process.terminal = false | .root.readonly = false
     | .linux.cgroupsPath = $cg' \
    "$tmp/bundle/config.json" >"$tmp/bundle/config.json.new"
mv "$tmp/bundle/config.json.new" "$tmp/bundle/config.json"

# Peers that are only measured when installed and working.
crun_ok=
if command -v crun >/dev/null && crun --root "$tmp/crun-state" run -b "$tmp/bundle" "$runc_id" >/dev/null 2>&1; then
    crun_ok=1
fi
docker_ok=
if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker image inspect busybox >/dev/null 2>&1; then
    docker_ok=1
fi

# The agent starts before timing so its start-up is not counted.
"$bosun" agent >/dev/null
for _ in $(seq 1 50); do [ -S "$tmp/run/bosun.sock" ] && break; sleep 0.1; done
agent_pid=$(cat "$tmp/run/bosun.pid")

# `bosun` joins the default bridge network as a user's run does (veth, address, firewall);
# `bosun-nonet` has a network namespace with only loopback, as the runc bundle has.
names=(bosun bosun-nonet runc)
cmds=(
    "$bosun container -H $host run --rm --rootfs $rootfs true"
    "$bosun container -H $host run --rm --network none --rootfs $rootfs true"
    "runc --root $runc_root run -b $tmp/bundle $runc_id"
)
if [ -n "$crun_ok" ]; then
    names+=(crun)
    cmds+=("crun --root $tmp/crun-state run -b $tmp/bundle $runc_id")
fi
if [ -n "$docker_ok" ]; then
    names+=(docker)
    cmds+=("docker run --rm busybox true")
fi

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -m | awk '/^Mem:/ { print $2 }') MB"
echo "runs per tool: $runs (after 3 warm-up runs)"
[ -n "$crun_ok" ] || echo "crun: not installed or not working here, skipped"
[ -n "$docker_ok" ] || echo "docker: no working daemon with a busybox image, skipped"
for i in "${!names[@]}"; do echo "${names[$i]}: ${cmds[$i]}"; done
echo

# Times one command: writes one line per run, in milliseconds, to $2.
measure() {
    local cmd=$1 out=$2
    if command -v hyperfine >/dev/null; then
        hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$out.json" "$cmd" >/dev/null
        jq -r '.results[0].times[] | . * 1000' "$out.json" >"$out"
    else
        local _ start end
        for _ in 1 2 3; do $cmd >/dev/null; done
        : >"$out"
        for _ in $(seq 1 "$runs"); do
            start=${EPOCHREALTIME/[.,]/}
            $cmd >/dev/null
            end=${EPOCHREALTIME/[.,]/}
            echo "$(( end - start ))" | awk '{ print $1 / 1000 }' >>"$out"
        done
    fi
}

# Prints "median p90 mean" of a file of numbers.
stats() {
    sort -g "$1" | awk '{ v[NR] = $1; s += $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              p = int(NR * 0.9 + 0.999999); if (p < 1) p = 1
              printf "%.1f %.1f %.1f\n", m, v[p], s / NR }'
}

declare -A median
printf '%-12s %10s %10s %10s %12s\n' tool "median ms" "p90 ms" "mean ms" "median/runc"
for i in "${!names[@]}"; do
    measure "${cmds[$i]}" "$tmp/${names[$i]}.times"
done
runc_median=$(stats "$tmp/runc.times" | cut -d' ' -f1)
for i in "${!names[@]}"; do
    read -r m p a < <(stats "$tmp/${names[$i]}.times")
    median[${names[$i]}]=$m
    printf '%-12s %10s %10s %10s %12s\n' "${names[$i]}" "$m" "$p" "$a" \
        "$(awk -v m="$m" -v r="$runc_median" 'BEGIN { printf "%.2f", m / r }')"
done
echo
sleep 12   # blocking-pool threads retire after 10 s idle
echo "agent VmRSS after the runs (idle): $(awk '/^VmRSS:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$agent_pid/status")"
