#!/usr/bin/env bash
# e2e.hkdf_many: wgnet's defaults (hkdf, seed file, derived preshared keys). 20 containers on one
# network reach the hub; the hub then applies 5 more peers with `wg syncconf` from a regenerated
# `wgnet hub config --range`, and the first 20 keep their sessions (handshake time and transfer
# counters at the hub do not start over) while 5 more containers join, all started at once.
# Usage: hkdf_many.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init hkdf_many 12 "$@"

FIRST=20
MORE=5
HUB_IP=10.0.42.254

build_image
wgnetd_start
seed="$(make_seed_file seed)"
hub_opts=(--seed-file "$seed" --psk derived --subnet 10.0.42.0/24)
hub_up hub 51820 "$HUB_IP/24" "${hub_opts[@]}" --range "10.0.42.1-10.0.42.$FIRST"
net_create net --subnet 10.0.42.0/24 --gateway "$HUB_IP" \
  -o wgnet.endpoint="$HUB_ENDPOINT" -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file="$seed" \
  -o wgnet.psk=derived -o wgnet.kdf=hkdf

# ping_both FROM TO: containers cFROM..cTO and the hub reach each other.
ping_both() {
  local i ip
  for ((i = $1; i <= $2; i++)); do
    ip="$(ctr_ip "c$i" net)"
    ctr_ping "c$i" "$HUB_IP" || fail "c$i ($ip) cannot ping the hub $HUB_IP"
    hub_ping "$ip" || fail "the hub cannot ping c$i ($ip)"
    say "c$i ($ip) <-> hub"
  done
}

for ((i = 1; i <= FIRST; i++)); do ctr_run "c$i" net; done
ping_both 1 "$FIRST"
ok "$FIRST containers reach the hub and the hub reaches them"
pub1="$("$WGNET" keys derive --seed-file "$seed" 10.0.42.1 | "$WGNET" keys pub)"
assert_contains "c1's key at the hub is wgnet keys derive | keys pub of 10.0.42.1" "$(hub_wg show wg-hub peers)" "$pub1"
assert_eq "c1's preshared key at the hub is wgnet keys psk of 10.0.42.1" \
  "$("$WGNET" keys psk --seed-file "$seed" 10.0.42.1)" "$(hub_peer_field "$pub1" preshared-keys)"

# `wg show dump` peer lines: public-key psk endpoint allowed-ips latest-handshake rx tx keepalive
hub_wg show wg-hub dump | tail -n +2 | awk '$5 > 0 {print $1, $5, $6}' | sort >"$E2E_TMP/before"
assert_eq "peers with a handshake before syncconf" "$FIRST" "$(wc -l <"$E2E_TMP/before")"

hub_apply syncconf "${hub_opts[@]}" --range "10.0.42.1-10.0.42.$((FIRST + MORE))" --address "$HUB_IP/24"
assert_eq "hub peers after syncconf" "$((FIRST + MORE))" "$(hub_wg show wg-hub peers | wc -l)"

# sessions_kept WHEN: every peer of "before" still has a handshake no older, and no fewer bytes.
sessions_kept() {
  local bad
  bad="$(hub_wg show wg-hub dump | tail -n +2 | awk '{print $1, $5, $6}' | sort |
    join "$E2E_TMP/before" - |
    awk '$4 == 0 || $4 < $2 || $5 < $3 {print "  " $1 ": handshake " $2 " -> " $4 ", rx " $3 " -> " $5}')"
  [[ -z "$bad" ]] || fail "$1: these sessions started over at the hub:"$'\n'"$bad"
  ok "$1: the first $FIRST sessions kept (handshake and rx counters did not reset)"
}
sessions_kept "right after syncconf"

more=()
for ((i = FIRST + 1; i <= FIRST + MORE; i++)); do more+=("c$i"); done
say "starting ${more[*]} at the same time"
ctr_run_parallel net "${more[@]}"
ping_both $((FIRST + 1)) $((FIRST + MORE))
ok "$MORE more containers, started at once, reach the hub"
for ((i = 1; i <= FIRST; i++)); do
  ctr_ping "c$i" "$HUB_IP" 1 || fail "c$i lost the hub after the new peers were applied"
done
ok "the first $FIRST containers still ping the hub"
sessions_kept "after $MORE more containers joined"
