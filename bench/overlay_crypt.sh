#!/usr/bin/env bash
# Throughput task -> task across two nodes of the multi-node test bed (tests/testbed: 3 managers
# and 2 workers, each with its own agent and node daemon in its own network namespace on the
# lab's underlay): a source task on a manager streams BOSUN_BENCH_MIB MiB (default 256) of
# zeroes to a sink task on a worker with busybox nc, over
#   - the plain overlay (kernel VXLAN),
#   - the encrypted overlay (`--opt encrypted`: kernel IPsec ESP where the kernel has it, sealed
#     in user space by the agent otherwise — the test machines' case),
#   - the underlay directly (the same two nodes' namespaces, the same busybox nc),
# RUNS transfers each (default 3). Prints every sample in MB/s, the medians and the ratios. Each
# transfer is timed by busybox `time -p` around the sender (10 ms resolution; it ends when the
# last bytes are handed to the kernel) and checked: the sink counts every byte.
# The measuring is done by the ignored test throughput_plain_encrypted_and_underlay of
# tests/overlay_encrypted.rs, built and run in release mode (or in debug mode with
# BENCH_PROFILE=debug: quicker to build, slower figures).
# Usage: bench/overlay_crypt.sh [RUNS] [MIB]   (as root, from anywhere)
set -euo pipefail
. "$(dirname "$0")/common.sh"

runs=${1:-}
mib=${2:-}
[[ -z "$runs" || "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
[[ -z "$mib" || "$mib" =~ ^[1-9][0-9]*$ ]] || die "MIB must be a positive whole number, not '$mib'"
[ "$(id -u)" = 0 ] || die "run as root"
[ -n "$runs" ] && export BOSUN_BENCH_RUNS=$runs
[ -n "$mib" ] && export BOSUN_BENCH_MIB=$mib

case "${BENCH_PROFILE:-release}" in
    release) profile=(--release) ;;
    debug) profile=() ;;
    *) die "BENCH_PROFILE must be release or debug, not ${BENCH_PROFILE}" ;;
esac

test=throughput_plain_encrypted_and_underlay
cd "$repo_dir"
echo "cargo test ${profile[*]:-} --test overlay_encrypted $test -- --ignored --exact --nocapture${runs:+ (BOSUN_BENCH_RUNS=$runs)}${mib:+ (BOSUN_BENCH_MIB=$mib)}"
checked cargo test "${profile[@]}" --test overlay_encrypted --no-run >/dev/null
checked cargo test "${profile[@]}" --test overlay_encrypted "$test" -- --ignored --exact --nocapture \
    | grep -v -e '^running [0-9]* test' -e '^test result:' -e '^test .* \.\.\. ok$' -e 'has been running for over' -e '^$'
