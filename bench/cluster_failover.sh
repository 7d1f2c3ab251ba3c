#!/usr/bin/env bash
# Leader failover time on loopback: kill -9 the leader of an N-manager cluster, time until a
# write through a surviving manager is acknowledged (the shell's clock, from just before the
# kill; includes starting the client), restart the killed manager, wait until every manager
# is reachable again; K times. Prints every sample, then p50/p99/max.
# Usage: bench/cluster_failover.sh [BOSUN_BINARY] [MANAGERS] [KILLS]   (defaults: release, 3, 20)
set -euo pipefail
BIN=$(realpath "${1:-target/release/bosun}")
N=${2:-3}
KILLS=${3:-20}
source "$(dirname "$0")/cluster_common.sh"
WORK=$(mktemp -d)
trap 'stop_all; rm -rf "$WORK"' EXIT
SAMPLES="$WORK/samples"

start_cluster "$N"
for ((k = 1; k <= KILLS; k++)); do
    leader=""
    until [[ -n "$leader" ]]; do leader=$(leader_of 0); done
    survivor=$(((leader + 1) % N))
    t0=$(date +%s%N)
    kill_member "$leader"
    bosun_at "$survivor" cluster check-perf --probe --duration 30s >/dev/null
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    echo "kill $k: leader $leader, write acknowledged after ${ms} ms"
    echo "$ms" >>"$SAMPLES"
    restart_member "$leader"
    until healthy "$survivor" "$N"; do sleep 0.2; done
    sleep 1
done
echo "managers=$N kills=$KILLS failover_ms p50=$(percentile 50 "$SAMPLES") p99=$(percentile 99 "$SAMPLES") max=$(sort -n "$SAMPLES" | tail -1)"
