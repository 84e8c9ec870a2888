#!/usr/bin/env bash
# wgnet-engine against Debian's wireguard-go and against itself, in namespaces joined by a veth
# (198.18.94.0/24): each side initiating, data both ways (ping, TCP), a rekey under shortened
# timers (WGNET_ENGINE_TEST_TIMINGS, test only), the engine as responder through a rekey, roaming
# of the peer's endpoint, and a packet from outside the peer's AllowedIPs dropped.
# Usage: engine_interop_test.sh WGNET_ENGINE
ENGINE=${1:-}
source "$(dirname "$0")/engine_test_lib.sh"
command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go missing"; exit 77; }
[[ $("$ENGINE" --version) == *"test hooks"* ]] ||
  fail "$ENGINE has no test hooks (shortened timers): build it with WGNET_TEST_HOOKS=ON scripts/build"

ns_add a
ns_add b
veth a 198.18.94.1/24 b 198.18.94.2/24
assert_route_local a 198.18.94.2
KA=$(key) KB=$(key)
PA=$(pub "$KA") PB=$(pub "$KB")
TIMINGS="rekey_after_time=4s,reject_after_time=12s,rekey_timeout=1s,keepalive_timeout=2s"

# tunnel N A_IF B_IF PORT_A PORT_B INITIATOR: engine A_IF in a, wireguard-go B_IF in b; only the
# initiator knows the other's endpoint, so it has to be the one that starts.
tunnel() {
  local n=$1 aif=$2 bif=$3 pa=$4 pb=$5 initiator=$6
  local a_ep=() b_ep=()
  [[ $initiator == a ]] && a_ep=(endpoint "198.18.94.2:$pb")
  [[ $initiator == b ]] && b_ep=(endpoint "198.18.94.1:$pa")
  nsx a wg set "$aif" private-key "$(keyfile "$KA")" listen-port "$pa" \
    peer "$PB" allowed-ips "10.94.$n.2/32" "${a_ep[@]}"
  nsx b wg set "$bif" private-key "$(keyfile "$KB")" listen-port "$pb" \
    peer "$PA" allowed-ips "10.94.$n.1/32" "${b_ep[@]}"
  up a "$aif" "10.94.$n.1/24"
  up b "$bif" "10.94.$n.2/24"
}

say "engine initiates (wireguard-go has no endpoint for it)"
start_engine a "ea$TAG" WGNET_ENGINE_TEST_TIMINGS="$TIMINGS" LOG_LEVEL=error
start_wggo b "gb$TAG"
tunnel 1 "ea$TAG" "gb$TAG" 51101 51102 a
ping_ok a 10.94.1.2 || fail "engine -> wireguard-go ping"
ping_ok b 10.94.1.1 || fail "wireguard-go -> engine ping"
[[ $(nsx b wg show "gb$TAG" endpoints) == *198.18.94.1:51101* ]] || fail "wireguard-go learnt no endpoint"

say "TCP both ways (offloads, ordering)"
if command -v iperf3 >/dev/null; then
  nsx b iperf3 -s -1 -B 10.94.1.2 -p 5301 >/dev/null &
  PIDS+=($!)
  sleep 0.5
  nsx a iperf3 -c 10.94.1.2 -p 5301 -n 30M -Z >/dev/null || fail "iperf3 engine -> wireguard-go"
  nsx b iperf3 -s -1 -B 10.94.1.2 -p 5302 >/dev/null &
  PIDS+=($!)
  sleep 0.5
  nsx a iperf3 -c 10.94.1.2 -p 5302 -n 30M -Z -R >/dev/null || fail "iperf3 wireguard-go -> engine"
fi

say "rekey: the engine renews its session after rekey_after_time=4s, traffic goes on"
first=$(latest_handshake a "ea$TAG")
loss=$(nsx a ping -c 40 -i 0.25 -W 1 10.94.1.2 | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
second=$(latest_handshake a "ea$TAG")
echo "handshakes at $first and $second, ping loss $loss%"
((second > first)) || fail "no new handshake after the rekey time"
[[ ${loss%.*} -le 5 ]] || fail "pings lost across the rekey: $loss%"
[[ $(latest_handshake b "gb$TAG") -ge $second ]] || fail "wireguard-go did not see the rekey"

say "wireguard-go initiates (the engine has no endpoint for it)"
start_engine a "eA$TAG" LOG_LEVEL=error
start_wggo b "gB$TAG"
tunnel 2 "eA$TAG" "gB$TAG" 51201 51202 b
ping_ok b 10.94.2.1 || fail "wireguard-go -> engine ping"
ping_ok a 10.94.2.2 || fail "engine -> wireguard-go ping"
[[ $(nsx a wg show "eA$TAG" endpoints) == *198.18.94.2:51202* ]] || fail "engine learnt no endpoint"

say "roaming: wireguard-go's port changes, the engine follows"
# (An address change is tested engine <-> engine below: Debian's wireguard-go keeps sending from
# a source address that is gone, the bug netns.sh's source-address section shows.)
nsx b wg set "gB$TAG" listen-port 51299
ping_ok b 10.94.2.1 || fail "ping after the move"
[[ $(nsx a wg show "eA$TAG" endpoints) == *198.18.94.2:51299* ]] ||
  fail "endpoint not updated: $(nsx a wg show "eA$TAG" endpoints)"
ping_ok a 10.94.2.2 || fail "engine -> moved peer"

say "a packet from outside the peer's AllowedIPs is dropped"
nsx b wg set "gB$TAG" peer "$PA" allowed-ips 10.94.2.1/32,10.94.3.0/24
ip -n "$TAG-b" addr add 10.94.3.9/24 dev "gB$TAG"
ip -n "$TAG-a" route add 10.94.3.0/24 dev "eA$TAG"
rx_before=$(nsx a wg show "eA$TAG" transfer | awk '{print $2}')
if nsx b ping -c 2 -W 1 -I 10.94.3.9 10.94.2.1 >/dev/null 2>&1; then
  fail "a packet from 10.94.3.9 (not in the engine's AllowedIPs) got an answer"
fi
rx_after=$(nsx a wg show "eA$TAG" transfer | awk '{print $2}')
((rx_after > rx_before)) || fail "the packets never reached the engine (test broken)"
ping_ok b 10.94.2.1 || fail "the allowed source stopped working"

say "engine <-> engine, the responder through a rekey"
# Shortened timers on the initiator only: the responder installs the renewed session as "next"
# and switches when the first packet arrives under it.
start_engine a "eE$TAG" WGNET_ENGINE_TEST_TIMINGS="$TIMINGS"
start_engine b "eF$TAG"
nsx a wg set "eE$TAG" private-key "$(keyfile "$KA")" listen-port 51301 \
  peer "$PB" allowed-ips 10.94.4.2/32 endpoint 198.18.94.2:51302
nsx b wg set "eF$TAG" private-key "$(keyfile "$KB")" listen-port 51302 \
  peer "$PA" allowed-ips 10.94.4.1/32
up a "eE$TAG" 10.94.4.1/24
up b "eF$TAG" 10.94.4.2/24
ping_ok a 10.94.4.2 || fail "engine -> engine"
first=$(latest_handshake b "eF$TAG")
loss=$(nsx b ping -c 40 -i 0.25 -W 1 10.94.4.1 | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
second=$(latest_handshake b "eF$TAG")
echo "responder handshakes at $first and $second, ping loss $loss%"
((second > first)) || fail "the responder saw no rekey"
[[ ${loss%.*} -le 5 ]] || fail "pings lost across the responder's rekey: $loss%"
if command -v iperf3 >/dev/null; then
  nsx b iperf3 -s -1 -B 10.94.4.2 -p 5303 >/dev/null &
  PIDS+=($!)
  sleep 0.5
  nsx a iperf3 -c 10.94.4.2 -p 5303 -n 50M -Z >/dev/null || fail "iperf3 engine -> engine"
fi

say "roaming engine <-> engine: the peer's address changes (its old source address is gone)"
dev_b=$(nsx b ip -o -4 addr show | awk '/198.18.94.2/ {print $2}')
ip -n "$TAG-b" addr del 198.18.94.2/24 dev "$dev_b"
ip -n "$TAG-b" addr add 198.18.94.4/24 dev "$dev_b"
ping_ok b 10.94.4.1 || fail "ping after the address change"
[[ $(nsx a wg show "eE$TAG" endpoints) == *198.18.94.4:51302* ]] ||
  fail "endpoint not updated: $(nsx a wg show "eE$TAG" endpoints)"
ping_ok a 10.94.4.2 || fail "engine -> moved engine"
