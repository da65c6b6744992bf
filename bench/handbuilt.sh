#!/bin/sh
# handbuilt.sh - the network vmnet-broker makes for `shared`, built by hand:
# the floor of the cold-start benchmark.
#
#   handbuilt.sh up|down HOST_NS GUEST_NS MAC NET DIR
#
# up: in HOST_NS, a bridge with gateway NET.1/24 and a ULA /64, forwarding on,
# an nftables table like the broker's, dnsmasq as one would run it by hand
# (DHCP, DNS and router advertisements: the broker sends its RAs itself)
# serving MAC its reserved address NET.2 (started the usual way, daemonized:
# it returns once it listens), and a veth whose peer, eth0 with MAC, goes into
# GUEST_NS, up. down: all of that removed. DIR holds dnsmasq's files.
set -eu
action=$1 h=$2 g=$3 mac=$4 net=$5 dir=$6
br=vmhbr0
ula=fd00:198:19:200

case $action in
up)
	ip -n "$h" link add "$br" type bridge
	ip -n "$h" addr add "$net.1/24" dev "$br"
	ip -n "$h" addr add "$ula::1/64" dev "$br" nodad
	ip -n "$h" link set "$br" up
	ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		"net.ipv6.conf.$br.accept_ra=0"
	ip netns exec "$h" nft -f - <<NFT
table inet handbuilt {
  set bridges { type ifname; elements = { "$br" } }
  set nat_bridges { type ifname; elements = { "$br" } }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "$br" oifname "$br" accept
    oifname @nat_bridges ct state established,related accept
    iifname @bridges oifname @bridges drop
    iifname @nat_bridges accept
    iifname @bridges drop
    oifname @bridges drop
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr $net.0/24 ip daddr != $net.0/24 oifname != @bridges masquerade
    ip6 saddr $ula::/64 ip6 daddr != $ula::/64 oifname != @bridges masquerade
  }
}
NFT
	: > "$dir/empty-resolv"
	ip netns exec "$h" dnsmasq --conf-file=/dev/null --pid-file="$dir/dnsmasq.pid" \
		--bind-dynamic --interface="$br" --except-interface=lo --no-hosts \
		--log-facility="$dir/dnsmasq.log" --quiet-dhcp --quiet-dhcp6 --quiet-ra \
		--dhcp-range="$net.0,static,255.255.255.0,1h" --dhcp-host="$mac,$net.2" \
		--dhcp-leasefile="$dir/leases" --dhcp-authoritative --dhcp-no-override \
		--dhcp-option=option:mtu,1500 --dhcp-option="option:router,$net.1" \
		--dhcp-option="option:dns-server,$net.1" --resolv-file="$dir/empty-resolv" \
		--enable-ra --dhcp-range="::,constructor:$br,ra-only,64"
	ip -n "$h" link add vmhv0 type veth peer name eth0 address "$mac" netns "$g"
	ip -n "$h" link set vmhv0 master "$br" up
	ip -n "$g" link set eth0 up
	;;
down)
	kill "$(cat "$dir/dnsmasq.pid")"
	ip -n "$h" link del vmhv0
	ip -n "$h" link del "$br"
	ip netns exec "$h" nft delete table inet handbuilt
	rm -f "$dir/leases" "$dir/dnsmasq.pid"
	;;
*)
	echo "usage: $0 up|down HOST_NS GUEST_NS MAC NET DIR" >&2
	exit 2
	;;
esac
