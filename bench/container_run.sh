#!/usr/bin/env bash
# End-to-end `bosun container run --rm --rootfs DIR true` against `runc run` on the same busybox
# rootfs (and crun / docker when they are installed and working). Prints median, p90 and mean per
# tool, the ratio of each to runc, and the agent's VmRSS after the runs.
# Every tool runs the same busybox tree (scripts/build-test-images.sh): a directory rootfs for
# bosun, runc and crun, and for Docker that tree's tarball imported under a tag of the bench's
# own (removed at the end). A peer that cannot run here is reported "<tool>: skipped: <reason>"
# (without runc there is no ratio); a command that fails stops the script with an error naming
# it (bench/common.sh) instead of printing a time.
# Runs as root with its own temporary roots and cgroup parent; never touches /var/lib/bosun or
# /run/bosun. Installs runc (and hyperfine, when apt can) if missing.
# Usage: bench/container_run.sh [path/to/bosun] [runs]   (defaults: target/release/bosun, 30)
set -euo pipefail
. "$(dirname "$0")/common.sh"

bosun=${1:-target/release/bosun}
runs=${2:-30}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
bosun=$(realpath "$bosun")

if ! command -v runc >/dev/null; then
    apt-get install -y runc >/dev/null 2>&1 || true
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
docker_image=bosun-bench-busybox:$$

cleanup() {
    set +e
    if [ -f "$tmp/run/bosun.pid" ]; then
        for id in $("$bosun" container -H "$host" ls -aq --no-trunc 2>/dev/null); do
            "$bosun" container -H "$host" rm -f "$id" >/dev/null 2>&1
        done
        kill "$(cat "$tmp/run/bosun.pid")" 2>/dev/null
        sleep 0.5
    fi
    if [ -z "$runc_skip" ]; then runc --root "$runc_root" delete -f "$runc_id" >/dev/null 2>&1; fi
    if [ -z "$crun_skip" ]; then crun --root "$tmp/crun-state" delete -f "$runc_id" >/dev/null 2>&1; fi
    if [ -n "$docker_imported" ]; then docker image rm -f "$docker_image" >/dev/null 2>&1; fi
    remove_networks "$tmp/data"
    rm -rf "$tmp"
    remove_cgroups "$parent"
}
# Peers that are only measured when installed and working.
runc_skip= crun_skip= docker_skip= docker_imported=
command -v runc >/dev/null || runc_skip="runc is not installed (apt-get install runc failed)"
command -v crun >/dev/null || crun_skip="crun is not installed"
docker_skip=$(docker_problem)
bench_trap cleanup

# The busybox tree shared by every tool.
test_images "$tmp/images"
rootfs=$tmp/bundle/rootfs
busybox_rootfs "$tmp/images/busybox.tar" "$rootfs"

# The OCI bundle for runc (and crun): default spec, `true`, no terminal, writable root, cgroups
# under the bench parent so cleanup finds them.
if [ -z "$runc_skip" ] || [ -z "$crun_skip" ]; then
    spec_tool=runc
    [ -n "$runc_skip" ] && spec_tool=crun
    (cd "$tmp/bundle" && checked "$spec_tool" spec)
    checked jq --arg cg "/$parent/runc" \
        '.process.args = ["true"] | .process.terminal = false | .root.readonly = false
         | .linux.cgroupsPath = $cg' \
        "$tmp/bundle/config.json" >"$tmp/bundle/config.json.new"
    mv "$tmp/bundle/config.json.new" "$tmp/bundle/config.json"
fi
if [ -z "$docker_skip" ]; then
    docker_imported=1
    checked docker import --change 'CMD ["sh"]' "$tmp/images/busybox.tar" "$docker_image" >/dev/null
fi
# A peer installed but unable to run here is skipped with the reason.
[ -n "$runc_skip" ] || runc_skip=$(trial runc --root "$runc_root" run -b "$tmp/bundle" "$runc_id")
[ -n "$crun_skip" ] || crun_skip=$(trial crun --root "$tmp/crun-state" run -b "$tmp/bundle" "$runc_id")
[ -n "$docker_skip" ] || docker_skip=$(trial docker run --rm "$docker_image" true)

# The agent starts before timing so its start-up is not counted.
checked "$bosun" agent >/dev/null
wait_for_socket "$tmp/run/bosun.sock"
agent_pid=$(cat "$tmp/run/bosun.pid")

# `bosun` joins the default bridge network as a user's run does (veth, address, firewall);
# `bosun-nonet` has a network namespace with only loopback, as the runc bundle has;
# `bosun-noseccomp` is `bosun-nonet` without the default seccomp filter (what the filter costs).
names=(bosun bosun-nonet bosun-noseccomp)
cmds=(
    "$bosun container -H $host run --rm --rootfs $rootfs true"
    "$bosun container -H $host run --rm --network none --rootfs $rootfs true"
    "$bosun container -H $host run --rm --network none --security-opt seccomp=unconfined --rootfs $rootfs true"
)
if [ -z "$runc_skip" ]; then
    names+=(runc)
    cmds+=("runc --root $runc_root run -b $tmp/bundle $runc_id")
fi
if [ -z "$crun_skip" ]; then
    names+=(crun)
    cmds+=("crun --root $tmp/crun-state run -b $tmp/bundle $runc_id")
fi
if [ -z "$docker_skip" ]; then
    names+=(docker)
    cmds+=("docker run --rm $docker_image true")
fi

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -m | awk '/^Mem:/ { print $2 }') MB"
echo "runs per tool: $runs (after 3 warm-up runs)"
[ -z "$runc_skip" ] || skip_peer runc "$runc_skip"
[ -z "$crun_skip" ] || skip_peer crun "$crun_skip"
[ -z "$docker_skip" ] || skip_peer docker "$docker_skip"
for i in "${!names[@]}"; do echo "${names[$i]}: ${cmds[$i]}"; done
echo

# Times one command: writes one line per run, in milliseconds, to $2. One checked run first,
# so that a failing command is named; hyperfine itself stops at a non-zero exit.
measure() {
    local cmd=$1 out=$2
    # shellcheck disable=SC2086 # the command line is split into words on purpose
    checked $cmd >/dev/null
    if command -v hyperfine >/dev/null; then
        checked hyperfine -N --style none --warmup 2 --runs "$runs" --export-json "$out.json" "$cmd" >/dev/null
        jq -r '.results[0].times[] | . * 1000' "$out.json" >"$out"
    else
        local _
        for _ in 1 2; do checked $cmd >/dev/null; done
        : >"$out"
        for _ in $(seq 1 "$runs"); do
            timed $cmd
            echo "$elapsed_us" | awk '{ print $1 / 1000 }' >>"$out"
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
printf '%-16s %10s %10s %10s %12s\n' tool "median ms" "p90 ms" "mean ms" "median/runc"
for i in "${!names[@]}"; do
    measure "${cmds[$i]}" "$tmp/${names[$i]}.times"
done
runc_median=
[ -n "$runc_skip" ] || runc_median=$(stats "$tmp/runc.times" | cut -d' ' -f1)
for i in "${!names[@]}"; do
    read -r m p a < <(stats "$tmp/${names[$i]}.times")
    median[${names[$i]}]=$m
    printf '%-16s %10s %10s %10s %12s\n' "${names[$i]}" "$m" "$p" "$a" \
        "$(awk -v m="$m" -v r="$runc_median" 'BEGIN { if (r == "") print "-"; else printf "%.2f", m / r }')"
done
echo
sleep 12   # blocking-pool threads retire after 10 s idle
[ -r "/proc/$agent_pid/status" ] || die "the agent (pid $agent_pid) is not running"
echo "agent VmRSS after the runs (idle): $(awk '/^VmRSS:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$agent_pid/status")"
