#!/usr/bin/env bash
# Image builds on Bosun's engine (the builder crate, driven by its `build_image` example, so
# that no agent round trip is measured): `FROM busybox:test / RUN echo hi > /hi / COPY file /file` cold
# (--no-cache), fully cached, and with only the copied file changed, one process per build
# (hyperfine) and repeated in one process (as the agent would build), side by side with
# `docker build` (classic and BuildKit) when a Docker daemon answers. Targets: cached rebuild
# < 50 ms, cold < 0.15 s.
# Runs as root with its own temporary data root, run root and cgroup parent.
# Usage: bench/image_build.sh [runs]   (default 20; builds the example in release mode, or in
#        debug mode with BENCH_PROFILE=debug: quicker to build, slower figures)
set -euo pipefail
. "$(dirname "$0")/common.sh"

runs=${1:-20}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || checked apt-get install -y hyperfine >/dev/null
cd "$repo_dir"
profile=${BENCH_PROFILE:-release}
case "$profile" in
    release) checked cargo build --release -p builder --example build_image >/dev/null ;;
    debug) checked cargo build -p builder --example build_image >/dev/null ;;
    *) echo "error: BENCH_PROFILE must be release or debug, not $profile" >&2; exit 1 ;;
esac
target_dir=${CARGO_TARGET_DIR:-$repo_dir/target}
driver=$(realpath "$target_dir/$profile/examples/build_image")

tmp=$(mktemp -d)
parent=bosun-bench-$$
docker_tag=bosun-bench-build:$$
docker_base=bosun-bench-busybox:$$
cleanup() {
    set +e
    if [ -z "$(docker_problem)" ]; then
        docker rmi -f "$docker_tag" "$docker_base" >/dev/null 2>&1
    fi
    grep " $tmp/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l
    rm -rf "$tmp"
    remove_cgroups "$parent"
}
bench_trap cleanup

roots=(--data-root "$tmp/data" --run-root "$tmp/run" --cgroup-parent "$parent")
test_images "$tmp/images"
checked "$driver" "${roots[@]}" --import "$tmp/images/busybox.tar" busybox:test >/dev/null
mkdir -p "$tmp/ctx"
printf 'FROM busybox:test\nRUN echo hi > /hi\nCOPY file /file\n' >"$tmp/ctx/Dockerfile"
echo first >"$tmp/ctx/file"
build="$driver ${roots[*]} -q -t app:bench $tmp/ctx"
# shellcheck disable=SC2086 # the command line is split into words on purpose
checked $build >/dev/null

echo "bosun: the $profile build of the builder"
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
checked hyperfine -N --warmup 2 --runs "$runs" --export-json "$tmp/bosun.json" \
    -n "bosun cold" "$build --no-cache" \
    -n "bosun cached" "$build" \
    -n "bosun COPY changed" --prepare "sh -c 'date +%s%N > $tmp/ctx/file'" "$build" >/dev/null
jq -r '.results[] | "\(.command) (one process per build): median \(.median * 1000 | . * 10 | round / 10) ms, mean \(.mean * 1000 | . * 10 | round / 10) ms"' "$tmp/bosun.json"
# In one process, as in the agent: without the start of a process and its one-time setup
# (the sealed copy of the executable, compiling the image reference parser).
inproc="$driver ${roots[*]} -q -t app:bench --repeat $runs"
# shellcheck disable=SC2086
echo "bosun cold (in process): $(checked $inproc --no-cache "$tmp/ctx")"
# shellcheck disable=SC2086
echo "bosun cached (in process): $(checked $inproc "$tmp/ctx")"
# shellcheck disable=SC2086
echo "bosun COPY changed (in process): $(checked $inproc --change "$tmp/ctx/file" "$tmp/ctx")"

problem=$(docker_problem)
if [ -n "$problem" ]; then
    skip_peer "docker build" "$problem"
    exit 0
fi
checked docker import "$tmp/images/busybox.tar" "$docker_base" >/dev/null
sed -i "s|^FROM .*|FROM $docker_base|" "$tmp/ctx/Dockerfile"
for kind in classic buildkit; do
    [ "$kind" = classic ] && bk=0 || bk=1
    dbuild="env DOCKER_BUILDKIT=$bk docker build -q -t $docker_tag $tmp/ctx"
    # The CLI refuses DOCKER_BUILDKIT=1 without its buildx component: say why (the first line
    # of its message) and go on.
    # shellcheck disable=SC2086
    if ! out=$($dbuild 2>&1 >/dev/null); then
        skip_peer "docker build ($kind)" "$(echo "$out" | grep -v '^ *$' | head -n 1 | sed 's/^ *//')"
        continue
    fi
    checked hyperfine -N --warmup 2 --runs "$runs" --export-json "$tmp/docker-$kind.json" \
        -n "docker $kind cold" "$dbuild --no-cache" \
        -n "docker $kind cached" "$dbuild" \
        -n "docker $kind COPY changed" --prepare "sh -c 'date +%s%N > $tmp/ctx/file'" "$dbuild" >/dev/null
    jq -r '.results[] | "\(.command): median \(.median * 1000 | . * 10 | round / 10) ms, mean \(.mean * 1000 | . * 10 | round / 10) ms"' "$tmp/docker-$kind.json"
done
