#!/usr/bin/env bash
# Records the goldens of the builder's differential test (builder/tests/dockerfiles/*/golden.json)
# with Docker: the test's busybox base is imported into Docker as bb:1, each case directory is
# built with BuildKit (`DOCKER_BUILDKIT=0 docker build`), saved with `docker save`, and the test
# binary turns each saved image into its golden (the same reading as when it compares). Needs a
# running Docker daemon; removes the images it made. Run as root from the repository.
# Usage: scripts/differential-goldens.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
docker info >/dev/null 2>&1 || { echo "error: no Docker daemon answers (start dockerd)" >&2; exit 1; }
tmp=$(mktemp -d)
images=()
cleanup() {
    set +e
    [ ${#images[@]} -gt 0 ] && docker rmi -f "${images[@]}" >/dev/null 2>&1
    docker rmi -f bb:1 >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
cargo build -p builder --tests >/dev/null
BOSUN_DIFF_BASE="$tmp/base.tar" cargo test -q -p builder --test builds -- --exact differential_against_docker_goldens >/dev/null
docker import "$tmp/base.tar" bb:1 >/dev/null
for dir in builder/tests/dockerfiles/*/; do
    name=$(basename "$dir")
    images+=("bosun-diff-$name:1")
    echo "building $name with Docker (classic builder)"
    DOCKER_BUILDKIT=0 docker build -q -t "bosun-diff-$name:1" "$dir" >/dev/null 2>&1
    docker save -o "$tmp/$name.tar" "bosun-diff-$name:1"
done
BOSUN_DIFF_RECORD="$tmp" cargo test -q -p builder --test builds -- --exact differential_against_docker_goldens
echo "goldens written: builder/tests/dockerfiles/*/golden.json ($(docker version --format '{{.Server.Version}}'))"
