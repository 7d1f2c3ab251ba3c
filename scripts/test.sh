#!/usr/bin/env bash
# The whole test suite: installs what it needs, then checks formatting, lints, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
before=$(scripts/leftovers.sh | sort)
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --doc --locked
# Every test cleans up after itself: nothing of ours may be left in the kernel.
left=$(comm -13 <(echo "$before") <(scripts/leftovers.sh | sort))
if [ -n "$left" ]; then
    echo "error: the test suite left these behind:" >&2
    echo "$left" >&2
    exit 1
fi
