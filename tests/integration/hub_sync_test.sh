#!/usr/bin/env bash
# `wgnet hub sync` against a live hub with live sessions, in namespaces of its own: a hub and three
# "containers" (WireGuard interfaces with keys from `wgnet keys derive`), each in its own network
# namespace, joined to the hub's by veth pairs made directly inside the namespaces (the host's
# namespace is never touched). Checks: --dry-run prints the difference and changes nothing; peers
# are added while established sessions carry on (their handshake time is unchanged and they ping
# without a new handshake); peers are removed (they can no longer reach the hub); peers outside
# --subnet are left alone; a new "additional" replaces every key of the subnet.
#
# Usage: hub_sync_test.sh WGNET [wireguard-go|kernel]
#   wireguard-go: the hub is Debian's wireguard-go, reached over its UAPI socket (CI).
#   kernel: the hub and containers are kernel WireGuard interfaces, reached over netlink (runs in
#           scripts/vm's guest as netlink.hub_sync_kernel; exits 77, "skipped", where the kernel
#           has no WireGuard, unless WGNET_REQUIRE_KERNEL_WIREGUARD=1).
# Root only. Removes everything it made, also when it fails.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

WGNET="${1:?usage: hub_sync_test.sh WGNET [wireguard-go|kernel]}"
KIND="${2:-wireguard-go}"
((EUID == 0)) || { echo "SKIP: needs root (namespaces)"; exit 77; }

# Re-run in a private mount namespace: a tmpfs over /run/wireguard there keeps the UAPI sockets of
# our wireguard-go processes apart from everyone else's (and theirs from us).
if [[ -z "${WGNET_HUB_SYNC_INNER:-}" ]]; then
  exec env WGNET_HUB_SYNC_INNER=1 unshare --mount --propagation private bash "$0" "$@"
fi
mkdir -p /run/wireguard
mount -t tmpfs -o mode=0755 wgnet-hub-sync /run/wireguard

umask 077  # keys and seeds
T0=$SECONDS
P="wgnet-hs$$"
NS_HUB="$P-hub"
TMP="$(mktemp -d "/tmp/$P.XXXXXX")"
PIDS=()
SUBNET=10.77.0.0/24
HUB_IP=10.77.0.254
PORT=51820

say() { printf '[hub_sync %s +%3ds] %s\n' "$KIND" $((SECONDS - T0)) "$*"; }
fail() {
  say "FAIL: $*" >&2
  exit 1
}
ok() { say "ok   $*"; }

cleanup() {
  local rc=$? p n
  set +e
  if ((rc != 0)); then
    echo "----- hub: wg show"
    ip netns exec "$NS_HUB" wg show wg-hub 2>&1 | head -40
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for n in hub a b c; do ip netns del "$P-$n" 2>/dev/null; done
  rm -rf "$TMP"
  if ((rc == 0)); then say "PASS"; elif ((rc != 77)); then say "FAILED (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT

if [[ "$KIND" == kernel ]]; then
  ip netns add "$P-probe"
  if ! ip -n "$P-probe" link add wgprobe type wireguard 2>/dev/null; then
    ip netns del "$P-probe"
    [[ -n "${WGNET_REQUIRE_KERNEL_WIREGUARD:-}" ]] && fail "WireGuard module required"
    echo "SKIP: no WireGuard in this kernel; scripts/vm runs this in a VM"
    exit 77
  fi
  ip netns del "$P-probe"
fi

hub() { ip netns exec "$NS_HUB" "$@"; }
in_ns() {
  local n="$1"
  shift
  ip netns exec "$P-$n" "$@"
}

# wg_up NS IFNAME: a WireGuard interface of this run's kind in namespace NS.
wg_up() {
  local ns="$1" ifname="$2"
  if [[ "$KIND" == kernel ]]; then
    ip -n "$ns" link add "$ifname" type wireguard
  else
    ip netns exec "$ns" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
      wireguard-go -f "$ifname" >>"$TMP/$ns-$ifname.log" 2>&1 &
    PIDS+=($!)
    local i
    for i in $(seq 1 50); do
      ip netns exec "$ns" wg show "$ifname" >/dev/null 2>&1 && return 0
      sleep 0.1
    done
    fail "wireguard-go $ifname in $ns did not open its UAPI socket"
  fi
}

# Hub and seed.
head -c 32 /dev/urandom >"$TMP/seed"
chmod 600 "$TMP/seed"
ip netns add "$NS_HUB"
ip -n "$NS_HUB" link set lo up
wg_up "$NS_HUB" wg-hub
wg genkey >"$TMP/hub.key"
hub wg set wg-hub private-key "$TMP/hub.key" listen-port "$PORT"
ip -n "$NS_HUB" addr add "$HUB_IP/24" dev wg-hub
ip -n "$NS_HUB" link set wg-hub up
HUB_PUB="$(wg pubkey <"$TMP/hub.key")"

# Containers a (10.77.0.1), b (.2), c (.3): veth 198.18.252.(4i+1) (hub) -- (4i+2), a WireGuard
# interface with the derived key, the hub as its one peer.
declare -A KEY=() ADDR=()
i=0
for c in a b c; do
  i=$((i + 1))
  ns="$P-$c"
  ADDR[$c]="10.77.0.$i"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "v$c" netns "$NS_HUB" type veth peer name eth0 netns "$ns"
  ip -n "$NS_HUB" addr add "198.18.252.$((4 * i + 1))/30" dev "v$c"
  ip -n "$NS_HUB" link set "v$c" up
  ip -n "$ns" addr add "198.18.252.$((4 * i + 2))/30" dev eth0
  ip -n "$ns" link set eth0 up
  "$WGNET" keys derive --seed-file "$TMP/seed" "${ADDR[$c]}" >"$TMP/$c.key"
  KEY[$c]="$(wg pubkey <"$TMP/$c.key")"
  # Named apart: every wireguard-go's UAPI socket is in the one /run/wireguard.
  wg_up "$ns" "wg-$c"
  in_ns "$c" wg set "wg-$c" private-key "$TMP/$c.key" peer "$HUB_PUB" \
    endpoint "198.18.252.$((4 * i + 1)):$PORT" allowed-ips "$SUBNET"
  ip -n "$ns" addr add "${ADDR[$c]}/24" dev "wg-$c"
  ip -n "$ns" link set "wg-$c" up
done
ok "hub ($KIND) and containers a, b, c up"

SYNC=("$WGNET" hub sync wg-hub --seed-file "$TMP/seed" --subnet "$SUBNET" --address "$HUB_IP/24")
TRANSPORT=uapi
[[ "$KIND" == kernel ]] && TRANSPORT=netlink
hub_peers() { hub wg show wg-hub peers | sort; }
handshake_of() { hub wg show wg-hub latest-handshakes | awk -v k="$1" '$1 == k {print $2}'; }
rx_of() { hub wg show wg-hub transfer | awk -v k="$1" '$1 == k {print $2}'; }
reaches_hub() { in_ns "$1" ping -c 1 -W 2 "$HUB_IP" >/dev/null 2>&1; }

# --dry-run on an empty hub: two additions listed, nothing changed.
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.2 --dry-run)"
expected="+ ${KEY[a]}  10.77.0.1/32
+ ${KEY[b]}  10.77.0.2/32
wg-hub ($TRANSPORT): would add 2, remove 0, update 0; 0 unchanged (dry run: nothing changed)"
[[ "$out" == "$expected" ]] || fail "dry run printed:"$'\n'"$out"$'\n'"expected:"$'\n'"$expected"
[[ -z "$(hub_peers)" ]] || fail "the dry run changed the hub"
ok "--dry-run lists the two peers to add and changes nothing"

out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.2)"
[[ "$out" == "wg-hub ($TRANSPORT): 2 added, 0 removed, 0 updated; 0 unchanged" ]] || fail "sync: $out"
[[ "$(hub_peers)" == "$(printf '%s\n' "${KEY[a]}" "${KEY[b]}" | sort)" ]] || fail "hub peers: $(hub_peers)"
ok "sync adds a and b"

for c in a b; do
  reaches_hub "$c" || reaches_hub "$c" || fail "$c cannot ping the hub"
done
reaches_hub c && fail "c reaches the hub before it is a peer"
HS_A="$(handshake_of "${KEY[a]}")"
[[ "$HS_A" =~ ^[1-9][0-9]*$ ]] || fail "no handshake with a: '$HS_A'"
ok "a and b have sessions with the hub (a's handshake at $HS_A); c has none"

# Seconds pass, so a new handshake would show as a new time.
sleep 2
RX_A="$(rx_of "${KEY[a]}")"
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.3 --dry-run)"
[[ "$out" == "+ ${KEY[c]}  10.77.0.3/32
wg-hub ($TRANSPORT): would add 1, remove 0, update 0; 2 unchanged (dry run: nothing changed)" ]] ||
  fail "dry run before adding c printed:"$'\n'"$out"
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.3)"
[[ "$out" == "wg-hub ($TRANSPORT): 1 added, 0 removed, 0 updated; 2 unchanged" ]] || fail "sync: $out"
reaches_hub a || fail "a lost the hub when c was added"
# c's last initiation was refused before the sync; WireGuard retries every 5 s (REKEY_TIMEOUT plus
# jitter), so give it longer than one retry period: four pings of up to 2 s.
reached=no
for _ in 1 2 3 4; do
  if reaches_hub c; then reached=yes && break; fi
done
[[ $reached == yes ]] || fail "c cannot ping the hub after it was added (8 s, more than one handshake retry)"
[[ "$(handshake_of "${KEY[a]}")" == "$HS_A" ]] ||
  fail "a's session was replaced: handshake $HS_A -> $(handshake_of "${KEY[a]}")"
(($(rx_of "${KEY[a]}") > RX_A)) || fail "a's byte counter restarted: $RX_A -> $(rx_of "${KEY[a]}")"
ok "sync adds c; a's session carried on (same handshake, counters kept, pings without a new handshake)"

# A peer outside the subnet (another site's, set by hand) is never touched.
OTHER="$(wg genkey | wg pubkey)"
hub wg set wg-hub peer "$OTHER" allowed-ips 192.168.99.0/24

# Shrinking the range removes b and c; a carries on.
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.1 --dry-run)"
[[ "$out" == *"- ${KEY[b]}  10.77.0.2/32"* && "$out" == *"- ${KEY[c]}  10.77.0.3/32"* ]] ||
  fail "dry run before removing b and c printed:"$'\n'"$out"
[[ "$out" == *"would add 0, remove 2, update 0; 1 unchanged; 1 peer(s) outside $SUBNET left alone (dry run"* ]] ||
  fail "dry run summary: $out"
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.1)"
[[ "$out" == "wg-hub ($TRANSPORT): 0 added, 2 removed, 0 updated; 1 unchanged; 1 peer(s) outside $SUBNET left alone" ]] ||
  fail "sync: $out"
[[ "$(hub_peers)" == "$(printf '%s\n' "${KEY[a]}" "$OTHER" | sort)" ]] || fail "hub peers: $(hub_peers)"
reaches_hub b && fail "b still reaches the hub after its removal"
reaches_hub a || fail "a lost the hub when b and c were removed"
[[ "$(handshake_of "${KEY[a]}")" == "$HS_A" ]] || fail "a's session was replaced by the removal"
ok "sync removes b and c (b can no longer reach the hub); a's session carried on; the other site's peer stays"

# Nothing to do: nothing is sent.
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.1)"
[[ "$out" == "wg-hub ($TRANSPORT): 0 added, 0 removed, 0 updated; 1 unchanged; 1 peer(s) outside $SUBNET left alone" ]] ||
  fail "idempotent sync: $out"
ok "a second sync changes nothing"

# --psk derived updates a in place (no removal): still the same peer, now with a preshared key.
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.1 --psk derived --dry-run)"
[[ "$out" == "~ ${KEY[a]}  preshared key added"* ]] || fail "psk dry run: $out"
[[ "$out" != *"$("$WGNET" keys psk --seed-file "$TMP/seed" 10.77.0.1)"* ]] || fail "the dry run printed a preshared key"
ok "--psk derived would update a in place; the dry run shows no secret"

# Rotation: a new "additional" gives every address a new key: the old peer goes, the new comes.
out="$(hub "${SYNC[@]}" --range 10.77.0.1-10.77.0.1 --additional "$(echo -n v2 | base64)")"
[[ "$out" == "wg-hub ($TRANSPORT): 1 added, 1 removed, 0 updated; 0 unchanged; 1 peer(s) outside $SUBNET left alone" ]] ||
  fail "rotation: $out"
hub_peers | grep -qx "${KEY[a]}" && fail "a's old key is still a peer after rotation"
ok "a new --additional replaces the subnet's keys"

# Errors name the interface.
if out="$(hub "$WGNET" hub sync wg-nope --seed-file "$TMP/seed" --subnet "$SUBNET" 2>&1)"; then
  fail "sync of a missing interface succeeded"
fi
[[ "$out" == *wg-nope* ]] || fail "the error does not name the interface: $out"
ok "a missing interface is an error naming it: $out"
