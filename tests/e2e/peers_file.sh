#!/usr/bin/env bash
# e2e.peers_file: a network whose peers come from wgnet.peers-file (wg-quick [Peer] sections in the
# seed directory) instead of wgnet.endpoint: two hubs, each in its own netns behind its own veth,
# with its own key and tunnel address; hub A also routes 10.19.1.0/24. The container's device has
# both peers as the file says (endpoint, allowed IPs, keepalive); the container reaches both hubs
# and the subnet behind A, and each hub reaches the container. A peers file with a bad line makes
# `docker network create` fail with a message naming wgnet.peers-file and the line.
# Usage: peers_file.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init peers_file 19 "$@"

HUB_A_IP=10.19.0.254
BEHIND_A=10.19.1.1   # in 10.19.1.0/24, which the file routes to hub A
HUB_B_IP=10.19.2.254

build_image
wgnetd_start
seed="$(make_seed_file seed)"
# Both hubs know every container key of the network's subnet.
hub_peers=(--seed-file "$seed" --subnet 10.19.0.0/24 --range 10.19.0.1-10.19.0.10)
hub_up hubA 51820 "$HUB_A_IP/24" "${hub_peers[@]}"
ip -n "$HUB_NS" addr add "$BEHIND_A/32" dev lo
hub_up hubB 51821 "$HUB_B_IP/24" "${hub_peers[@]}"
ip -n "$HUB_NS" route add 10.19.0.0/24 dev wg-hub
hub_select hubA
A_PUB="$HUB_PUB" A_ENDPOINT="$HUB_ENDPOINT" A_HOST="$HUB_HOST_ADDR"
hub_select hubB
B_PUB="$HUB_PUB" B_ENDPOINT="$HUB_ENDPOINT" B_HOST="$HUB_HOST_ADDR"
assert_ne "the hubs have their own keys" "$A_PUB" "$B_PUB"
assert_ne "the hubs have their own veths" "$A_HOST" "$B_HOST"

cat >"$WGNETD_SEEDS/peers" <<EOF
# hub A, and the subnet behind it
[Peer]
PublicKey = $A_PUB
Endpoint = $A_ENDPOINT
AllowedIPs = $HUB_A_IP/32, 10.19.1.0/24
PersistentKeepalive = 25

[Peer]   # hub B
PublicKey = $B_PUB
Endpoint = $B_ENDPOINT
AllowedIPs = $HUB_B_IP/32
PersistentKeepalive = 15
EOF
chmod 600 "$WGNETD_SEEDS/peers"
net_create net --subnet 10.19.0.0/24 --gateway "$HUB_A_IP" -o wgnet.peers-file=peers \
  -o wgnet.seed-file="$seed"

ctr_run c1 net
ip="$(ctr_ip c1 net)"
pub="$("$WGNET" keys derive --seed-file "$seed" "$ip" | "$WGNET" keys pub)"
ifname="$(one_new_wgnet_ifname c1)"
assert_eq "c1's device ($ifname) has exactly the file's two peers" \
  "$(printf '%s\n' "$A_PUB" "$B_PUB" | sort)" "$(wg show "$ifname" peers | sort)"
assert_eq "c1's device: each hub's endpoint from the file" \
  "$(printf '%s\t%s\n' "$A_PUB" "$A_ENDPOINT" "$B_PUB" "$B_ENDPOINT" | sort)" "$(wg show "$ifname" endpoints | sort)"
assert_eq "c1's device: each hub's allowed IPs from the file" \
  "$(printf '%s\t%s\n' "$A_PUB" "$HUB_A_IP/32 10.19.1.0/24" "$B_PUB" "$HUB_B_IP/32" | sort)" \
  "$(wg show "$ifname" allowed-ips | sort)"
assert_eq "c1's device: each hub's keepalive from the file" \
  "$(printf '%s\t%s\n' "$A_PUB" 25 "$B_PUB" 15 | sort)" "$(wg show "$ifname" persistent-keepalive | sort)"

# The hubs first: persistent keepalive must have opened both paths.
for h in hubA hubB; do
  hub_select "$h"
  assert_ok "$h pings c1 ($ip)" hub_ping "$ip"
  endpoint="$(hub_peer_field "$pub" endpoints)"
  assert_eq "$h sees c1 on the host side of its own veth" "$HUB_HOST_ADDR" "${endpoint%:*}"
done
assert_ok "c1 pings hub A ($HUB_A_IP)" ctr_ping c1 "$HUB_A_IP"
assert_ok "c1 pings $BEHIND_A behind hub A" ctr_ping c1 "$BEHIND_A"
assert_ok "c1 pings hub B ($HUB_B_IP)" ctr_ping c1 "$HUB_B_IP"

# A bad line: the refusal names the option and the line.
cat >"$WGNETD_SEEDS/bad-peers" <<EOF
[Peer]
PublicKey = $A_PUB
Endpoint $A_ENDPOINT
AllowedIPs = $HUB_A_IP/32
EOF
before="$(e2e_new_leftovers)"
net_create_fails bad --subnet 10.19.100.0/24 -o wgnet.peers-file=bad-peers -o wgnet.seed-file="$seed"
assert_contains "the refusal names wgnet.peers-file" "$NET_CREATE_ERROR" "wgnet.peers-file"
assert_contains "the refusal names line 3" "$NET_CREATE_ERROR" "line 3:"
assert_eq "the refused network made no device, socket or process" "$before" "$(e2e_new_leftovers)"
