# Shared by bench/cluster_*.sh: start N `bosun` managers on loopback, each with its own data
# root and port, find the leader, kill and restart managers. Source it; needs $BIN and $WORK.
# Brings in bench/common.sh: a command that fails, or a wait that does not end, stops the script
# with an error naming it instead of printing a figure.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

port_base=$((20000 + RANDOM % 20000))

root_of() { echo "$WORK/m$1"; }
addr_of() { echo "127.0.0.1:$((port_base + $1))"; }
bosun_at() { local i=$1; shift; BOSUN_DATA_ROOT="$(root_of "$i")" "$BIN" "$@"; }

# start_cluster N: member 0 inits, the others join as managers (raft id = index + 1).
start_cluster() {
    local n=$1 i token
    checked bosun_at 0 cluster init --listen-addr "$(addr_of 0)" --advertise-addr "$(addr_of 0)" >/dev/null
    token=$(checked bosun_at 0 cluster join-token manager -q)
    for ((i = 1; i < n; i++)); do
        checked bosun_at "$i" cluster join --token "$token" "$(addr_of 0)" --listen-addr "$(addr_of "$i")" >/dev/null
    done
}

pid_of() { cat "$(root_of "$1")/cluster/manager.pid" 2>/dev/null || true; }

# leader_of VIA: the bed index of the leader as member VIA reports it (empty without one).
leader_of() {
    local id
    id=$(bosun_at "$1" cluster status --format json 2>/dev/null \
        | sed -n 's/^  "leader": \([0-9]*\),$/\1/p')
    if [[ -n "$id" && "$id" != 0 ]]; then echo $((id - 1)); fi
}

# wait_leader VIA: the leader's index once member VIA reports one; stops after 30 s without.
wait_leader() {
    local leader="" deadline=$((SECONDS + 30))
    until [[ -n "$leader" ]]; do
        ((SECONDS < deadline)) || die "member $1 reports no leader after 30 s"
        leader=$(leader_of "$1")
    done
    echo "$leader"
}

# healthy VIA N: true when member VIA sees all N managers reachable.
healthy() {
    local count
    count=$(bosun_at "$1" cluster status --format json 2>/dev/null | grep -c '"reachable": true' || true)
    [[ "$count" == "$2" ]]
}

# wait_healthy VIA N: until healthy VIA N; stops after 60 s.
wait_healthy() {
    local deadline=$((SECONDS + 60))
    until healthy "$1" "$2"; do
        ((SECONDS < deadline)) || die "member $1 does not see all $2 managers reachable after 60 s"
        sleep 0.2
    done
}

kill_member() { local pid; pid=$(pid_of "$1"); [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true; }

restart_member() {
    local root; root=$(root_of "$1")
    BOSUN_DATA_ROOT="$root" "$BIN" manager >>"$root/cluster/manager.log" 2>&1 &
    echo $! >"$root/cluster/manager.pid"
    disown $!
}

stop_all() {
    local i
    for ((i = 0; i < 9; i++)); do kill_member "$i"; done
    wait 2>/dev/null || true
}

# percentile P FILE: nearest-rank percentile of the numbers in FILE (one per line).
percentile() {
    sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; print v[r] }'
}
