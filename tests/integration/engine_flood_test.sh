#!/usr/bin/env bash
# A handshake flood from a third namespace (initiations with a valid mac1 from keys the engine
# does not know, as fast as the flooder can send them) puts wgnet-engine under load: the flooder
# gets cookie replies, and the real peer (Debian's wireguard-go) still completes its handshake,
# with a cookie, and keeps its tunnel working.
# Usage: engine_flood_test.sh WGNET_ENGINE HANDSHAKE_LOAD
ENGINE=${1:-}
WG_LOAD=${2:-}
source "$(dirname "$0")/engine_test_lib.sh"
command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go missing"; exit 77; }
[[ -x $WG_LOAD ]] || fail "handshake load generator not found at '$WG_LOAD'"

ns_add a
ns_add b
ns_add c
veth a 198.18.95.1/24 b 198.18.95.2/24
veth a 198.18.96.1/24 c 198.18.96.2/24
assert_route_local c 198.18.96.1
KA=$(key) KB=$(key)
PA=$(pub "$KA") PB=$(pub "$KB")
start_engine a "fa$TAG" LOG_LEVEL=${ENGINE_LOG:-error}
start_wggo b "fb$TAG"
nsx a wg set "fa$TAG" private-key "$(keyfile "$KA")" listen-port 51601 \
  peer "$PB" allowed-ips 10.95.0.2/32
nsx b wg set "fb$TAG" private-key "$(keyfile "$KB")" listen-port 51602 \
  peer "$PA" allowed-ips 10.95.0.1/32 endpoint 198.18.95.1:51601
up a "fa$TAG" 10.95.0.1/24
up b "fb$TAG" 10.95.0.2/24

say "flood from the third namespace"
nsx c "$WG_LOAD" flood --target 198.18.96.1:51601 --responder "$PA" --bind 198.18.96.2 \
  --seconds ${FLOOD_SECONDS:-30} --rate ${FLOOD_RATE:-40000} >"$SCRATCH/flood.out" &
FLOOD=$!
PIDS+=($FLOOD)
sleep 3

say "the real peer handshakes during the flood (a cookie reply, then mac2) and keeps working"
start=$(date +%s)
ok=0
for _ in $(seq 12); do
  if nsx b ping -c 1 -W 2 10.95.0.1 >/dev/null 2>&1; then ok=1; break; fi
done
((ok)) || { wait $FLOOD; cat "$SCRATCH/flood.out"; grep -v "^[│┌└]" "$SCRATCH/wireguard-go.log" | tail -5; fail "wireguard-go never got through during the flood"; }
echo "first ping through after $(($(date +%s) - start)) s"
loss=$(nsx b ping -c 25 -i 0.2 -W 1 10.95.0.1 | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
echo "ping loss during the flood: $loss%"
[[ ${loss%.*} -le 10 ]] || fail "the tunnel suffers under the flood: $loss% lost"
ping_ok a 10.95.0.2 || fail "engine -> wireguard-go during the flood"
kill -0 $FLOOD 2>/dev/null || fail "the flood ended before the checks (test too slow)"

wait $FLOOD || true
cat "$SCRATCH/flood.out"
cookies=$(sed -n 's/^cookie_replies=//p' "$SCRATCH/flood.out")
((cookies > 100)) || fail "the flooder got $cookies cookie replies"
nsx a wg show "fa$TAG" >/dev/null || fail "wg show after the flood"
ping_ok b 10.95.0.1 || fail "tunnel after the flood"
