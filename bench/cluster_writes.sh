#!/usr/bin/env bash
# Committed writes per second and write latency through the leader of a 3- and a 5-manager
# cluster on loopback, with 1 and with 100 concurrent clients (`bosun cluster check-perf`).
# Usage: bench/cluster_writes.sh [BOSUN_BINARY] [SECONDS]   (default target/release/bosun, 10)
set -euo pipefail
BIN=$(realpath "${1:-target/release/bosun}")
SECONDS_PER_RUN=${2:-10}
source "$(dirname "$0")/cluster_common.sh"

for n in 3 5; do
    WORK=$(mktemp -d)
    trap 'stop_all; rm -rf "$WORK"' EXIT
    start_cluster "$n"
    leader=$(leader_of 0)
    for clients in 1 100; do
        echo "+ managers=$n: bosun cluster check-perf --clients $clients --duration ${SECONDS_PER_RUN}s (on the leader)"
        echo "managers=$n $(bosun_at "$leader" cluster check-perf --clients "$clients" --duration "${SECONDS_PER_RUN}s")"
    done
    stop_all
    rm -rf "$WORK"
    trap - EXIT
done
