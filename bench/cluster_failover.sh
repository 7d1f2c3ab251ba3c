#!/usr/bin/env bash
# Leader failover time on loopback: kill -9 the leader of an N-manager cluster, time until a
# write through a surviving manager is acknowledged (the shell's clock, from just before the
# kill; includes starting the client), restart the killed manager, wait until every manager
# is reachable again; K times. Prints every sample, then p50/p99/max. A write that is not
# acknowledged within 30 s stops the script with an error (bench/common.sh), with no sample.
# Usage: bench/cluster_failover.sh [BOSUN_BINARY] [MANAGERS] [KILLS]   (defaults: release, 3, 20)
set -euo pipefail
BIN=${1:-target/release/bosun}
N=${2:-3}
KILLS=${3:-20}
source "$(dirname "$0")/cluster_common.sh"
[ -x "$BIN" ] || die "no bosun binary at $BIN (cargo build --release)"
BIN=$(realpath "$BIN")
WORK=$(mktemp -d)
cleanup() { stop_all; rm -rf "$WORK"; }
bench_trap cleanup
SAMPLES="$WORK/samples"

start_cluster "$N"
for ((k = 1; k <= KILLS; k++)); do
    leader=$(wait_leader 0)
    survivor=$(((leader + 1) % N))
    t0=$(date +%s%N)
    kill_member "$leader"
    checked bosun_at "$survivor" cluster check-perf --probe --duration 30s >/dev/null
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    echo "kill $k: leader $leader, write acknowledged after ${ms} ms"
    echo "$ms" >>"$SAMPLES"
    restart_member "$leader"
    wait_healthy "$survivor" "$N"
    sleep 1
done
echo "managers=$N kills=$KILLS failover_ms p50=$(percentile 50 "$SAMPLES") p99=$(percentile 99 "$SAMPLES") max=$(sort -n "$SAMPLES" | tail -1)"
