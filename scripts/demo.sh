#!/usr/bin/env bash
# From a fresh Debian machine (as root, with a Rust toolchain) to a running stack in one command:
# installs what the build and the example need (protoc, busybox-static, redis-server, nftables…),
# builds bosun, imports the example's images, brings the voting app up, shows it answering, and
# says how to take it down. Can be run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

[ "$(id -u)" = 0 ] || { echo "error: run as root (bosun runs containers)" >&2; exit 1; }
command -v cargo >/dev/null || { echo "error: no Rust toolchain (cargo) on PATH" >&2; exit 1; }

echo "==> installing what the build and the example need"
scripts/install-deps.sh
for pkg in curl; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
    fi
done
# The example runs its own redis in a container; the host's is not needed.
systemctl disable --now redis-server >/dev/null 2>&1 || true

echo "==> building bosun (release)"
cargo build --release --locked --quiet
bosun=$root/target/release/bosun
export PATH=$root/target/release:$PATH

echo "==> importing the example's images"
BOSUN=$bosun examples/voting-app/setup.sh >/dev/null

echo "==> bosun up -d --wait (examples/voting-app)"
cd examples/voting-app
"$bosun" up -d --wait
"$bosun" ps

echo "==> voting for a, then reading the results"
vote=$(curl -fsS --retry 10 --retry-connrefused --retry-delay 1 'http://localhost:8080/cgi-bin/vote?a')
echo "vote:    $vote"
results=""
for _ in $(seq 1 20); do
    results=$(curl -fsS 'http://localhost:8081/cgi-bin/results' || true)
    case "$results" in *[1-9]*) break ;; esac
    sleep 0.5
done
echo "results: $results"

cat <<EOF

The voting app runs. Try it:
  export PATH=$root/target/release:\$PATH
  cd $root/examples/voting-app
  curl -s 'http://localhost:8080/cgi-bin/vote?b'; curl -s http://localhost:8081/cgi-bin/results
  bosun ps; bosun logs worker
Take it down:
  bosun down          # keeps the db-data volume; bosun down -v removes it too
EOF
