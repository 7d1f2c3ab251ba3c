# Sourced (bash) by every script in bench/. A figure is only printed for commands that worked:
#   checked CMD...   runs CMD (stdout passes through, so `x=$(checked …)` captures it); when it
#                    exits non-zero the script stops with "error: `CMD` failed (exit N)" and the
#                    command's last lines of output;
#   timed CMD...     the same with all output kept aside, and sets $elapsed_us (wall time in µs);
#   skip_peer NAME REASON   prints "NAME: skipped: REASON" for a peer tool that cannot run here
#                    (the scripts go on with bosun alone); docker_problem / compose_problem give
#                    the reason, or nothing when Docker / docker-compose can run; trial CMD
#                    gives it when a peer's command fails on its first run;
#   test_images DIR  builds busybox.tar (scripts/build-test-images.sh), the one busybox tree every
#                    tool is given: bosun imports it, runc/crun run it as a rootfs, Docker gets it
#                    through `docker import`;
#   remove_networks ROOT    removes what an agent with data root ROOT made in the kernel that
#                    outlives it by design (networks persist across agent restarts).
# bench_trap FUNCTION sets the exit trap: FUNCTION (the script's cleanup) runs, then this file's
# scratch directory is removed; INT/TERM exit 130 through it.

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$bench_dir")
bench_scratch=$(mktemp -d /tmp/bosun-bench-common.XXXXXX)

bench_trap() {
    # shellcheck disable=SC2064 # expand the function name now
    trap "$1; rm -rf '$bench_scratch'" EXIT
    trap 'exit 130' INT TERM
}
bench_trap true

die() {
    echo "error: $*" >&2
    exit 1
}

# The command as one shell-quoted line, for messages.
shown() {
    local word line=
    for word in "$@"; do
        if [[ "$word" =~ ^[][A-Za-z0-9_./:=@%+,-]+$ ]]; then
            line+=" $word"
        else
            line+=" '${word//\'/\'\\\'\'}'"
        fi
    done
    echo "${line# }"
}

# command_failed STATUS LOG CMD...: the error for a failed command, then exit.
command_failed() {
    local status=$1 log=$2
    shift 2
    {
        echo "error: \`$(shown "$@")\` failed (exit $status); no figure is printed for it"
        if [ -s "$log" ]; then
            echo "its output (last 20 lines):"
            tail -n 20 "$log" | sed 's/^/    /'
        fi
    } >&2
    exit 1
}

checked() {
    local status=0 log=$bench_scratch/stderr.$BASHPID
    "$@" 2>"$log" || status=$?
    [ "$status" = 0 ] || command_failed "$status" "$log" "$@"
}

timed() {
    local status=0 start end log=$bench_scratch/output.$BASHPID
    start=${EPOCHREALTIME/[.,]/}
    "$@" >"$log" 2>&1 || status=$?
    end=${EPOCHREALTIME/[.,]/}
    [ "$status" = 0 ] || command_failed "$status" "$log" "$@"
    elapsed_us=$((end - start))
}

# wait_for PATH [SECONDS]: waits until the socket PATH exists (an agent started), or stops.
wait_for_socket() {
    local _
    for _ in $(seq 1 $((${2:-10} * 10))); do
        [ -S "$1" ] && return 0
        sleep 0.1
    done
    die "no socket at $1 after ${2:-10} s (the agent did not start)"
}

skip_peer() {
    echo "$1: skipped: $2"
}

# trial CMD...: runs a peer's command once; prints nothing when it worked, else why it failed
# (for "skipped: <reason>": a peer installed but unable to run here).
trial() {
    local out
    out=$("$@" 2>&1 >/dev/null) || echo "\`$(shown "$@")\` failed: $(echo "$out" | grep -v '^$' | tail -n 1)"
}

docker_problem() {
    command -v docker >/dev/null || { echo "docker is not installed"; return; }
    local out
    if ! out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
        echo "no Docker daemon answers (docker info: $(echo "$out" | grep -v '^$' | tail -n 1))"
    fi
}

compose_problem() {
    command -v docker-compose >/dev/null || { echo "docker-compose is not installed"; return; }
    docker_problem
}

test_images() {
    checked sh "$repo_dir/scripts/build-test-images.sh" "$1" >/dev/null
    [ -f "$1/busybox.tar" ] || die "scripts/build-test-images.sh made no $1/busybox.tar"
}

# busybox_rootfs TAR DIR: the tree of TAR (from test_images) unpacked at DIR.
busybox_rootfs() {
    mkdir -p "$2"
    checked tar -C "$2" -xf "$1"
}

remove_networks() {
    local root=$1 record bridge
    for record in "$root"/networks/*.json; do
        [ -f "$record" ] || continue
        bridge=$(sed -n 's/.*"bridge": *"\(bsn-[0-9a-f]*\)".*/\1/p' "$record" | head -n 1)
        [ -n "$bridge" ] && ip link del "$bridge" 2>/dev/null
    done
    nft delete table ip "bosun-$(printf %s "$root" | sha256sum | cut -c1-8)" 2>/dev/null
    true
}

# remove_cgroups PARENT: the (empty) cgroup directories under PARENT in every hierarchy.
remove_cgroups() {
    local hierarchy
    for hierarchy in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [ -d "$hierarchy$1" ] && find "$hierarchy$1" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    true
}
