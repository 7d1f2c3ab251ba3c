#!/usr/bin/env bash
# Networking figures with real containers, inside a network namespace of the bench's own (the
# real host's links and tables are untouched):
#   - TCP throughput (MB/s) of a 512 MiB stream from the host namespace to a container, directly
#     to its address over the bridge vs through a published port (nftables DNAT), and the ratio;
#   - TCP connections per second, direct vs published, and the ratio;
#   - embedded DNS lookup latency: N lookups of a container name from another container.
# Servers are busybox nc in containers, the throughput sender is python3 on the host side;
# the connection rate counts whole connect/answer/close
# rounds done by one shell loop, so it is a lower bound shaped by process start-up.
# A command that fails (a connection included) stops the script with an error naming it
# (bench/common.sh) instead of printing a figure.
# Usage: bench/network_paths.sh [path/to/bosun] [lookups]   (defaults: target/release/bosun, 200)
set -euo pipefail
. "$(dirname "$0")/common.sh"

bosun=${1:-target/release/bosun}
lookups=${2:-200}
[ "$(id -u)" = 0 ] || { echo "error: run as root" >&2; exit 1; }
[ -x "$bosun" ] || { echo "error: no bosun binary at $bosun (cargo build --release)" >&2; exit 1; }
bosun=$(realpath "$bosun")

tmp=$(mktemp -d)
ns=bsnb-$$
export BOSUN_DATA_ROOT=$tmp/data BOSUN_RUN_ROOT=$tmp/run BOSUN_CGROUP_PARENT=bosun-bench-$$
in_ns() { nsenter --net=/run/netns/$ns "$@"; }
b() { in_ns "$bosun" "$@"; }

cleanup() {
    set +e
    if [ -f "$tmp/run/bosun.pid" ]; then
        for id in $(b container ls -aq --no-trunc); do b container rm -f "$id" >/dev/null; done
        b network rm benchnet >/dev/null 2>&1
        kill "$(cat "$tmp/run/bosun.pid")"
        sleep 1
    fi
    ip netns del "$ns" 2>/dev/null
    remove_cgroups "$BOSUN_CGROUP_PARENT"
    rm -rf "$tmp"
}
bench_trap cleanup

checked ip netns add "$ns"
checked in_ns ip link set lo up
test_images "$tmp/img"
checked b image import -c 'CMD ["sh"]' "$tmp/img/busybox.tar" busybox:bench >/dev/null
checked b network create benchnet >/dev/null
# A sink (throughput) on 80 and an answering server (connections) on 81.
checked b container run -d --name sink --network benchnet -p 8080:80 -p 8081:81 busybox:bench sh -c \
    'printf "#!/bin/sh\necho ok\n" > /a.sh; chmod +x /a.sh; nc -ll -p 81 -e /a.sh & while true; do nc -l -p 80 > /dev/null; done' >/dev/null
checked b container run -d --name asker --network benchnet busybox:bench sleep 100000 >/dev/null
ip=$(checked b container exec sink ip -o -4 addr show eth0 | sed -n 's/.*inet \([0-9.]*\)\/.*/\1/p')
[ -n "$ip" ] || die "no IPv4 address on the sink container's eth0"
sleep 1

throughput() { # addr port -> MB/s (sets $mbps)
    # The sender is python3: busybox's nc client returns at once without sending a piped stream.
    timed in_ns python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
chunk = bytes(1 << 20)
for _ in range(512):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
s.recv(1)
' "$1" "$2"
    mbps=$(echo "512 * 1000000 / $elapsed_us" | bc -l)
}
rate() { # addr port -> connections/s over 3 s (sets $cps); every connection must answer "ok"
    local n=0 stop reply
    stop=$(( $(date +%s) + 3 ))
    while [ "$(date +%s)" -lt "$stop" ]; do
        checked in_ns busybox nc -w 2 "$1" "$2" </dev/null >"$tmp/reply"
        reply=; read -r reply <"$tmp/reply" || true
        [ "$reply" = ok ] || die "\`busybox nc -w 2 $1 $2\` got \"$reply\", not the server's \"ok\""
        n=$((n + 1))
    done
    cps=$(echo "$n / 3" | bc -l)
}

throughput "$ip" 80
direct=$mbps
throughput 127.0.0.1 8080
published=$mbps
rate "$ip" 81
cdirect=$cps
rate 127.0.0.1 8081
cpublished=$cps
timed b container exec asker sh -c "i=0; while [ \$i -lt $lookups ]; do nslookup sink >/dev/null || exit 1; i=\$((i+1)); done"
lookup_s=$(echo "$elapsed_us / 1000000" | bc -l)

printf 'tcp throughput   direct %8.1f MB/s   published %8.1f MB/s   ratio %.2f\n' \
    "$direct" "$published" "$(echo "$published / $direct" | bc -l)"
printf 'tcp connections  direct %8.1f /s     published %8.1f /s     ratio %.2f\n' \
    "$cdirect" "$cpublished" "$(echo "$cpublished / $cdirect" | bc -l)"
printf 'dns lookups      %d in %.2f s: %.2f ms per nslookup (A + AAAA, one process each)\n' \
    "$lookups" "$lookup_s" "$(echo "$lookup_s * 1000 / $lookups" | bc -l)"
