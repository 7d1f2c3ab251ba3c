#!/usr/bin/env bash
# Runs Bosun on an example stack: builds the binary (installing what it needs), then prints the
# example's canonical configuration.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --locked --quiet
target/release/bosun -f examples/webapp/compose.yaml config
