#!/usr/bin/env bash
# e2e.dns: names resolve through the tunnel, never around it. A resolver (dnsmasq) listens on the
# hub's tunnel address, in the hub's namespace; a container runs with `--dns HUB_TUNNEL_IP`, the
# README's way. Docker's embedded DNS (127.0.0.11 on user-defined networks) forwards the query from
# the container's namespace, whose only way out is wg0:
#  - the resolver answers, and saw the query come from the container's tunnel address;
#  - on the wire (the hub's veth) there is only WireGuard (UDP to the hub's port), no DNS;
#  - with the hub down the query fails, and no packet carrying the name appears on any interface
#    of the host (no fallback to the host's resolvers), where the capture does see a query sent
#    in the clear (its control).
# Usage: dns.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init dns 42 "$@"
e2e_standard 10.42.0 20
DOMAIN=wgnet-e2e.test

# The resolver behind the hub: answers for $DOMAIN only, from its own records, logs every query.
say "dnsmasq in $HUB_NS on $HUB_IP:53"
ip netns exec "$HUB_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
  --bind-interfaces --listen-address="$HUB_IP" --except-interface=lo --user=root --group=root \
  --pid-file= --log-queries --log-facility="$E2E_TMP/dnsmasq.log" \
  --host-record="db.$DOMAIN,10.42.0.200" --local="/$DOMAIN/" >"$E2E_TMP/dnsmasq.out" 2>&1 &
DNSMASQ_PID=$!
echo "$DNSMASQ_PID" >"$E2E_RUN_DIR/$E2E_PREFIX.dnsmasq.pid"
defer rm -f "$E2E_RUN_DIR/$E2E_PREFIX.dnsmasq.pid"
defer kill_pid "$DNSMASQ_PID"
listening() { ip netns exec "$HUB_NS" ss -Hlun "sport = :53" | grep -qF "$HUB_IP"; }
assert_eventually "dnsmasq listens on $HUB_IP:53 in the hub's namespace" 10 listening

# The container, as the README says: --dns pointing at the resolver behind the hub.
name="$(ctr_name c1)"
defer ctr_rm "$name"
out="$(dk run -d --name "$name" --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name net)" \
  --dns "$HUB_IP" "$E2E_IMAGE" sleep 3600 2>&1)" || fail "docker run --dns $HUB_IP failed: $out"
ip1="$(ctr_ip c1 net)"
assert_ok "c1 ($ip1) pings the hub" ctr_ping c1 "$HUB_IP"
assert_contains "c1's resolv.conf: Docker's embedded DNS" "$(ctr_exec c1 cat /etc/resolv.conf)" "nameserver 127.0.0.11"

lookup() { timeout 40 "$DOCKER" exec "$name" busybox nslookup "$1"; }

# Through the tunnel: captured on the host side of the hub's veth meanwhile, only WireGuard.
cap="$E2E_TMP/wire.pcap"
tcpdump -i "$HUB_VETH" -n -U -w "$cap" 2>"$E2E_TMP/tcpdump-wire.err" &
cap_pid=$!
defer kill_pid "$cap_pid"
sleep 1
out="$(lookup "db.$DOMAIN" 2>&1)" || fail "nslookup db.$DOMAIN failed: $out"
assert_contains "the resolver behind the hub answers c1's query" "$out" "10.42.0.200"
assert_contains "the resolver saw the query come from c1's tunnel address" \
  "$(cat "$E2E_TMP/dnsmasq.log")" "query[A] db.$DOMAIN from $ip1"
sleep 1
kill_pid "$cap_pid"
wire="$(tcpdump -r "$cap" -n 2>/dev/null)"
assert_not_contains "no DNS on the wire" "$wire" ".53:"
assert_empty "on the wire only UDP between the host and the hub's WireGuard port" \
  "$(grep -v "IP $HUB_HOST_ADDR\.[0-9]* > $HUB_ADDR\.$HUB_PORT: UDP" <<<"$wire" |
    grep -v "IP $HUB_ADDR\.$HUB_PORT > $HUB_HOST_ADDR\.[0-9]*: UDP" || true)"

# The hub down: the query fails; nothing carrying the name leaves on any interface of the host.
hub_down "$HUB_PID" "$E2E_RUN_DIR/$E2E_PREFIX.hub.pid"
say "hub down (its wireguard-go stopped)"
leak="leak-$RANDOM$RANDOM.$DOMAIN"
cap="$E2E_TMP/any.pcap"
tcpdump -i any -n -U -w "$cap" "port 53" 2>"$E2E_TMP/tcpdump-any.err" &
cap_pid=$!
defer kill_pid "$cap_pid"
sleep 1
if out="$(lookup "$leak" 2>&1)"; then fail "nslookup $leak succeeded with the hub down: $out"; fi
say "  nslookup $leak: $(tr '\n' ' ' <<<"$out")"
ok "with the hub down, the query fails"
# The capture's control: a query sent in the clear from the host (to the hub's veth address, where
# nothing answers) is seen.
control="control-$RANDOM$RANDOM.$DOMAIN"
timeout 5 busybox nslookup "$control" "$HUB_ADDR" >/dev/null 2>&1 || true
sleep 1
kill_pid "$cap_pid"
captured="$(tcpdump -r "$cap" -n -A 2>/dev/null)"
assert_contains "the capture sees a query sent in the clear from the host (control)" "$captured" "${control%%.*}"
assert_not_contains "no packet on the host carries the name (no fallback to the host's resolvers)" \
  "$captured" "${leak%%.*}"
assert_not_contains "and the resolver never saw it" "$(cat "$E2E_TMP/dnsmasq.log")" "$leak"
