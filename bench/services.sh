#!/usr/bin/env bash
# Services on the multi-node test bed (tests/testbed: 3 managers and 2 workers, each node with
# its own `bosun agent` and node daemon in its own network namespace and data root, real
# busybox containers). The measuring is done by the ignored tests of tests/services_bench.rs,
# built and run in release mode; they check that what they measured is right (exactly N
# replicas running, one per slot, where the store says) and print every sample and figure.
# Cases:
#   spread     `service create --replicas 100 -d` to every task reported running and the agents
#              running exactly those, RUNS times (default 3; the service removed between runs);
#   node-loss  20 replicas; a worker's link cut: time until all 20 are reported running on the
#              other nodes; link back, wait until at rest evenly again; RUNS losses (default 10),
#              the two workers in turn; every sample, p50, p99, max;
#   idle       200 replicas over the 5 nodes; each node daemon's and agent's CPU time over RUNS
#              seconds of idling (default 30) and resident memory at the end.
# A failed build, a wrong result or a wait that does not end stops the script with an error
# (bench/common.sh) and no figure.
# Usage: bench/services.sh spread|node-loss|idle [RUNS]   (as root, from anywhere)
set -euo pipefail
. "$(dirname "$0")/common.sh"

case_name=${1:-}
runs=${2:-}
case "$case_name" in
    spread) test=create_100_replicas_over_5_nodes var=BOSUN_BENCH_RUNS ;;
    node-loss) test=node_loss var=BOSUN_BENCH_LOSSES ;;
    idle) test=idle_managers_with_200_tasks var=BOSUN_BENCH_IDLE_SECS ;;
    *) die "usage: bench/services.sh spread|node-loss|idle [RUNS]" ;;
esac
[[ -z "$runs" || "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
[ "$(id -u)" = 0 ] || die "run as root"
[ -n "$runs" ] && export "$var=$runs"

cd "$repo_dir"
echo "cargo test --release --test services_bench $test -- --ignored --exact --nocapture${runs:+ ($var=$runs)}"
checked cargo test --release --test services_bench --no-run >/dev/null
checked cargo test --release --test services_bench "$test" -- --ignored --exact --nocapture \
    | grep -v -e '^running [0-9]* test' -e '^test result:' -e '^test .* \.\.\. ok$' -e 'has been running for over' -e '^$'
