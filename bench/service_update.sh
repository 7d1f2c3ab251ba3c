#!/usr/bin/env bash
# A rolling update of 20 replicas (parallelism 2, start-first, monitor 1s, no delay), bosun
# beside Docker swarm mode on this machine.
#   bosun   the ignored test `update_20_replicas` of tests/services_bench.rs in release mode:
#           3 managers and 2 workers on the multi-node test bed (each node its own network
#           namespace, agent and node daemon), real busybox containers; `service update
#           --detach` of an environment variable, then the time until the update is `completed`
#           (and it checks every slot runs the new spec);
#   docker  a one-node swarm (`docker swarm init` on 127.0.0.1, the host's own daemon): the
#           same service from the same busybox tree (`docker import`), the same update, the
#           time until `UpdateStatus.State` is `completed`. Skipped with the reason when no
#           Docker daemon answers or swarm mode cannot start; the swarm is left and the
#           service removed afterwards (a swarm this script did not create is never touched:
#           it skips Docker instead).
# RUNS updates each (default 3); medians and their ratio.
# Usage: bench/service_update.sh [RUNS]   (as root, from anywhere)
set -euo pipefail
. "$(dirname "$0")/common.sh"

runs=${1:-3}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
[ "$(id -u)" = 0 ] || die "run as root"

docker_swarm=
gwbridge_before=
cleanup() {
    if [ -n "$docker_swarm" ]; then
        docker service rm bosun-bench-web >/dev/null 2>&1 || true
        docker swarm leave --force >/dev/null 2>&1 || true
        docker image rm busybox:bosun-bench-update >/dev/null 2>&1 || true
        # The bridge swarm mode made for this run (Docker keeps it after leaving).
        [ -n "$gwbridge_before" ] || docker network rm docker_gwbridge >/dev/null 2>&1 || true
    fi
}
bench_trap cleanup

median_ms() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

cd "$repo_dir"
echo "bosun: cargo test --release --test services_bench update_20_replicas -- --ignored --exact --nocapture (BOSUN_BENCH_RUNS=$runs)"
checked cargo test --release --test services_bench --no-run >/dev/null
export BOSUN_BENCH_RUNS=$runs
bosun_out=$(checked cargo test --release --test services_bench update_20_replicas \
    -- --ignored --exact --nocapture)
echo "$bosun_out" | grep -e '^update [0-9]' -e '^service update' | sed 's/^/  /'
bosun_median=$(echo "$bosun_out" | sed -n 's/^update [0-9]*: .* completed after \([0-9]*\) ms.*/\1/p' | median_ms)
[ -n "$bosun_median" ] || die "the bosun run printed no figure"
echo "bosun: median ${bosun_median} ms"

problem=$(docker_problem)
if [ -z "$problem" ] && [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then
    problem="this Docker daemon is already part of a swarm (left alone)"
fi
if [ -z "$problem" ]; then
    gwbridge_before=$(docker network ls -q --filter name=^docker_gwbridge$)
    problem=$(trial docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377)
    [ -z "$problem" ] && docker_swarm=yes
fi
if [ -n "$problem" ]; then
    skip_peer docker "$problem"
    exit 0
fi
test_images "$bench_scratch/images"
checked docker import "$bench_scratch/images/busybox.tar" busybox:bosun-bench-update >/dev/null
checked docker service create --detach --name bosun-bench-web --replicas 20 \
    busybox:bosun-bench-update sleep 3600 >/dev/null
for _ in $(seq 600); do
    running=$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' \
        bosun-bench-web | grep -c '^Running' || true)
    [ "$running" = 20 ] && break
    sleep 0.5
done
[ "$running" = 20 ] || die "docker: 20 replicas not running after 300 s"
samples=
for run in $(seq "$runs"); do
    start=${EPOCHREALTIME/[.,]/}
    checked docker service update --detach --env-add "RUN=$run" --update-parallelism 2 \
        --update-order start-first --update-monitor 1s --update-delay 0s bosun-bench-web >/dev/null
    state=
    for _ in $(seq 6000); do
        state=$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' bosun-bench-web)
        [ "$state" = completed ] && break
        sleep 0.05
    done
    end=${EPOCHREALTIME/[.,]/}
    [ "$state" = completed ] || die "docker: update $run not completed (state '$state')"
    took=$(((end - start) / 1000))
    echo "  update $run: 20 replicas, parallelism 2, start-first: completed after $took ms"
    samples+="$took"$'\n'
done
docker_median=$(printf %s "$samples" | grep . | median_ms)
echo "docker: median ${docker_median} ms"
awk -v b="$bosun_median" -v d="$docker_median" 'BEGIN { printf "docker / bosun: %.2fx\n", d / b }'
