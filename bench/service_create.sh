#!/usr/bin/env bash
# `service create --replicas N` on a one-node cluster, until every replica runs: the CLI's own
# wait (without --detach, both tools poll their tasks until N run), then `service rm` and a wait
# until the containers are gone; K times. Side by side with `docker service create` on a
# one-node Docker swarm (`docker swarm init` on 127.0.0.1, left again at the end) when a Docker
# daemon answers and is not already in a swarm; otherwise "docker: skipped: <reason>".
# Both run the same busybox tree (scripts/build-test-images.sh), `sleep 86400` in each task.
# Usage: bench/service_create.sh [BOSUN_BINARY] [REPLICAS] [ROUNDS]   (defaults: release, 20, 5)
set -euo pipefail
bosun=${1:-target/release/bosun}
N=${2:-20}
K=${3:-5}
. "$(dirname "$0")/common.sh"
[ -x "$bosun" ] || die "no bosun binary at $bosun (cargo build --release)"
bosun=$(realpath "$bosun")

tmp=$(mktemp -d)
parent=bosun-bench-svc-$$
docker_image=bosun-bench-busybox:$$
port=$((20000 + RANDOM % 20000))
export BOSUN_DATA_ROOT=$tmp/data BOSUN_RUN_ROOT=$tmp/run BOSUN_CGROUP_PARENT=$parent
unset BOSUN_HOST
docker_skip=$(docker_problem)
if [ -z "$docker_skip" ] && [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then
    docker_skip="the Docker daemon is already part of a swarm (this script only uses its own)"
fi
swarm_joined=

cleanup() {
    set +e
    "$bosun" service ls -q 2>/dev/null | xargs -r "$bosun" service rm >/dev/null 2>&1
    [ -f "$tmp/data/cluster/manager.pid" ] && kill -9 "$(cat "$tmp/data/cluster/manager.pid")" 2>/dev/null
    "$bosun" container ls -aq 2>/dev/null | xargs -r "$bosun" container rm -f >/dev/null 2>&1
    if [ -f "$tmp/run/bosun.pid" ]; then
        kill "$(cat "$tmp/run/bosun.pid")" 2>/dev/null
        sleep 0.5
    fi
    if [ -n "$swarm_joined" ]; then
        docker service ls -q --filter label=bosun-bench="$$" | xargs -r docker service rm >/dev/null 2>&1
        docker swarm leave --force >/dev/null 2>&1
    fi
    [ -z "$docker_skip" ] && docker image rm -f "$docker_image" >/dev/null 2>&1
    remove_networks "$tmp/data"
    rm -rf "$tmp"
    remove_cgroups "$parent"
}
bench_trap cleanup

test_images "$tmp/images"
checked "$bosun" image import "$tmp/images/busybox.tar" busybox:test --change 'CMD ["sh"]' >/dev/null
checked "$bosun" cluster init --listen-addr "127.0.0.1:$port" --advertise-addr "127.0.0.1:$port" >/dev/null
if [ -z "$docker_skip" ]; then
    checked docker import --change 'CMD ["sh"]' "$tmp/images/busybox.tar" "$docker_image" >/dev/null
    checked docker swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$((port + 1))" >/dev/null
    swarm_joined=1
fi
sync

# until_gone CMD...: polls CMD (which lists what is left, one per line) until it prints nothing.
until_gone() {
    local deadline=$((SECONDS + 120))
    while [ -n "$("$@" 2>/dev/null)" ]; do
        ((SECONDS < deadline)) || die "still there after 120 s: $(shown "$@")"
        sleep 0.2
    done
}

bosun_samples=$tmp/bosun.samples
docker_samples=$tmp/docker.samples
for ((k = 1; k <= K; k++)); do
    timed "$bosun" service create --name "bench$k" --replicas "$N" busybox:test sleep 86400
    echo "bosun  round $k: $N replicas running after $((elapsed_us / 1000)) ms"
    echo $((elapsed_us / 1000)) >>"$bosun_samples"
    checked "$bosun" service rm "bench$k" >/dev/null
    until_gone "$bosun" container ls -q
    if [ -z "$docker_skip" ]; then
        timed docker service create --name "bosun-bench-$$-$k" --label bosun-bench="$$" \
            --replicas "$N" "$docker_image" sleep 86400
        echo "docker round $k: $N replicas running after $((elapsed_us / 1000)) ms"
        echo $((elapsed_us / 1000)) >>"$docker_samples"
        checked docker service rm "bosun-bench-$$-$k" >/dev/null
        until_gone docker ps -q --filter "label=com.docker.swarm.service.name=bosun-bench-$$-$k"
    fi
done

p50() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "bosun service create --replicas $N: p50 $(p50 "$bosun_samples") ms over $K rounds"
if [ -n "$docker_skip" ]; then
    skip_peer docker "$docker_skip"
else
    b=$(p50 "$bosun_samples") d=$(p50 "$docker_samples")
    echo "docker service create --replicas $N: p50 $d ms over $K rounds"
    awk -v b="$b" -v d="$d" 'BEGIN { printf "ratio docker/bosun: %.1fx\n", d / b }'
fi
