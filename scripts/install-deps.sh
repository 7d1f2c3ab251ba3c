#!/usr/bin/env bash
# Installs what building and testing Bosun needs on a Debian machine (root). Idempotent: packages
# and tools already present are not fetched again.
set -euo pipefail

# busybox-static and redis-server are what the test and example images are built from.
apt_packages=(busybox-static redis-server iproute2 nftables protobuf-compiler docker-registry)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Docker API e2e test (tests/docker_api.rs) drives the real docker CLI and docker-compose:
# Debian's docker.io and docker-compose when they are not on PATH.
docker_missing=()
command -v docker >/dev/null 2>&1 || docker_missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || docker_missing+=(docker-compose)
if [ "${#docker_missing[@]}" -gt 0 ]; then
    echo "installing: ${docker_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${docker_missing[@]}" >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "installing: cargo-nextest"
    cargo install --locked cargo-nextest
fi
