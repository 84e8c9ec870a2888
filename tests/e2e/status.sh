#!/usr/bin/env bash
# e2e.status: what a user sees of running containers, and the article's scenario 2 with
# `wgnet hub sync`.
#  - `wgnet status` (table and --json) lists a running container by its Docker names, address,
#    derived public key, backend and hub endpoint, with a recent handshake, bytes both ways and
#    healthy; without Docker it falls back to short IDs; the admin socket is root-only (0600);
#  - `wgnetd --metrics` serves what `promtool check metrics` accepts: endpoints per network and
#    backend, the container's handshake and bytes, libnetwork calls by method with latencies; no
#    key appears anywhere in it;
#  - scenario 2: the hub starts with one peer; `wgnet hub sync` (over the hub's UAPI socket) adds
#    two; new containers reach the hub at once, while the first container's session carries on
#    (same handshake at the hub).
# Usage: status.sh [WGNET WGNETD]
source "$(dirname "$0")/lib.sh"
e2e_init status 30 "$@"
command -v promtool >/dev/null || fail "promtool not found; run scripts/install-deps (Debian: prometheus)"

P=10.30.0
METRICS_PORT="$("$E2E_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
WGNETD_ARGS=(--metrics "127.0.0.1:$METRICS_PORT")
e2e_standard "$P" 1
NET="$(net_name net)"
NET_ID="$(dk network inspect -f '{{.Id}}' "$NET")"

ctr_run c1 net
C1="$(ctr_name c1)"
IP1="$(ctr_ip c1 net)"
assert_eq "c1 got the first address" "$P.1" "$IP1"
assert_ok "c1 pings the hub through the tunnel" ctr_ping c1 "$HUB_IP"
PUB1="$("$WGNET" keys derive --seed-file "$SEED" "$IP1" | "$WGNET" keys pub)"

# ---- wgnet status ------------------------------------------------------------------------------
assert_eq "the admin socket is root's alone" "srw------- root" \
  "$(stat -c '%A %U' "$WGNETD_ADMIN_SOCKET")"
table="$("$WGNET" status)"
say "wgnet status:"$'\n'"$table"
row="$(grep -F " $C1 " <<<"$table" || true)"
[[ -n "$row" ]] || fail "wgnet status has no row for $C1:"$'\n'"$table"
BACKEND="${WGNETD_BACKEND:-engine}"
for want in "$NET" "$IP1" "$PUB1" "$BACKEND" "$HUB_ENDPOINT" " yes"; do
  assert_contains "the table's row for c1 shows $want" "$row" "$want"
done
assert_contains "the table has its header" "$table" "NETWORK"

json="$("$WGNET" status --json)"
"$E2E_PYTHON" - "$json" "$NET" "$C1" "$IP1" "$PUB1" "$HUB_ENDPOINT" "$NET_ID" "$BACKEND" <<'PY' ||
import json, sys, time
rows, net, ctr, ip, pub, hub, net_id, backend = json.loads(sys.argv[1]), *sys.argv[2:]
mine = [r for r in rows if r["container"] == ctr]
assert len(mine) == 1, f"expected one row for {ctr}: {rows}"
r = mine[0]
want = {"network": net, "address": ip + "/24", "public_key": pub, "backend": backend,
        "endpoint": hub, "healthy": True, "joined": True, "network_id": net_id}
for k, v in want.items():
    assert r.get(k) == v, f"{k}: expected {v!r}, saw {r.get(k)!r}"
assert isinstance(r["last_handshake"], int) and 0 < time.time() - r["last_handshake"] < 120, \
    f"last_handshake {r['last_handshake']} is not recent"
assert r["rx_bytes"] > 0 and r["tx_bytes"] > 0, f"no traffic counted: {r}"
assert r["container_id"] and r["endpoint_id"] and r["interface"].startswith("wgnet-"), r
PY
  fail "wgnet status --json:"$'\n'"$json"
ok "wgnet status --json: names, address, derived key, backend, hub endpoint, handshake within 2 min, bytes, healthy"

bare="$("$WGNET" status --json --docker-socket '')"
"$E2E_PYTHON" - "$bare" "${NET_ID:0:12}" <<'PY' || fail "wgnet status without Docker:"$'\n'"$bare"
import json, sys
rows = json.loads(sys.argv[1])
assert any(r["network"] == sys.argv[2] and r["container"] == r["endpoint_id"][:12] for r in rows), rows
PY
ok "without Docker, status shows short IDs (network's, endpoint's)"

# ---- metrics -----------------------------------------------------------------------------------
scrape() {
  "$E2E_PYTHON" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
    "http://127.0.0.1:$METRICS_PORT/metrics"
}
scrape >"$E2E_TMP/metrics.txt"
lint="$(promtool check metrics <"$E2E_TMP/metrics.txt" 2>&1)" || fail "promtool check metrics: $lint"
assert_empty "promtool check metrics has nothing to say" "$lint"
metrics="$(cat "$E2E_TMP/metrics.txt")"
EP1="$(dk inspect -f "{{(index .NetworkSettings.Networks \"$NET\").EndpointID}}" "$C1")"
assert_contains "metrics: one endpoint on the network" "$metrics" \
  "wgnet_endpoints{network=\"${NET_ID:0:12}\",backend=\"$BACKEND\"} 1"
hs="$(awk -v l="wgnet_endpoint_last_handshake_timestamp_seconds{network=\"${NET_ID:0:12}\",endpoint=\"${EP1:0:12}\"}" \
  '$1 == l {print $2}' <<<"$metrics")"
[[ -n "$hs" ]] && (($(date +%s) - hs < 120)) || fail "metrics: no recent handshake for c1 (saw '$hs')"
ok "metrics: c1's last handshake is recent ($hs)"
assert_contains "metrics: c1 is healthy" "$metrics" \
  "wgnet_endpoint_healthy{network=\"${NET_ID:0:12}\",endpoint=\"${EP1:0:12}\"} 1"
grep -qE "^wgnet_endpoint_received_bytes_total\{network=\"${NET_ID:0:12}\",endpoint=\"${EP1:0:12}\"\} [1-9]" \
  <<<"$metrics" || fail "metrics: no bytes received for c1"
ok "metrics: c1 received bytes"
grep -qE '^wgnet_requests_total\{method="NetworkDriver.Join",result="ok"\} [1-9]' <<<"$metrics" ||
  fail "metrics: no successful Join counted"
grep -qE '^wgnet_request_duration_seconds_count\{method="NetworkDriver.CreateEndpoint"\} [1-9]' \
  <<<"$metrics" || fail "metrics: no CreateEndpoint latency"
ok "metrics: libnetwork calls counted by method and result, with latencies"
assert_not_contains "metrics carry no container key" "$metrics" "$PUB1"
assert_not_contains "metrics carry no hub key" "$metrics" "$HUB_PUB"

# ---- scenario 2: more containers, `wgnet hub sync` on the running hub --------------------------
# c1's session at the hub must have settled before the sync: right after start both ends may
# initiate, and a retry a few seconds later would look like a new handshake caused by the sync
# (seen once on Docker 28). Settled = the same handshake time 3 s apart (then a new handshake
# would show as a new time).
HS1=""
for _ in $(seq 1 10); do
  seen="$(hub_peer_field "$PUB1" latest-handshakes)"
  [[ "$seen" =~ ^[1-9][0-9]*$ ]] || fail "the hub has no handshake with c1: '$seen'"
  if [[ "$seen" == "$HS1" ]]; then break; fi
  HS1="$seen"
  sleep 3
done
hub_sync() { nsenter -t "$HUB_PID" -m -n "$WGNET" hub sync wg-hub --seed-file "$SEED" --subnet "$P.0/24" --address "$HUB_IP/24" "$@"; }
dry="$(hub_sync --range "$P.1-$P.3" --dry-run)"
say "wgnet hub sync --dry-run:"$'\n'"$dry"
assert_contains "dry run: two peers to add" "$dry" "would add 2, remove 0, update 0; 1 unchanged"
out="$(hub_sync --range "$P.1-$P.3")"
assert_eq "hub sync adds the two new addresses' peers" \
  "wg-hub (uapi): 2 added, 0 removed, 0 updated; 1 unchanged" "$out"
ctr_run c2 net
ctr_run c3 net
assert_ok "c2 pings the hub at once" ctr_ping c2 "$HUB_IP"
assert_ok "c3 pings the hub at once" ctr_ping c3 "$HUB_IP"
assert_ok "c1 still pings the hub" ctr_ping c1 "$HUB_IP"
assert_eq "c1's session at the hub carried on (same handshake)" "$HS1" \
  "$(hub_peer_field "$PUB1" latest-handshakes)"

table="$("$WGNET" status)"
say "wgnet status:"$'\n'"$table"
for c in c2 c3; do
  row="$(grep -F " $(ctr_name "$c") " <<<"$table" || true)"
  assert_contains "status: $c is healthy" "$row" " yes"
done
