#!/usr/bin/env bash
# e2e.fail_closed: a container has lo and wg0 and nothing else, no route outside wg0, no
# docker_gwbridge; with the hub down, what it sends crosses the wire only as WireGuard UDP to the
# hub's port (captured on the host side of the hub's veth): never a packet in clear.
# Usage: fail_closed.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init fail_closed 14 "$@"

e2e_standard 10.14.0
ctr_run c1 net
cid="$(dk inspect -f '{{.Id}}' "$(ctr_name c1)")"
ip="$(ctr_ip c1 net)"
assert_ok "c1 ($ip) pings the hub through the tunnel" ctr_ping c1 "$HUB_IP"

links="$(ctr_exec c1 ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | xargs)"
assert_eq "links inside the container" "lo wg0" "$links"

routes="$(ctr_exec c1 ip -4 route show)"
say "container routes:"$'\n'"$routes"
[[ -n "$routes" ]] || fail "the container has no IPv4 route at all"
bad="$(grep -v ' dev wg0\( \|$\)' <<<"$routes" || true)"
assert_empty "no IPv4 route outside wg0" "$bad"
assert_not_contains "no route names an eth device" "$routes" "eth"
assert_not_contains "no route via a gateway" "$routes" " via "
routes6="$(ctr_exec c1 ip -6 route show 2>/dev/null || true)"
bad="$(grep -v ' dev \(wg0\|lo\)\( \|$\)' <<<"$routes6" | grep -v '^$' || true)"
assert_empty "no IPv6 route outside wg0 and lo" "$bad"

# shellcheck disable=SC2016 # a Go template
nets="$(dk inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$cid" | xargs)"
assert_eq "docker inspect: the container's networks" "$(net_name net)" "$nets"
if "$DOCKER" network inspect docker_gwbridge >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # a Go template
  attached="$(dk network inspect -f '{{range $k, $v := .Containers}}{{$k}} {{end}}' docker_gwbridge)"
  assert_not_contains "docker_gwbridge does not list the container" "$attached" "$cid"
else
  ok "no docker_gwbridge network exists"
fi
new_links="$(e2e_new_leftovers | grep '^link ' || true)"
assert_empty "no wgnet link stays in the host namespace while the container runs" "$new_links"

say "hub down: ip link set wg-hub down in $HUB_NS"
ip -n "$HUB_NS" link set wg-hub down
cap="$E2E_TMP/capture.txt"
tcpdump -i "$HUB_VETH" -nn -l -U >"$cap" 2>"$E2E_TMP/tcpdump.err" &
tcpdump_pid=$!
defer kill_pid "$tcpdump_pid"
for _ in $(seq 1 50); do
  grep -q 'listening on' "$E2E_TMP/tcpdump.err" && break
  sleep 0.1
done
grep -q 'listening on' "$E2E_TMP/tcpdump.err" || fail "tcpdump did not start: $(cat "$E2E_TMP/tcpdump.err")"
assert_fails "c1 cannot ping the hub's tunnel address while the hub is down" \
  ctr_exec c1 ping -c4 -W1 "$HUB_IP"
# The hub's wire address itself: reachable in clear from the host, but not from the container.
assert_fails "c1 cannot ping the hub's veth address $HUB_ADDR" ctr_exec c1 ping -c3 -W1 "$HUB_ADDR"
sleep 1
kill_pid "$tcpdump_pid"
say "captured on $HUB_VETH:"$'\n'"$(cat "$cap")"

host="198.18.$E2E_IDX.1"
esc() { echo "${1//./\\.}"; }
udp_to_hub="IP $(esc "$host")\.[0-9]+ > $(esc "$HUB_ADDR")\.$HUB_PORT: UDP"
# The only packet the hub may send back: "port unreachable" for its own (closed) WireGuard port.
hub_unreach="IP $(esc "$HUB_ADDR") > $(esc "$host"): ICMP $(esc "$HUB_ADDR") udp port $HUB_PORT unreachable"
# Or, encrypted, from its WireGuard port: a keepalive 10 s after the container's last data, seen
# where the capture lasts longer (under emulation in the VM of scripts/vm).
udp_from_hub="IP $(esc "$HUB_ADDR")\.$HUB_PORT > $(esc "$host")\.[0-9]+: UDP"
n_udp="$(grep -cE "$udp_to_hub" "$cap" || true)"
((n_udp > 0)) || fail "no WireGuard UDP to $HUB_ENDPOINT captured: did the container send anything?"
ok "$n_udp UDP packets to $HUB_ENDPOINT captured"
assert_empty "no ICMP echo on the wire" "$(grep -E 'ICMP echo' "$cap" || true)"
assert_empty "no tunnel address (10.14.0.x) in clear on the wire" "$(grep -F '10.14.0.' "$cap" || true)"
assert_empty "nothing but UDP to the hub port (and ARP) on the wire" \
  "$(grep -vE "$udp_to_hub|$udp_from_hub|$hub_unreach| ARP, " "$cap" || true)"
n_unreach="$(grep -cE "$hub_unreach" "$cap" || true)"
((n_unreach == 0)) || say "note: $n_unreach ICMP 'port $HUB_PORT unreachable' from the hub (its port is closed while wg-hub is down)"

say "hub up again"
ip -n "$HUB_NS" link set wg-hub up
assert_eventually "c1 regains the hub once it is back" 45 ctr_ping c1 "$HUB_IP" 1
