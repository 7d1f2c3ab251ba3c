# Sourced by the bench scripts: removes what an agent with data root $1 made in the kernel that
# outlives it by design (networks persist across agent restarts): the bridges recorded under
# $1/networks and the data root's nftables table (`bosun-<8 hex of sha256(root)>`). Call it after
# the agent stopped and its containers are gone.
remove_networks() {
    root=$1
    for record in "$root"/networks/*.json; do
        [ -f "$record" ] || continue
        bridge=$(sed -n 's/.*"bridge": *"\(bsn-[0-9a-f]*\)".*/\1/p' "$record" | head -n 1)
        [ -n "$bridge" ] && ip link del "$bridge" 2>/dev/null
    done
    nft delete table ip "bosun-$(printf %s "$root" | sha256sum | cut -c1-8)" 2>/dev/null
    true
}
