#!/usr/bin/env bash
# Cluster overlays on the multi-node test bed (tests/testbed: 3 managers and 2 workers, each
# node with its own `bosun agent` and node daemon in its own network namespace and data root,
# real busybox containers). The measuring is done by the ignored tests of
# tests/overlay_bench.rs, built and run in release mode (BENCH_PROFILE=debug: the debug
# build); they check that what they measured is right (every byte delivered, every
# connection and query answered) and print every sample and figure.
# Cases:
#   throughput  one TCP stream task→task across the two workers over the overlay (VXLAN) vs
#               between the workers' own namespaces over the underlay: MiB/s each and the
#               ratio (BOSUN_BENCH_MIB, default 512; RUNS, default 3);
#   conn-rate   TCP connections one after the other (connect, one byte, close) from a task
#               on a manager through a service's VIP (two tasks behind it) vs directly to a
#               task: connections/s each and the ratio (BOSUN_BENCH_CONNS, default 2000;
#               RUNS, default 3);
#   dns         embedded DNS answer latency from a task: the service's name, tasks.<service>
#               and a name no network holds (relayed upstream); p50/p99/max (RUNS = queries
#               per name, default 500);
#   reachable   time from a new service's task start (on a worker) to its first answer
#               through its name from a task on a manager; every run, p50, max, against the
#               target of 1 s (RUNS, default 5).
# A failed build, a wrong result or a wait that does not end stops the script with an error
# (bench/common.sh) and no figure. Needs python3 on the host (run in the tasks' namespaces).
# Usage: bench/overlay_net.sh throughput|conn-rate|dns|reachable [RUNS]   (as root)
set -euo pipefail
. "$(dirname "$0")/common.sh"

case_name=${1:-}
runs=${2:-}
var=BOSUN_BENCH_RUNS
case "$case_name" in
    throughput) test=throughput_vxlan_vs_underlay ;;
    conn-rate) test=connection_rate_vip_vs_direct ;;
    dns) test=dns_latency var=BOSUN_BENCH_QUERIES ;;
    reachable) test=time_to_reachable ;;
    *) die "usage: bench/overlay_net.sh throughput|conn-rate|dns|reachable [RUNS]" ;;
esac
[[ -z "$runs" || "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
[ "$(id -u)" = 0 ] || die "run as root"
command -v python3 >/dev/null || die "python3 is needed on the host (the measuring ends run in the tasks' namespaces)"
[ -n "$runs" ] && export "$var=$runs"
case "${BENCH_PROFILE:-release}" in
    release) profile=(--release) ;;
    debug) profile=() ;;
    *) die "BENCH_PROFILE must be release or debug, not '${BENCH_PROFILE}'" ;;
esac

cd "$repo_dir"
echo "cargo test ${profile[*]} --test overlay_bench $test -- --ignored --exact --nocapture${runs:+ ($var=$runs)}"
checked cargo test "${profile[@]}" --test overlay_bench --no-run >/dev/null
checked cargo test "${profile[@]}" --test overlay_bench "$test" -- --ignored --exact --nocapture \
    | grep -v -e '^running [0-9]* test' -e '^test result:' -e '^test .* \.\.\. ok$' -e 'has been running for over' -e '^$'
