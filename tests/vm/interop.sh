#!/usr/bin/env bash
# vm.interop (runs inside the VM, or on any host whose kernel has WireGuard): kernel WireGuard,
# made and configured by wgnet's kernel backend (wgnet_vm_kernel_device), against another
# implementation in a second network namespace, over a veth pair 198.18.250.1/30 -- .2/30:
# each side initiates the handshake once (the other side then has no endpoint for it, so it
# cannot be the initiator), and traffic flows both ways (pings of several sizes, 1 MiB of TCP
# each way, checked by SHA-256). Both sides' counters are read back, the kernel's through wgnet's
# own decoder.
#
# The other implementations (PEER_KINDS): Debian's wireguard-go, and wgnet's own engine
# (wgnet-engine, when its path is given). With the engine a third round checks a rekey: the
# engine, initiator of the session, runs with a shortened REKEY_AFTER_TIME (its test-only
# WGNET_ENGINE_TEST_TIMINGS; the kernel's constants stay as they are) and starts a new handshake
# on a live session; the kernel answers it and traffic carries on through the new keys.
#
# Usage: interop.sh KERNEL_DEVICE_TOOL [WGNET_ENGINE]
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

KDEV="${1:?usage: interop.sh PATH/wgnet_vm_kernel_device [PATH/wgnet-engine]}"
ENGINE="${2:-}"
NS_K=wgnet-vm-kernel
NS_P=wgnet-vm-peer
ADDR_K=198.18.250.1
ADDR_P=198.18.250.2
PORT_K=51820
PORT_P=51821
TUN_K=10.250.0.1
TUN_P=10.250.0.2
PEER_KINDS=(wireguard-go)
# The engine's rekey round: it initiates a new handshake 20 s into a session it initiated.
ENGINE_REKEY_AFTER=20
START=$SECONDS
TMP=""
PEER_PID=""
CURRENT=""

say() { printf '[interop %s +%3ds] %s\n' "$CURRENT" $((SECONDS - START)) "$*"; }
fail() {
  say "FAIL: $*" >&2
  exit 1
}
ok() { say "ok   $*"; }

cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)); then diagnostics >&2; fi
  stop_peer
  ip netns del "$NS_K" 2>/dev/null
  ip netns del "$NS_P" 2>/dev/null
  [[ -n "$TMP" ]] && rm -rf "$TMP"
  if ((rc == 0)); then say "PASS"; else say "FAILED (exit $rc)"; fi
  exit "$rc"
}
diagnostics() {
  echo "----- kernel side ($NS_K)"
  ip netns exec "$NS_K" wg show 2>&1 | head -20
  echo "----- peer side ($NS_P)"
  if [[ -n "$PEER_PID" ]]; then nsenter -t "$PEER_PID" -m -n wg show 2>&1 | head -20; fi
  [[ -n "$TMP" ]] && tail -20 "$TMP"/peer-*.log 2>/dev/null
}

((EUID == 0)) || fail "must run as root"
for t in ip wg wireguard-go python3 nsenter; do
  command -v "$t" >/dev/null || fail "'$t' not found; run scripts/install-deps"
done
[[ -x "$KDEV" ]] || fail "$KDEV not found (build it: scripts/build)"
if [[ -n "$ENGINE" ]]; then
  [[ -x "$ENGINE" ]] || fail "$ENGINE not found (build it: WGNET_TEST_HOOKS=ON scripts/build)"
  [[ $("$ENGINE" --version) == *"test hooks"* ]] ||
    fail "$ENGINE has no test hooks (shortened timers): build it with WGNET_TEST_HOOKS=ON scripts/build"
  PEER_KINDS+=(engine)
fi
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TMP="$(mktemp -d /tmp/wgnet-vm-interop.XXXXXX)"

# Two namespaces on a veth pair. In a VM these are the only links there are; on a host they are
# the test's own, and `ip route get` must go through them.
setup_wire() {
  ip netns add "$NS_K"
  ip netns add "$NS_P"
  ip link add veth0 netns "$NS_K" type veth peer name veth0 netns "$NS_P"
  ip -n "$NS_K" addr add "$ADDR_K/30" dev veth0
  ip -n "$NS_P" addr add "$ADDR_P/30" dev veth0
  local ns
  for ns in "$NS_K" "$NS_P"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
  done
  [[ "$(ip -n "$NS_K" route get "$ADDR_P")" == *" dev veth0 "* ]] || fail "no route to $ADDR_P over veth0"
}

key_pair() {
  (umask 077 && wg genkey >"$TMP/$1.key")
  wg pubkey <"$TMP/$1.key" >"$TMP/$1.pub"
}

# kernel_up ENDPOINT|-: the kernel device wg0 in NS_K, by wgnet's kernel backend.
kernel_up() {
  ip -n "$NS_K" link del wg0 2>/dev/null || true
  ip netns exec "$NS_K" "$KDEV" up wg0 "$TMP/k.key" "$PORT_K" "$(cat "$TMP/p.pub")" "$TUN_P/32" "$1" 0
  ip -n "$NS_K" addr add "$TUN_K/24" dev wg0
  ip -n "$NS_K" link set wg0 up
  [[ "$(ip -n "$NS_K" -d link show wg0)" == *wireguard* ]] || fail "wg0 in $NS_K is not a kernel WireGuard link"
}
kernel_show() { ip netns exec "$NS_K" "$KDEV" show wg0; }

# ---- a userspace implementation in NS_P with a private /var/run/wireguard (mount namespace of
# its own): peer_up_userspace NAME ENDPOINT|- COMMAND... (COMMAND creates wg0 and stays in the
# foreground).
peer_up_userspace() {
  local name="$1" endpoint="$2"
  shift 2
  stop_peer
  # shellcheck disable=SC2016 # $1 is for the inner sh
  ip netns exec "$NS_P" sh -c 'mount -t tmpfs -o mode=0755 wgnet-vm-interop "$1" && shift && exec "$@"' sh \
    "$(mkdir -p /var/run/wireguard && readlink -f /var/run/wireguard)" "$@" >"$TMP/peer-$name.log" 2>&1 &
  PEER_PID=$!
  local i
  for i in $(seq 1 100); do
    if [[ "$(readlink "/proc/$PEER_PID/exe" 2>/dev/null)" != */sh ]] && peer_wg show wg0 >/dev/null 2>&1; then break; fi
    kill -0 "$PEER_PID" 2>/dev/null || fail "$name exited: $(cat "$TMP/peer-$name.log")"
    sleep 0.2
  done
  peer_wg show wg0 >/dev/null || fail "$name did not open its UAPI socket"
  local args=(peer "$(cat "$TMP/k.pub")" allowed-ips "$TUN_K/32")
  [[ "$endpoint" == - ]] || args+=(endpoint "$endpoint")
  peer_wg set wg0 private-key "$TMP/p.key" listen-port "$PORT_P" "${args[@]}"
  ip -n "$NS_P" addr add "$TUN_P/24" dev wg0
  ip -n "$NS_P" link set wg0 up
}
peer_up_wireguard-go() {
  peer_up_userspace wireguard-go "$1" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wg0
}
peer_up_engine() {
  peer_up_userspace engine "$1" env LOG_LEVEL=error \
    WGNET_ENGINE_TEST_TIMINGS="rekey_after_time=${ENGINE_REKEY_AFTER}s" "$ENGINE" -f wg0
}
# "HANDSHAKE_SEC RX TX" of the peer's only peer (the kernel side).
peer_show_wireguard-go() { peer_wg show wg0 dump | awk 'NR == 2 {print $5, $6, $7}'; }
peer_show_engine() { peer_show_wireguard-go; }
peer_wg() { nsenter -t "$PEER_PID" -m -n wg "$@"; }

stop_peer() {
  [[ -n "$PEER_PID" ]] || return 0
  kill -TERM "$PEER_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$PEER_PID" 2>/dev/null || true
  wait "$PEER_PID" 2>/dev/null || true
  PEER_PID=""
  ip -n "$NS_P" link del wg0 2>/dev/null || true
}

# ---- checks
# ping_from NS DST: pings of several sizes (the largest fills the 1420-byte MTU), no fragments.
ping_from() {
  local ns="$1" dst="$2" size
  for size in 56 1000 1392; do
    ip netns exec "$ns" ping -c 2 -W 3 -M do -s "$size" "$dst" >/dev/null ||
      fail "ping -s $size from $ns to $dst failed"
  done
}

# tcp_transfer FROM_NS TO_NS TO_ADDR: 1 MiB of random bytes over TCP, checked by SHA-256.
tcp_transfer() {
  local from="$1" to="$2" addr="$3" sent got
  head -c 1048576 /dev/urandom >"$TMP/data"
  sent="$(sha256sum <"$TMP/data" | cut -d' ' -f1)"
  ip netns exec "$to" python3 - "$addr" >"$TMP/received" <<'PY' &
import hashlib, socket, sys
s = socket.create_server((sys.argv[1], 5001))
s.settimeout(60)
c, _ = s.accept()
c.settimeout(60)
h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
print(h.hexdigest())
PY
  local server=$! i
  for i in $(seq 1 50); do
    ip netns exec "$to" ss -ltn 2>/dev/null | grep -q ":5001 " && break
    sleep 0.2
  done
  ip netns exec "$from" python3 - "$addr" "$TMP/data" <<'PY' || fail "TCP send from $from to $addr failed"
import socket, sys
c = socket.create_connection((sys.argv[1], 5001), timeout=60)
with open(sys.argv[2], "rb") as f:
    c.sendall(f.read())
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
PY
  wait "$server" || fail "TCP receiver in $to failed"
  got="$(cat "$TMP/received")"
  assert_eq "1 MiB over TCP from $from to $to arrives intact" "$sent" "$got"
}
assert_eq() {
  [[ "$2" == "$3" ]] || fail "$1: expected '$2', saw '$3'"
  ok "$1"
}

# handshake_seen KIND: both sides report a handshake and bytes both ways for their one peer.
handshake_seen() {
  local kind="$1" k p
  k="$(kernel_show | awk '$1 == "peer" {print $4, $5, $6}')"
  p="$("peer_show_$kind")"
  say "kernel side (wgnet's decoder): handshake rx tx = $k; $kind side: $p"
  local hs rx tx
  read -r hs rx tx <<<"$k"
  ((hs > 0 && rx > 0 && tx > 0)) || fail "kernel side: no handshake or no traffic ($k)"
  read -r hs rx tx <<<"$p"
  ((hs > 0 && rx > 0 && tx > 0)) || fail "$kind side: no handshake or no traffic ($p)"
  ok "both sides have a handshake and counted bytes both ways"
}

setup_wire
key_pair k
key_pair p
for kind in "${PEER_KINDS[@]}"; do
  CURRENT="kernel<->$kind"
  say "round 1: the kernel side initiates ($kind has no endpoint for it)"
  kernel_up "$ADDR_P:$PORT_P"
  "peer_up_$kind" -
  kernel_show | grep -q "^$(cat "$TMP/k.pub") $PORT_K\$" ||
    fail "the kernel device does not report the public key of its private key and port $PORT_K: $(kernel_show)"
  ok "kernel wg0: wgnet's decoder reads back the key pair and port"
  ping_from "$NS_K" "$TUN_P"
  ok "kernel -> $kind: pings of 56, 1000 and 1392 bytes"
  ping_from "$NS_P" "$TUN_K"
  ok "$kind -> kernel: pings of 56, 1000 and 1392 bytes"
  tcp_transfer "$NS_K" "$NS_P" "$TUN_P"
  tcp_transfer "$NS_P" "$NS_K" "$TUN_K"
  handshake_seen "$kind"

  say "round 2: $kind initiates (the kernel side has no endpoint for it; both start afresh)"
  kernel_up -
  "peer_up_$kind" "$ADDR_K:$PORT_K"
  ping_from "$NS_P" "$TUN_K"
  ok "$kind -> kernel: pings of 56, 1000 and 1392 bytes"
  ping_from "$NS_K" "$TUN_P"
  ok "kernel -> $kind: pings of 56, 1000 and 1392 bytes"
  tcp_transfer "$NS_P" "$NS_K" "$TUN_K"
  tcp_transfer "$NS_K" "$NS_P" "$TUN_P"
  handshake_seen "$kind"
  endpoint="$(kernel_show | awk '$1 == "peer" {print $3}')"
  assert_eq "the kernel side learnt $kind's endpoint from its handshake" "$ADDR_P:$PORT_P" "$endpoint"
  if [[ "$kind" == engine ]]; then
    say "round 3: the engine, initiator of this session, rekeys it after ${ENGINE_REKEY_AFTER} s"
    first="$(kernel_show | awk '$1 == "peer" {print $4}')"
    rekeyed=""
    for _ in $(seq 1 $((ENGINE_REKEY_AFTER + 40))); do
      # Traffic from the engine's side: REKEY_AFTER_TIME is checked when it sends.
      ip netns exec "$NS_P" ping -c 1 -W 1 "$TUN_K" >/dev/null 2>&1 || true
      now="$(kernel_show | awk '$1 == "peer" {print $4}')"
      if ((now > first)); then
        rekeyed=$now
        break
      fi
      sleep 1
    done
    [[ -n "$rekeyed" ]] || fail "no new handshake $((ENGINE_REKEY_AFTER + 40)) s into the session (first at $first)"
    ok "the kernel answered the engine's rekey ($((rekeyed - first)) s after the first handshake)"
    ping_from "$NS_P" "$TUN_K"
    ping_from "$NS_K" "$TUN_P"
    tcp_transfer "$NS_K" "$NS_P" "$TUN_P"
    ok "traffic both ways on the new keys"
  fi
  stop_peer
done
CURRENT=""
