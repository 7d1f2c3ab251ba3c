#!/usr/bin/env bash
# Lists the kernel objects and processes of Bosun's that exist on this machine, one per line:
# bridges and veths (bsn-*, bv*), nftables tables (bosun*), network namespaces, overlay mounts of
# container rootfs, cgroup groups (bosun-*), live shim / container-setup / agent processes,
# temporary directories (tempfile's .tmp* under $TMPDIR) that tests must remove, and IPsec (xfrm)
# SAs and policies of encrypted overlays (ESP SAs and UDP policies, in the host's namespace and in
# every named one).
# scripts/test.sh takes this list before and after the suite and fails on anything new.
set -uo pipefail

ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(bsn-|bv)' | sed 's/^/link /'
nft list tables 2>/dev/null | awk '{print $3}' | grep '^bosun' | sed 's/^/nft /'
ip netns list 2>/dev/null | awk '{print $1}' | sed 's/^/netns /'
awk '$3 == "overlay" && $2 ~ /\/containers\/[0-9a-f]+\/rootfs\// {print "mount " $2}' /proc/mounts
for hierarchy in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$hierarchy" ] || continue
    ls "$hierarchy" 2>/dev/null | grep '^bosun-' | sed "s|^|cgroup $hierarchy/|"
done
ps -eo stat=,args= | awk '$1 !~ /^Z/ && ($2 ~ /shim$/ || $3 == "shim" || $3 == "container-setup") {print "process " $0}'
ps -eo stat=,args= | awk '$1 !~ /^Z/ && $2 ~ /bosun$/ && $3 == "agent" && $4 == "--foreground" {print "process " $0}'
xfrm_of() { # $1: namespace name, or empty for the host's
    local in=()
    [ -n "$1" ] && in=(-n "$1")
    ip "${in[@]}" xfrm state list 2>/dev/null | awk -v ns="${1:-host}" '/^src /{sa=$2" -> "$4} /proto esp spi/{print "xfrm " ns " state " sa " spi " $4}'
    ip "${in[@]}" xfrm policy list 2>/dev/null | awk -v ns="${1:-host}" '/^src .* proto udp/{print "xfrm " ns " policy " $0}'
}
xfrm_of ""
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do xfrm_of "$ns"; done
ls -A "${TMPDIR:-/tmp}" 2>/dev/null | grep '^\.tmp' | sed 's/^/tmpdir /'
exit 0
