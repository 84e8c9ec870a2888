#!/usr/bin/env bash
# e2e.multi_network: a container on several networks at once, as Docker 25+ attaches them at
# `docker run` (several --network flags, API 1.44).
#  - Two wgnet networks, two hubs: the container gets two tunnels (wg0 and wg1, in the order Docker
#    joins them, which the user does not choose), two keys (one per network's seed and address),
#    each hub reachable through its own tunnel only. The second network tunnels only its hub's
#    subnet (wgnet.allowed-ips), as two default routes cannot both be had; without that, one of
#    them (the last joined) holds the default route.
#  - A wgnet network beside a bridge network: `gw-priority` chooses which one carries the default
#    route (Docker 28, API 1.48), both ways; the other keeps only its subnet.
#  - Interface names: a wgnet interface is called wg0, wg1, ... (Docker names it from wgnet's prefix
#    "wg"); Docker 28's `com.docker.network.endpoint.ifname` driver option is not applied to remote
#    drivers' interfaces: asking for another name still gives wg0.
# Usage: multi_network.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init multi_network 26 "$@"

build_image
wgnetd_start
SEED_A="$(make_seed_file seed-a)"
SEED_B="$(make_seed_file seed-b)"
hub_up a 51820 10.26.1.254/24 --seed-file "$SEED_A" --subnet 10.26.1.0/24 --range 10.26.1.1-10.26.1.10
OPTS_A=(-o wgnet.endpoint="$HUB_ENDPOINT" -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file="$SEED_A")
hub_up b 51821 10.26.2.254/24 --seed-file "$SEED_B" --subnet 10.26.2.0/24 --range 10.26.2.1-10.26.2.10
OPTS_B=(-o wgnet.endpoint="$HUB_ENDPOINT" -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file="$SEED_B"
  -o wgnet.allowed-ips=10.26.2.0/24)
net_create a --subnet 10.26.1.0/24 --gateway 10.26.1.254 "${OPTS_A[@]}"
net_create b --subnet 10.26.2.0/24 --gateway 10.26.2.254 "${OPTS_B[@]}"

# run_on SHORT NETWORK-ARGS...: a long-running container attached at create to every --network.
run_on() {
  local name out
  name="$(ctr_name "$1")"
  shift
  defer ctr_rm "$name"
  out="$(dk run -d --name "$name" --label "wgnet-e2e=$E2E_PREFIX" "$@" "$E2E_IMAGE" sleep 3600 2>&1)" ||
    fail "docker run $name $* failed: $out"
}
links() { ctr_exec "$1" ip -o link | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | xargs; }

run_on c1 --network "$(net_name a)" --network "$(net_name b)"
ip_a="$(ctr_ip c1 a)"
ip_b="$(ctr_ip c1 b)"
assert_eq "c1 has lo and two tunnels" "lo wg0 wg1" "$(links c1)"
# Which tunnel is wg0 is Docker's choice: find each by its address.
if_a="$(ctr_exec c1 ip -o -4 addr show | awk -v a="$ip_a" 'index($4, a "/") == 1 {print $2}')"
if_b="$(ctr_exec c1 ip -o -4 addr show | awk -v a="$ip_b" 'index($4, a "/") == 1 {print $2}')"
assert_ne "network a's address and network b's are on different interfaces" "$if_a" "$if_b"
routes="$(ctr_exec c1 ip -4 route show)"
say "c1's routes:"$'\n'"$routes"
assert_eq "the only default route is network a's tunnel ($if_a)" "default dev $if_a" \
  "$(grep '^default' <<<"$routes" | awk '{print $1, $2, $3}')"
assert_contains "network b's subnet goes through its own tunnel ($if_b)" "$routes" "10.26.2.0/24 dev $if_b"
assert_empty "no route through anything but the tunnels" "$(grep -v " dev \(wg0\|wg1\)\( \|$\)" <<<"$routes" || true)"

pub_a="$("$WGNET" keys derive --seed-file "$SEED_A" "$ip_a" | "$WGNET" keys pub)"
pub_b="$("$WGNET" keys derive --seed-file "$SEED_B" "$ip_b" | "$WGNET" keys pub)"
assert_ne "two keys" "$pub_a" "$pub_b"
hub_select a
assert_ok "c1 pings hub a through $if_a" ctr_ping c1 10.26.1.254
assert_ok "hub a pings c1 at $ip_a" hub_ping "$ip_a"
assert_ne "hub a has a handshake with c1's key of network a" "0" "$(hub_peer_field "$pub_a" latest-handshakes)"
hub_select b
assert_ok "c1 pings hub b through $if_b" ctr_ping c1 10.26.2.254
assert_ok "hub b pings c1 at $ip_b" hub_ping "$ip_b"
assert_ne "hub b has a handshake with c1's key of network b" "0" "$(hub_peer_field "$pub_b" latest-handshakes)"
# No route leaks between them: even with hub b sending network a's subnet to c1 (its peer allowing
# it), nothing from network b gets into network a. (c1 forwards, as every container inherits the
# host's IPv4 forwarding; hub a's WireGuard drops what c1's key sends from any address but c1's.)
hub_wg set wg-hub peer "$pub_b" allowed-ips "$ip_b/32,10.26.1.0/24"
ip -n "$HUB_NS" route add 10.26.1.0/24 dev wg-hub
assert_eq "hub b's peer c1 now allows network a's subnet" "$ip_b/32 10.26.1.0/24" \
  "$(hub_peer_field "$pub_b" allowed-ips)"
hub_select a
tunnel_rx() { ip -n "$HUB_NS" -s -j link show wg-hub | "$E2E_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
rx_a="$(tunnel_rx)"
hub_select b
assert_fails "hub b cannot reach hub a's address through c1" ip netns exec "$HUB_NS" ping -c2 -W1 10.26.1.254
ip -n "$HUB_NS" route del 10.26.1.0/24 dev wg-hub
hub_select a
assert_eq "nothing came out of hub a's tunnel meanwhile" "$rx_a" "$(tunnel_rx)"
ctr_rm "$(ctr_name c1)"

# Two networks that both tunnel 0.0.0.0/0: the container still starts, with one default route,
# through one of its tunnels (the one Docker joins last).
net_create c --subnet 10.26.3.0/24 --gateway 10.26.3.254 "${OPTS_A[@]}"
run_on c5 --network "$(net_name a)" --network "$(net_name c)"
assert_eq "c5 has lo and two tunnels" "lo wg0 wg1" "$(links c5)"
defaults="$(ctr_exec c5 ip -4 route show | grep '^default' || true)"
assert_eq "one default route" 1 "$(grep -c . <<<"$defaults")"
assert_contains "through a tunnel" "$defaults" "default dev wg"
ctr_rm "$(ctr_name c5)"

run_on c4 --network "name=$(net_name a),driver-opt=com.docker.network.endpoint.ifname=vpn0"
assert_eq "asked for vpn0, the tunnel is still wg0 (Docker 28 names remote drivers' interfaces by prefix)" \
  "lo wg0" "$(links c4)"
assert_ok "c4 pings hub a" ctr_ping c4 10.26.1.254
ctr_rm "$(ctr_name c4)"

# wgnet beside a bridge network of this scenario's (its own subnet in the test range).
BR="$(net_name br)"
defer net_rm "$BR"
dk network create -d bridge --subnet 198.19.226.0/24 "$BR" >/dev/null
hub_select a
run_on c2 --network "name=$BR,gw-priority=0" --network "name=$(net_name a),gw-priority=10"
routes="$(ctr_exec c2 ip -4 route show)"
say "c2 (gw-priority on wgnet):"$'\n'"$routes"
assert_eq "the default route is the tunnel" "default dev wg0" "$(grep '^default' <<<"$routes" | awk '{print $1, $2, $3}')"
assert_contains "the bridge keeps only its subnet" "$routes" "198.19.226.0/24 dev eth0"
assert_ok "c2 pings hub a" ctr_ping c2 10.26.1.254

run_on c3 --network "name=$BR,gw-priority=10" --network "name=$(net_name a),gw-priority=0"
routes="$(ctr_exec c3 ip -4 route show)"
say "c3 (gw-priority on the bridge):"$'\n'"$routes"
assert_eq "the default route is the bridge's gateway" "default via 198.19.226.1 dev eth0" \
  "$(grep '^default' <<<"$routes" | awk '{print $1, $2, $3, $4, $5}')"
assert_contains "the tunnel keeps the hub's subnet" "$routes" "10.26.1.0/24 dev wg0"
assert_ok "c3 still pings hub a through the tunnel" ctr_ping c3 10.26.1.254
