#!/usr/bin/env bash
# e2e.article: the article's flow with its option names (io.bestov.wg.*) and its example keys
# (keys.md): hub 192.168.5.1/30 listening on 10101 with the article's private key, one container
# at 192.168.5.2 whose key is the article's +Pm8wi17...nU8=. Both ends reach each other at once.
# Usage: article.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init article 11 "$@"

SEED=dGVzdHNlZWQK                  # base64 of "testseed\n", as in the article
ADDITIONAL=dGVzdGFkZGl0aW9uYWwK    # base64 of "testadditional\n"
HUB_PRIVATE_KEY=uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=
ARTICLE_HUB_PUB=ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=
ARTICLE_CONTAINER_PUB=+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=

build_image
hub_up hub 10101 192.168.5.1/30 --kdf sha3 --seed "$SEED" --additional "$ADDITIONAL" --subnet 192.168.5.0/30
assert_eq "hub public key is the article's" "$ARTICLE_HUB_PUB" "$HUB_PUB"
assert_contains "hub config has the article's container peer" "$(hub_wg show wg-hub peers)" "$ARTICLE_CONTAINER_PUB"

wgnetd_start
net_create net --subnet 192.168.5.0/30 --gateway 192.168.5.1 \
  -o io.bestov.wg.peer="$HUB_ENDPOINT" -o io.bestov.wg.peerkey="$HUB_PUB" \
  -o io.bestov.wg.seed="$SEED" -o io.bestov.wg.additional="$ADDITIONAL"
ctr_run c1 net
ip="$(ctr_ip c1 net)"
# The container's device keeps its UAPI socket in the host namespace: `wg` reads it from here.
ifname="$(one_new_wgnet_ifname c1)"
assert_eq "the article's options mean keepalive 25 s ($ifname)" "$HUB_PUB	25" \
  "$(wg show "$ifname" persistent-keepalive)"
assert_eq "container's IPAM address" 192.168.5.2 "$ip"
assert_contains "wg0 in the container carries the IPAM address" "$(ctr_exec c1 ip addr show wg0)" "inet $ip/30"

# The hub first: persistent keepalive must have opened the path without the container sending.
assert_ok "hub pings the container right after start" hub_ping "$ip" 3
assert_ok "container pings the hub (192.168.5.1)" ctr_ping c1 192.168.5.1

derived="$("$WGNET" keys derive --kdf sha3 --seed "$SEED" --additional "$ADDITIONAL" "$ip" | "$WGNET" keys pub)"
assert_eq "wgnet keys derive --kdf sha3 ... $ip | wgnet keys pub" "$ARTICLE_CONTAINER_PUB" "$derived"
handshake="$(hub_peer_field "$derived" latest-handshakes)"
now="$(date +%s)"
if ! [[ "$handshake" =~ ^[1-9][0-9]*$ ]] || ((now - handshake > 120)); then
  fail "hub's latest handshake with $derived: expected within 120 s of now ($now), saw '$handshake'"
fi
ok "hub's wg show lists $derived with a handshake $((now - handshake)) s ago"
endpoint="$(hub_peer_field "$derived" endpoints)"
assert_eq "hub sees the container's endpoint on the host side of the veth" "198.18.$E2E_IDX.1" "${endpoint%:*}"
log="$(cat "$WGNETD_LOG")"
assert_not_contains "wgnetd's log does not contain the seed" "$log" "$SEED"
assert_not_contains "wgnetd's log does not contain the container's private key" "$log" \
  "$("$WGNET" keys derive --kdf sha3 --seed "$SEED" --additional "$ADDITIONAL" "$ip")"
say "hub: wg show wg-hub"
hub_wg show wg-hub
