#!/usr/bin/env bash
# The control plane at scale: 3 `bosun` managers on loopback (each its own process, data root
# and raft on disk) and `bosun-fleet` simulating NODES worker nodes in one process (real joins,
# heartbeats, assignment streams and status reports over mutual TLS; containers in memory,
# "started" after 200 ms). Scenarios, each figure printed against the scale issue's target:
#   idle      NODES joined and heartbeating: the managers' CPU over 30 s (all three together,
#             in % of one core) and their resident memory;
#   create    `service create -d --replicas REPLICAS --constraint node.role==worker`: time until
#             the simulator runs all of them, each once (placements/s = REPLICAS / that time);
#             the managers' resident memory and raft database size afterwards;
#   loss      LOST nodes die at once (their containers with them): time until REPLICAS run again
#             on the others;
#   failover  the leader is killed: after 15 s, how many more nodes the store marks down and
#             whether any task stopped, started or moved (the simulator's fingerprint of every
#             (node, running task) pair), and when every live node's heartbeat had reached the
#             new leader (the time of the line the new leader logs then);
#   install   a fourth manager joins: time until it is reachable (the leader sends it a
#             snapshot of the whole store), and its raft database's size.
# The simulator's data roots live on /dev/shm when it exists. A failed command or a wait that
# does not end stops the script with an error (bench/common.sh) and no figure for it.
# Usage: bench/fleet.sh [NODES] [REPLICAS] [LOST]   (defaults 1000 30000 100; release binaries
#        from `cargo build --release -p bosun -p fleet`, or BIN / FLEET_BIN; BENCH_KEEP=1 keeps
#        the managers' data roots and logs for a look afterwards)
set -euo pipefail
NODES=${1:-1000}
REPLICAS=${2:-30000}
LOST=${3:-100}
BIN=${BIN:-target/release/bosun}
FLEET_BIN=${FLEET_BIN:-target/release/bosun-fleet}
source "$(dirname "$0")/cluster_common.sh"
for n in "$NODES" "$REPLICAS" "$LOST"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "NODES, REPLICAS and LOST must be positive whole numbers, not '$n'"
done
((LOST < NODES)) || die "LOST ($LOST) must be fewer than NODES ($NODES)"
cd "$repo_dir"
[ -x "$BIN" ] || die "no bosun binary at $BIN (cargo build --release -p bosun)"
[ -x "$FLEET_BIN" ] || die "no bosun-fleet binary at $FLEET_BIN (cargo build --release -p fleet)"
BIN=$(realpath "$BIN")
FLEET_BIN=$(realpath "$FLEET_BIN")
WORK=$(mktemp -d)
SHM=/dev/shm
[ -d "$SHM" ] || SHM=$WORK
NODES_DIR=$(mktemp -d "$SHM/bosun-fleet.XXXXXX")
# The managers never start an agent here; these keep anything they might touch private.
export BOSUN_RUN_ROOT="$WORK/run" BOSUN_CGROUP_PARENT="bosun-fleet-bench-$$"
FLEET_PID=

cleanup() {
    # bash unsets FLEET_PID when the coprocess ends.
    # and may do so between any two lines here: keep the pid in a variable of our own.
    local pid=${FLEET_PID:-}
    if [[ -n "$pid" ]]; then
        echo quit >&"${FLEET[1]}" 2>/dev/null || true
        sleep 1
        kill "$pid" 2>/dev/null || true
    fi
    stop_all
    if [[ -n "${BENCH_KEEP:-}" ]]; then
        echo "kept: $WORK (managers' data roots and logs), $NODES_DIR" >&2
    else
        rm -rf "$WORK" "$NODES_DIR"
    fi
}
bench_trap cleanup

# ask LINE [SECONDS]: sends LINE to the simulator; its one-line answer (stops on an error).
ask() {
    local answer
    echo "$1" >&"${FLEET[1]}"
    read -r -t "${2:-600}" answer <&"${FLEET[0]}" || die "no answer from bosun-fleet to '$1'"
    [[ "$answer" == *'"error"'* ]] && die "bosun-fleet: $1: $answer"
    echo "$answer"
}

field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }

# cpu_ticks PID...: their user + system clock ticks together.
cpu_ticks() {
    local pid total=0 fields
    for pid in "$@"; do
        read -r -a fields <"/proc/$pid/stat"
        # After the command name (one word here): utime and stime are fields 14 and 15.
        total=$((total + fields[13] + fields[14]))
    done
    echo "$total"
}

rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

managers_rss() {
    local i out=""
    for i in 0 1 2 3; do
        local pid; pid=$(pid_of "$i")
        [[ -n "$pid" && -d /proc/$pid ]] && out+="m$i $(rss_mib "$pid") MiB, "
    done
    echo "${out%, }"
}

verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "MISSED"; fi; }

echo "fleet: $NODES nodes, $REPLICAS replicas, $LOST lost; $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
start_cluster 3
wait_healthy 0 3
token=$(checked bosun_at 0 cluster join-token worker -q)
managers="$(addr_of 0),$(addr_of 1),$(addr_of 2)"

coproc FLEET { BOSUN_FLEET_TOKEN="$token" exec "$FLEET_BIN" --manager "$managers" --nodes "$NODES" --work-dir "$NODES_DIR" 2>"$WORK/fleet.log"; }
FLEET_PID=$FLEET_PID
read -r -t 900 ready <&"${FLEET[0]}" || die "bosun-fleet did not get $NODES nodes joined (log: $(tail -n 3 "$WORK/fleet.log"))"
echo "joined: $NODES nodes in $(field join_ms "$ready") ms"

# Idle: let the sessions settle, then 30 s of the managers' CPU.
sleep 10
pids=("$(pid_of 0)" "$(pid_of 1)" "$(pid_of 2)")
hz=$(getconf CLK_TCK)
t0=$(cpu_ticks "${pids[@]}"); f0=$(cpu_ticks "$FLEET_PID"); s0=$SECONDS
sleep 30
t1=$(cpu_ticks "${pids[@]}"); f1=$(cpu_ticks "$FLEET_PID"); s1=$SECONDS
idle=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s=$((s1 - s0)) 'BEGIN { printf "%.1f", 100 * t / hz / s }')
sim=$(awk -v t=$((f1 - f0)) -v hz="$hz" -v s=$((s1 - s0)) 'BEGIN { printf "%.1f", 100 * t / hz / s }')
echo "idle: managers ${idle} % of one core together (target < 50 %: $(verdict "$idle < 50")); simulator ${sim} %"
echo "idle: manager RSS $(managers_rss)"

# Create.
t0=$(date +%s%N)
checked bosun_at 0 service create -d --name web --replicas "$REPLICAS" --constraint node.role==worker busybox >/dev/null
ask "wait-running $REPLICAS 600s" 660 >/dev/null
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
rate=$(awk -v r="$REPLICAS" -v ms="$ms" 'BEGIN { printf "%.0f", r * 1000 / ms }')
echo "create: $REPLICAS replicas running in $ms ms, $rate placements/s (target < 20 s: $(verdict "$ms < 20000"); >= 1,500/s: $(verdict "$rate >= 1500"))"
status=$(ask status)
echo "create: per node $(field min_per_node "$status")..$(field max_per_node "$status") tasks, $(field doubled "$status") doubled"
sleep 5
echo "create: manager RSS $(managers_rss)"
echo "create: raft database $(for i in 0 1 2; do du -k "$(root_of "$i")/cluster/raft.redb" | awk -v i="$i" '{ printf "m%s %.1f MiB ", i, $1 / 1024 }'; done)"

# Loss.
t0=$(date +%s%N)
ask "kill $LOST" >/dev/null
if ! answer=$(ask "wait-running $REPLICAS 300s" 360); then
    # Say where the tasks that do not run are before stopping.
    echo "loss: the tasks not running, by state and node:" >&2
    bosun_at 0 service ps web --filter desired-state=running --format '{{.CurrentState}} {{.Node}} {{.Error}}' 2>&1 \
        | grep -v '^Running' | sed 's/ [0-9].* ago//' | sort | uniq -c | sort -rn | head -n 20 >&2 || true
    die "loss: $answer"
fi
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "loss: $LOST nodes lost, all $REPLICAS running again after $ms ms (target < 10 s: $(verdict "$ms < 10000"))"
down_count() { bosun_at "$1" node ls 2>/dev/null | grep -c ' Down ' || true; }
sleep 5
before=$(ask status)
down_before=$(down_count 0)

# Failover.
leader=$(wait_leader 0)
survivor=$(((leader + 1) % 3))
t0=$(date +%s%N)
kill_member "$leader"
checked bosun_at "$survivor" cluster check-perf --probe --duration 30s >/dev/null
t1=$(date +%s%N)
sleep 15
after=$(ask status)
down_after=$(down_count "$survivor")
moved=no
[[ "$(field fingerprint "$before")" == "$(field fingerprint "$after")" ]] || moved=yes
echo "failover: new leader writing after $(((t1 - t0) / 1000000)) ms; nodes down $down_before before, $down_after after (target: no more: $(verdict "$down_after <= $down_before")); tasks moved or restarted: $moved (target: no); running $(field running "$after")"
# The new leader logs when every worker not down has reached it (directly or through a
# follower) since it took office; from the kill to that line's time stamp.
new_leader=$(wait_leader "$survivor")
heard=$(grep 'every worker not down heard from since this manager leads' "$(root_of "$new_leader")/cluster/manager.log" | tail -n 1)
if [[ -n "$heard" ]] && (($(date -d "${heard%% *}" +%s%N) > t0)); then
    ms=$((($(date -d "${heard%% *}" +%s%N) - t0) / 1000000))
    echo "failover: every live node's heartbeat reached the new leader $ms ms after the kill (target < 5 s: $(verdict "$ms < 5000"))"
else
    echo "failover: not every live node's heartbeat reached the new leader within 15 s (target < 5 s: MISSED)"
fi

# Install: a fourth manager joins; the leader sends it the whole store as a snapshot.
mtoken=$(checked bosun_at "$survivor" cluster join-token manager -q)
t0=$(date +%s%N)
checked bosun_at 3 cluster join --token "$mtoken" "$(addr_of "$survivor")" --listen-addr "$(addr_of 3)" >/dev/null
wait_healthy "$survivor" 3
t1=$(date +%s%N)
echo "install: a new manager joined and reachable after $(((t1 - t0) / 1000000)) ms; its raft database $(du -k "$(root_of 3)/cluster/raft.redb" | awk '{ printf "%.1f MiB", $1 / 1024 }')"
