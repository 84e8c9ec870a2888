#!/usr/bin/env bash
# e2e.rotation: a leaked key is repaired by a new "additional" value. Network "old" uses A1; the
# hub is then regenerated for a new network with A2 (its peers added, the old ones removed, by
# one `wg syncconf`): the new containers reach the hub, the old container no longer does.
# Usage: rotation.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init rotation 13 "$@"

build_image
wgnetd_start
seed="$(make_seed_file seed)"
A1="$(head -c 16 /dev/urandom | base64)"
A2="$(head -c 16 /dev/urandom | base64)"
assert_ne "a new additional value" "$A1" "$A2"

hub_up hub 51820 10.13.1.254/24 --seed-file "$seed" --additional "$A1" --subnet 10.13.1.0/24 \
  --range 10.13.1.1-10.13.1.10
net_opts=(-o wgnet.endpoint="$HUB_ENDPOINT" -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file="$seed")
net_create old --subnet 10.13.1.0/24 --gateway 10.13.1.254 "${net_opts[@]}" -o wgnet.additional="$A1"
ctr_run old1 old
old_ip="$(ctr_ip old1 old)"
assert_ok "old1 ($old_ip) pings the hub before the rotation" ctr_ping old1 10.13.1.254
assert_ok "the hub pings old1 before the rotation" hub_ping "$old_ip"
old_pub="$("$WGNET" keys derive --seed-file "$seed" --additional "$A1" "$old_ip" | "$WGNET" keys pub)"
assert_contains "hub lists old1's key" "$(hub_wg show wg-hub peers)" "$old_pub"

say "rotation: hub regenerated for A2 on 10.13.2.0/24; the A1 peers go"
ip -n "$HUB_NS" addr add 10.13.2.254/24 dev wg-hub
hub_apply syncconf --seed-file "$seed" --additional "$A2" --subnet 10.13.2.0/24 \
  --range 10.13.2.1-10.13.2.10 --address 10.13.2.254/24
assert_not_contains "hub no longer lists old1's key" "$(hub_wg show wg-hub peers)" "$old_pub"

net_create new --subnet 10.13.2.0/24 --gateway 10.13.2.254 "${net_opts[@]}" -o wgnet.additional="$A2"
for c in new1 new2; do
  ctr_run "$c" new
  ip="$(ctr_ip "$c" new)"
  assert_ok "$c ($ip) pings the hub" ctr_ping "$c" 10.13.2.254
  assert_ok "the hub pings $c" hub_ping "$ip"
  pub="$("$WGNET" keys derive --seed-file "$seed" --additional "$A2" "$ip" | "$WGNET" keys pub)"
  [[ "$(hub_peer_field "$pub" latest-handshakes)" =~ ^[1-9][0-9]*$ ]] ||
    fail "hub: no handshake with $c's A2 key $pub"$'\n'"$(hub_wg show wg-hub)"
  ok "hub has a handshake with $c's A2 key"
done

assert_fails "old1 (A1 key) can no longer ping the hub" ctr_exec old1 ping -c3 -W1 10.13.1.254
assert_fails "old1 cannot reach the new subnet's hub address either" ctr_exec old1 ping -c2 -W1 10.13.2.254
assert_fails "the hub can no longer ping old1" ip netns exec "$HUB_NS" ping -c2 -W1 "$old_ip"
