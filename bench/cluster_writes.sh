#!/usr/bin/env bash
# Committed writes per second and write latency through the leader of a 3- and a 5-manager
# cluster on loopback, with 1 and with 100 concurrent clients (`bosun cluster check-perf`).
# A run with a failed write (errors=N > 0) or none acknowledged stops the script with an error
# naming it (bench/common.sh) instead of printing its figures.
# Usage: bench/cluster_writes.sh [BOSUN_BINARY] [SECONDS]   (default target/release/bosun, 10)
set -euo pipefail
BIN=${1:-target/release/bosun}
SECONDS_PER_RUN=${2:-10}
source "$(dirname "$0")/cluster_common.sh"
[ -x "$BIN" ] || die "no bosun binary at $BIN (cargo build --release)"
BIN=$(realpath "$BIN")
WORK=
cleanup() { stop_all; [ -z "$WORK" ] || rm -rf "$WORK"; }
bench_trap cleanup

for n in 3 5; do
    WORK=$(mktemp -d)
    start_cluster "$n"
    leader=$(wait_leader 0)
    for clients in 1 100; do
        echo "+ managers=$n: bosun cluster check-perf --clients $clients --duration ${SECONDS_PER_RUN}s (on the leader)"
        report=$(checked bosun_at "$leader" cluster check-perf --clients "$clients" --duration "${SECONDS_PER_RUN}s")
        [[ "$report" =~ writes=([0-9]+)\ errors=([0-9]+) ]] || die "unexpected check-perf report: $report"
        ((BASH_REMATCH[1] > 0 && BASH_REMATCH[2] == 0)) \
            || die "\`bosun cluster check-perf --clients $clients\` on manager $leader of $n: failed writes, no figure: $report"
        echo "managers=$n $report"
    done
    stop_all
    rm -rf "$WORK"
    WORK=
done
