#!/usr/bin/env bash
# wgnet-engine's life as wireguard-go's drop-in: it returns once the interface and its UAPI socket
# (mode 0600) are ready, its exit status tells a failure, and it exits removing its socket when
# the link is deleted (also after a move to another namespace, as netns.sh does), when its socket
# file is removed, and on SIGTERM; `wg-quick up/down` with WG_QUICK_USERSPACE_IMPLEMENTATION.
# Usage: engine_lifecycle_test.sh WGNET_ENGINE
ENGINE=${1:-}
source "$(dirname "$0")/engine_test_lib.sh"

ns_add a
ns_add b

# daemon NS IFNAME: starts wgnet-engine the way wg-quick and netns.sh do (it daemonizes).
daemon() {
  SOCKETS+=("$2")
  nsx "$1" "$ENGINE" "$2" || fail "wgnet-engine $2 failed to start"
  [[ -S /var/run/wireguard/$2.sock ]] || fail "no socket right after wgnet-engine $2 returned"
  ip -n "$TAG-$1" link show "$2" >/dev/null || fail "no link right after wgnet-engine $2 returned"
}
# engine_pid NS: the one wgnet-engine in that namespace.
engine_pid() {
  local p
  for p in $(ip netns pids "$TAG-$1"); do
    [[ $(readlink "/proc/$p/exe") == *wgnet-engine* ]] && { echo "$p"; return; }
  done
}
# gone PID IFNAME: the process exits, its socket goes, within 10 s.
gone() {
  for _ in $(seq 200); do  # up to 10 s: a sanitized engine under load takes its time
    if ! kill -0 "$1" 2>/dev/null && [[ ! -e /var/run/wireguard/$2.sock ]]; then return 0; fi
    sleep 0.05
  done
  fail "wgnet-engine $2 (pid $1) still there, or its socket"
}

say "command line"
"$ENGINE" --version | grep -q "wgnet-engine v" || fail "--version"
"$ENGINE" --help | grep -q "INTERFACE-NAME" || fail "--help"
st=0
"$ENGINE" >/dev/null 2>&1 || st=$?
[[ $st -ne 0 ]] || fail "no argument must fail"

say "ready on return, socket 0600, a taken name fails with status 1"
daemon a "l1$TAG"
[[ $(stat -c %a "/var/run/wireguard/l1$TAG.sock") == 600 ]] || fail "socket mode"
nsx a wg show "l1$TAG" >/dev/null || fail "wg show right after start"
st=0
out=$(nsx a "$ENGINE" "l1$TAG" 2>&1) || st=$?
[[ $st -eq 1 ]] || fail "a second wgnet-engine l1$TAG returned $st: $out"
[[ -S /var/run/wireguard/l1$TAG.sock ]] || fail "the failed start removed the live socket"

say "link deleted: exit, socket removed"
pid=$(engine_pid a)
[[ -n $pid ]] || fail "no wgnet-engine process found"
ip -n "$TAG-a" link del "l1$TAG"
gone "$pid" "l1$TAG"

say "moved to another namespace, then deleted there (netns.sh's way)"
daemon a "l2$TAG"
pid=$(engine_pid a)
ip -n "$TAG-a" link set "l2$TAG" netns "$TAG-b"
ip -n "$TAG-b" addr add 10.99.0.1/24 dev "l2$TAG"
ip -n "$TAG-b" link set "l2$TAG" up
nsx a wg show "l2$TAG" >/dev/null || fail "wg show after the move"
ip -n "$TAG-b" link del "l2$TAG"
gone "$pid" "l2$TAG"

say "SIGTERM: exit, socket and link removed"
daemon a "l3$TAG"
pid=$(engine_pid a)
kill -TERM "$pid"
gone "$pid" "l3$TAG"
ip -n "$TAG-a" link show "l3$TAG" >/dev/null 2>&1 && fail "link still there after SIGTERM"

say "socket file removed: exit (how wireguard-go is told to stop)"
daemon a "l4$TAG"
pid=$(engine_pid a)
rm -f "/var/run/wireguard/l4$TAG.sock"
gone "$pid" "l4$TAG"
for _ in $(seq 20); do ip -n "$TAG-a" link show "l4$TAG" >/dev/null 2>&1 || break; sleep 0.05; done
ip -n "$TAG-a" link show "l4$TAG" >/dev/null 2>&1 && fail "link still there"

say "wg-quick up/down with WG_QUICK_USERSPACE_IMPLEMENTATION=wgnet-engine"
if command -v wg-quick >/dev/null && command -v wireguard-go >/dev/null; then
  veth a 198.18.98.1/24 b 198.18.98.2/24
  KA=$(key) KB=$(key)
  conf="$SCRATCH/q$TAG.conf"
  cat >"$conf" <<CONF
[Interface]
PrivateKey = $KA
Address = 10.98.0.1/24
ListenPort = 51501

[Peer]
PublicKey = $(pub "$KB")
AllowedIPs = 10.98.0.2/32
Endpoint = 198.18.98.2:51502
CONF
  SOCKETS+=("q$TAG")
  nsx a env WG_QUICK_USERSPACE_IMPLEMENTATION="$ENGINE" wg-quick up "$conf" ||
    fail "wg-quick up"
  pid=$(engine_pid a)
  [[ -n $pid ]] || fail "wg-quick did not start wgnet-engine"
  start_wggo b "qb$TAG"
  nsx b wg set "qb$TAG" private-key "$(keyfile "$KB")" listen-port 51502 \
    peer "$(pub "$KA")" allowed-ips 10.98.0.1/32
  up b "qb$TAG" 10.98.0.2/24
  ping_ok a 10.98.0.2 || fail "ping through the wg-quick interface"
  [[ $(nsx a wg show "q$TAG" listen-port) == 51501 ]] || fail "wg-quick's ListenPort"
  # As wireguard-go, the device follows its link: down closes the port and forgets the session,
  # up opens it again and the tunnel comes back with a new handshake.
  ip -n "$TAG-a" link set "q$TAG" down
  for _ in $(seq 40); do [[ -z $(nsx a ss -Hun 'sport = 51501') ]] && break; sleep 0.05; done
  [[ -z $(nsx a ss -Hun 'sport = 51501') ]] || fail "port still open with the link down"
  ip -n "$TAG-a" link set "q$TAG" up
  ip -n "$TAG-a" route replace 10.98.0.0/24 dev "q$TAG"
  ping_ok a 10.98.0.2 || fail "ping after the link went down and up"
  nsx a env WG_QUICK_USERSPACE_IMPLEMENTATION="$ENGINE" wg-quick down "$conf" ||
    fail "wg-quick down"
  gone "$pid" "q$TAG"
else
  echo "(wg-quick or wireguard-go missing: skipped)"
fi
