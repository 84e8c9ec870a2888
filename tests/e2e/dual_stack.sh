#!/usr/bin/env bash
# e2e.dual_stack: a dual-stack network (--ipv6, an IPv4 and an IPv6 subnet). The container's wg0
# carries both IPAM addresses, its only IPv6 default route is through wg0, and its key is the one
# derived from its IPv4 address. The hub (its peers from `wgnet hub config` for the IPv4 subnet,
# plus the container's IPv6 /128) and the container reach each other over IPv4 and IPv6 inside
# the tunnel, while the tunnel itself runs over the IPv4-only veth.
# Usage: dual_stack.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init dual_stack 18 "$@"

# Not fd00::/64: that is this host's eth0 (and so may be elsewhere); this prefix lives only in the
# hub's netns and the container.
SUBNET6=fd77:18::/64
HUB_IP6=fd77:18::fe

e2e_standard 10.18.0 10 --ipv6 --subnet "$SUBNET6" --gateway "$HUB_IP6"
# IPv6 only inside the tunnel: hub_up leaves IPv6 off on the veth and in the hub's netns.
ip netns exec "$HUB_NS" sysctl -qw net.ipv6.conf.wg-hub.disable_ipv6=0
ip -n "$HUB_NS" addr add "$HUB_IP6/64" dev wg-hub nodad

ctr_run c1 net
ip4="$(ctr_ip c1 net)"
ip6="$(ctr_ip6 c1 net)"
say "c1: $ip4 and $ip6"
[[ "$ip6" == fd77:18:* ]] || fail "c1's IPv6 address $ip6 is not in $SUBNET6"
addrs="$(ctr_exec c1 ip addr show wg0)"
assert_contains "wg0 carries the IPv4 address" "$addrs" "inet $ip4/24"
assert_contains "wg0 carries the IPv6 address" "$addrs" "inet6 $ip6/64"

routes6="$(ctr_exec c1 ip -6 route show)"
say "container IPv6 routes:"$'\n'"$routes6"
assert_eq "one IPv6 default route, through wg0, without a gateway" "default dev wg0" \
  "$(grep '^default' <<<"$routes6" | awk '{print $1, $2, $3}')"
assert_empty "no IPv6 route outside wg0 and lo" "$(grep -v ' dev \(wg0\|lo\)\( \|$\)' <<<"$routes6" || true)"
assert_eq "one IPv4 default route, through wg0" "default dev wg0" \
  "$(ctr_exec c1 ip -4 route show | grep '^default' | awk '{print $1, $2, $3}')"

pub4="$("$WGNET" keys derive --seed-file "$SEED" "$ip4" | "$WGNET" keys pub)"
pub6="$("$WGNET" keys derive --seed-file "$SEED" "$ip6" | "$WGNET" keys pub)"
ifname="$(one_new_wgnet_ifname c1)"
assert_eq "c1's device ($ifname) has the key derived from its IPv4 address" "$pub4" \
  "$(wg show "$ifname" public-key)"
assert_ne "(the key of its IPv6 address would differ)" "$pub4" "$pub6"
assert_eq "c1's device tunnels IPv4 and IPv6 to the hub" "$HUB_PUB	0.0.0.0/0 ::/0" \
  "$(wg show "$ifname" allowed-ips)"

assert_ok "the hub pings c1 over IPv4" hub_ping "$ip4"
assert_ok "c1 pings the hub's IPv4 tunnel address" ctr_ping c1 "$HUB_IP"
# Cryptokey routing: the hub drops the container's IPv6 until its peer allows the /128.
assert_fails "c1 cannot reach $HUB_IP6 while the hub allows only $ip4/32" ctr_exec c1 ping -c1 -W1 "$HUB_IP6"
say "hub: wg set wg-hub peer $pub4 allowed-ips $ip4/32,$ip6/128"
hub_wg set wg-hub peer "$pub4" allowed-ips "$ip4/32,$ip6/128"
assert_eq "the hub's peer for c1 allows both addresses" "$ip4/32 $ip6/128" \
  "$(hub_peer_field "$pub4" allowed-ips)"

assert_ok "the hub pings c1 over IPv6 ($ip6)" hub_ping "$ip6"
assert_ok "c1 pings the hub's IPv6 tunnel address ($HUB_IP6)" ctr_ping c1 "$HUB_IP6"
assert_ok "c1 still pings the hub over IPv4" ctr_ping c1 "$HUB_IP"
endpoint="$(hub_peer_field "$pub4" endpoints)"
assert_eq "the tunnel runs over IPv4: the hub sees c1 on the host side of the veth" "$HUB_HOST_ADDR" \
  "${endpoint%:*}"
