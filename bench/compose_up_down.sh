#!/usr/bin/env bash
# `bosun up -d` / `down` of 10 and 50 independent services and of a 10-deep depends_on chain,
# a no-op `up`, and `down` of 10 services whose processes ignore SIGTERM (grace period 2 s);
# side by side with docker-compose when it is installed and a Docker daemon answers, on the same
# busybox tree (scripts/build-test-images.sh) imported into Docker under a tag of the bench's own
# (removed at the end); otherwise "docker-compose: skipped: <reason>" and bosun alone.
# A command that fails stops the script with an error naming it (bench/common.sh): no figure is
# printed for a failure.
# Runs as root with its own temporary roots and cgroup parent; never touches /var/lib/bosun.
# Each case runs `runs` times (default 3) on a fresh project; the median of each column is shown.
# The page cache is flushed (`sync`) before the cases, so the image import's writeback does not
# land on the first case's flushes.
# Usage: bench/compose_up_down.sh [path/to/bosun] [runs]   (default: target/release/bosun, 3)
set -euo pipefail
. "$(dirname "$0")/common.sh"

bosun=${1:-target/release/bosun}
runs=${2:-3}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
bosun=$(realpath "$bosun")

tmp=$(mktemp -d)
parent=bosun-bench-$$
docker_image=bosun-bench-busybox:$$
export BOSUN_DATA_ROOT=$tmp/data BOSUN_RUN_ROOT=$tmp/run BOSUN_CGROUP_PARENT=$parent
unset BOSUN_HOST

cleanup() {
    set +e
    for dir in "$tmp"/p-*; do
        [ -d "$dir" ] && (cd "$dir" && "$bosun" -p "b${dir##*/p-}" down -v -t 0 --progress quiet >/dev/null 2>&1)
    done
    if [ -z "$compose_skip" ]; then
        for dir in "$tmp"/d-*; do
            [ -d "$dir" ] && (cd "$dir" && docker-compose -p "b${dir##*/d-}" down -v -t 0 >/dev/null 2>&1)
        done
        docker image rm -f "$docker_image" >/dev/null 2>&1
    fi
    if [ -f "$tmp/run/bosun.pid" ]; then
        kill "$(cat "$tmp/run/bosun.pid")" 2>/dev/null
        sleep 0.5
    fi
    remove_networks "$tmp/data"
    rm -rf "$tmp"
    remove_cgroups "$parent"
}
compose_skip=$(compose_problem)
bench_trap cleanup

test_images "$tmp/images"
checked "$bosun" image import "$tmp/images/busybox.tar" busybox:test --change 'CMD ["sh"]' >/dev/null
if [ -z "$compose_skip" ]; then
    checked docker import --change 'CMD ["sh"]' "$tmp/images/busybox.tar" "$docker_image" >/dev/null
fi
sync

# compose file generators: independent N services, a chain of N, N SIGTERM-ignoring services.
independent() {
    echo "services:"
    for i in $(seq 1 "$1"); do
        printf '  s%s:\n    image: %s\n    command: ["sleep", "1000"]\n    init: true\n' "$i" "$2"
    done
}
chain() {
    echo "services:"
    for i in $(seq 1 "$1"); do
        printf '  s%s:\n    image: %s\n    command: ["sleep", "1000"]\n    init: true\n' "$i" "$2"
        [ "$i" -gt 1 ] && printf '    depends_on: [s%s]\n' "$((i - 1))"
    done
    true
}
stubborn() {
    echo "services:"
    for i in $(seq 1 "$1"); do
        printf '  s%s:\n    image: %s\n    command: ["sh", "-c", "trap \\"\\" TERM; while true; do sleep 1; done"]\n    stop_grace_period: 2s\n' "$i" "$2"
    done
}

seconds() { # → the last `timed` command's wall time in seconds, 3 decimals
    awk -v us="$elapsed_us" 'BEGIN { printf "%.3f", us / 1e6 }'
}

row() { # tool label up noop down
    printf '| %-14s | %-34s | %8s | %8s | %8s |\n' "$1" "$2" "$3" "$4" "$5"
}

median() { # numbers... → the median
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_bosun() { # label generator n
    local dir=$tmp/p-$1
    mkdir -p "$dir"
    "$2" "$3" busybox:test >"$dir/compose.yaml"
    cd "$dir"
    local ups=() noops=() downs=() _
    for _ in $(seq 1 "$runs"); do
        timed "$bosun" -p "b$1" up -d --progress quiet
        ups+=("$(seconds)")
        timed "$bosun" -p "b$1" up -d --progress quiet
        noops+=("$(seconds)")
        timed "$bosun" -p "b$1" down --progress quiet
        downs+=("$(seconds)")
    done
    cd - >/dev/null
    row bosun "$1" "$(median "${ups[@]}")" "$(median "${noops[@]}")" "$(median "${downs[@]}")"
}

run_compose() { # label generator n
    [ -z "$compose_skip" ] || return 0
    local dir=$tmp/d-$1
    mkdir -p "$dir"
    "$2" "$3" "$docker_image" >"$dir/docker-compose.yml"
    cd "$dir"
    local up noop down
    timed docker-compose -p "b$1" up -d
    up=$(seconds)
    timed docker-compose -p "b$1" up -d
    noop=$(seconds)
    timed docker-compose -p "b$1" down
    down=$(seconds)
    cd - >/dev/null
    row docker-compose "$1" "$up" "$noop" "$down"
}

echo "bosun: $bosun ($("$bosun" version --short 2>/dev/null || echo unknown)); $(nproc) CPUs; $(date -u +%FT%TZ); median of $runs runs"
if [ -n "$compose_skip" ]; then
    skip_peer docker-compose "$compose_skip"
else
    echo "docker-compose: $(docker-compose version --short 2>/dev/null), image $docker_image (the same busybox.tar)"
fi
row tool case "up -d s" "no-op s" "down s"
row -------------- ---------------------------------- -------- -------- --------
for spec in "10-independent independent 10" "50-independent independent 50" \
    "10-deep-chain chain 10" "10-ignoring-sigterm stubborn 10"; do
    set -- $spec
    run_bosun "$1" "$2" "$3"
    run_compose "$1" "$2" "$3"
done
