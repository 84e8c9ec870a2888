#!/usr/bin/env bash
# e2e.ipv6: IPv6 as current Docker does it (28), beyond dual_stack's explicit subnets.
#  - `--ipv6` without an IPv6 subnet: Docker (27+) allocates a ULA /64 itself; the container gets an
#    address in it beside its IPv4 one, its key still derived from the IPv4 address, and reaches the
#    hub over both families inside the tunnel.
#  - An IPv6-only network (`--ipv4=false`, Docker 28): the container has only an IPv6 address, its
#    key is derived from it (`wgnet hub config` over a range of the /64 lists it), only IPv6 is
#    tunnelled and routed, and it reaches the hub and the hub it.
#  - An IPv4-only network never carries IPv6: no IPv6 address or route on wg0, IPv6 disabled on it
#    (Docker 26.0.2+), the device tunnels 0.0.0.0/0 only.
# Usage: ipv6.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init ipv6 29 "$@"
e2e_standard 10.29.0 10
hub_enable_ipv6() { ip netns exec "$HUB_NS" sysctl -qw net.ipv6.conf.wg-hub.disable_ipv6=0; }

# -- IPv4-only: the standard network.
ctr_run c0 net
assert_empty "c0 (IPv4-only network): no IPv6 address on wg0" "$(ctr_exec c0 ip -6 addr show dev wg0)"
assert_empty "c0: no IPv6 route" "$(ctr_exec c0 ip -6 route show)"
assert_eq "c0: IPv6 is disabled on wg0" 1 "$(ctr_exec c0 cat /proc/sys/net/ipv6/conf/wg0/disable_ipv6)"
assert_fails "c0 cannot send IPv6 anywhere" ctr_exec c0 ping -6 -c1 -W1 fd77:29::fe
ifname="$(one_new_wgnet_ifname c0)"
assert_eq "c0's device tunnels IPv4 only" "$HUB_PUB	0.0.0.0/0" "$(wg show "$ifname" allowed-ips)"

# -- Dual stack without an IPv6 subnet: Docker picks a ULA /64 and its gateway (::1 of it).
net_create ula --subnet 10.29.1.0/24 --gateway 10.29.1.254 --ipv6 "${NET_OPTS[@]}"
read -r subnet6 gateway6 <<<"$(dk network inspect -f \
  '{{range .IPAM.Config}}{{if eq (len (split .Subnet ":")) 1}}{{else}}{{.Subnet}} {{.Gateway}}{{end}}{{end}}' \
  "$(net_name ula)")"
say "Docker allocated $subnet6 (gateway $gateway6)"
[[ "$subnet6" == fd*::/64 && -n "$gateway6" ]] || fail "expected a ULA /64 with a gateway, saw '$subnet6' '$gateway6'"
hub_apply syncconf --seed-file "$SEED" --subnet 10.29.1.0/24 --range 10.29.1.1-10.29.1.10 --address 10.29.1.254/24
ip -n "$HUB_NS" addr add 10.29.1.254/24 dev wg-hub
hub_enable_ipv6
ip -n "$HUB_NS" addr add "$gateway6/64" dev wg-hub nodad
ctr_run c1 ula
ip4="$(ctr_ip c1 ula)"
ip6="$(ctr_ip6 c1 ula)"
say "c1: $ip4 and $ip6"
assert_contains "wg0 carries the IPv6 address of Docker's ULA subnet" "$(ctr_exec c1 ip -6 addr show dev wg0)" "inet6 $ip6/64"
assert_eq "c1's IPv6 default route is the tunnel" "default dev wg0" \
  "$(ctr_exec c1 ip -6 route show | grep '^default' | awk '{print $1, $2, $3}')"
pub1="$("$WGNET" keys derive --seed-file "$SEED" "$ip4" | "$WGNET" keys pub)"
hub_wg set wg-hub peer "$pub1" allowed-ips "$ip4/32,$ip6/128"
assert_ok "c1 pings the hub over IPv4" ctr_ping c1 10.29.1.254
assert_ok "c1 pings the hub's IPv6 address ($gateway6) through the tunnel" ctr_ping c1 "$gateway6"
assert_ok "the hub pings c1 over IPv6 ($ip6)" hub_ping "$ip6"

# -- IPv6-only (--ipv4=false): the key derives from the IPv6 address.
SUBNET6=fd77:29::/64
HUB_IP6=fd77:29::fe
net_create v6only --ipv4=false --ipv6 --subnet "$SUBNET6" --gateway "$HUB_IP6" "${NET_OPTS[@]}"
hub_apply syncconf --seed-file "$SEED" --subnet "$SUBNET6" --range fd77:29::1-fd77:29::a
ip -n "$HUB_NS" addr add "$HUB_IP6/64" dev wg-hub nodad
ctr_run c2 v6only
ip6="$(ctr_ip6 c2 v6only)"
say "c2: $ip6"
assert_empty "c2 has no IPv4 address on the IPv6-only network" "$(ctr_exec c2 ip -4 addr show dev wg0)"
assert_empty "c2 has no IPv4 route" "$(ctr_exec c2 ip -4 route show)"
assert_eq "c2's only default route is the tunnel's IPv6 one" "default dev wg0" \
  "$(ctr_exec c2 ip -6 route show | grep '^default' | awk '{print $1, $2, $3}')"
pub2="$("$WGNET" keys derive --seed-file "$SEED" "$ip6" | "$WGNET" keys pub)"
ifname="$(wgnetd_state_ifnames | while read -r n; do
  if [[ "$(wg show "$n" public-key 2>/dev/null)" == "$pub2" ]]; then echo "$n"; fi
done)"
[[ -n "$ifname" ]] || fail "no device of this wgnetd has the key derived from $ip6 ($pub2)"
ok "c2's device ($ifname) has the key derived from its IPv6 address"
assert_eq "c2's device tunnels IPv6 only" "$HUB_PUB	::/0" "$(wg show "$ifname" allowed-ips)"
assert_ok "c2 pings the hub over IPv6 ($HUB_IP6)" ctr_ping c2 "$HUB_IP6"
assert_ok "the hub pings c2 ($ip6)" hub_ping "$ip6"
assert_ne "the hub saw c2's key" 0 "$(hub_peer_field "$pub2" latest-handshakes)"
