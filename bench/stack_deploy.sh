#!/usr/bin/env bash
# `stack deploy` of examples/voting-app (5 services, depends_on with healthchecks, published
# ports through the routing mesh) on the multi-node test bed (3 managers and 2 workers, each
# node its own network namespace, agent and node daemon; images built from the host's packages
# as the example's setup.sh does): the ignored test `voting_stack_deploy_until_healthy` of
# tests/stack_voting.rs in release mode. Each run times the deploy command until it returns
# (every service converged, healthy where it has a healthcheck) and until the result page
# answers through the mesh on node 0; RUNS deploys (default 3), the stack removed in between.
# Usage: bench/stack_deploy.sh [RUNS]   (as root, from anywhere; needs redis-server)
set -euo pipefail
. "$(dirname "$0")/common.sh"

runs=${1:-3}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
[ "$(id -u)" = 0 ] || die "run as root"
export BOSUN_BENCH_RUNS=$runs

cd "$repo_dir"
echo "cargo test --release --test stack_voting voting_stack_deploy_until_healthy -- --ignored --exact --nocapture (BOSUN_BENCH_RUNS=$runs)"
checked cargo test --release --test stack_voting --no-run >/dev/null
checked cargo test --release --test stack_voting voting_stack_deploy_until_healthy \
    -- --ignored --exact --nocapture \
    | grep -e '^deploy [0-9]' -e '^stack deploy'
