# Shared by the engine's shell integration tests (sourced): network namespaces and veths in
# 198.18.0.0/15, wgnet-engine and wireguard-go processes, each removed on exit by a trap (also
# when a test fails); processes are stopped by PID, namespaces and sockets by name. Root only.
#
# The sourcing script sets ENGINE (path of wgnet-engine) first; it may also use WG_LOAD (the
# handshake load generator). Interface names carry the shell's PID so parallel tests never meet
# in /var/run/wireguard.

set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root"
  exit 77
fi
for tool in ip wg ping; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
[[ -x ${ENGINE:-} ]] || { echo "FAIL: wgnet-engine not found at '${ENGINE:-}'"; exit 1; }

TAG="t$$"
NAMESPACES=()
PIDS=()
SOCKETS=()
SCRATCH=$(mktemp -d "/tmp/wgnet-engine-test.XXXXXX")

cleanup() {
  local status=$?
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  for ns in "${NAMESPACES[@]}"; do
    # Daemonized engines (not started with -f) are found by their namespace.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
  done
  sleep 0.2
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for s in "${SOCKETS[@]}"; do rm -f "/var/run/wireguard/$s.sock"; done
  rm -rf "$SCRATCH"
  if [[ $status -eq 0 ]]; then echo "PASS"; else echo "FAIL (status $status)"; fi
  exit "$status"
}
trap cleanup EXIT

say() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# ns_add NAME: a namespace $TAG-NAME with lo up; prints nothing. Use "$TAG-NAME" afterwards.
ns_add() {
  ip netns add "$TAG-$1"
  NAMESPACES+=("$TAG-$1")
  ip -n "$TAG-$1" link set lo up
}

# veth NS1 ADDR1/LEN NS2 ADDR2/LEN: a veth pair between two of our namespaces, up.
veth() {
  local a="$TAG-$1" b="$TAG-$3" ia="v${RANDOM}a" ib="v${RANDOM}b"
  ip link add "$ia" netns "$a" type veth peer name "$ib" netns "$b"
  ip -n "$a" addr add "$2" dev "$ia"
  ip -n "$b" addr add "$4" dev "$ib"
  ip -n "$a" link set "$ia" up
  ip -n "$b" link set "$ib" up
}

# nsx NS CMD...: runs CMD inside namespace $TAG-NS.
nsx() {
  local ns="$TAG-$1"
  shift
  ip netns exec "$ns" "$@"
}

wait_socket() {
  for _ in $(seq 100); do
    [[ -S /var/run/wireguard/$1.sock ]] && return 0
    sleep 0.05
  done
  fail "no UAPI socket for $1"
}

# start_engine NS IFNAME [VAR=VALUE...]: wgnet-engine in the foreground (-f) in the background,
# its PID remembered.
start_engine() {
  local ns=$1 ifname=$2
  shift 2
  SOCKETS+=("$ifname")
  nsx "$ns" env "$@" "$ENGINE" -f "$ifname" &
  PIDS+=($!)
  wait_socket "$ifname"
}

# start_wggo NS IFNAME: Debian's wireguard-go, the same way.
start_wggo() {
  command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go missing"; exit 77; }
  SOCKETS+=("$2")
  nsx "$1" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f "$2" \
    >>"$SCRATCH/wireguard-go.log" 2>&1 &
  PIDS+=($!)
  wait_socket "$2"
}

# up NS IFNAME ADDR/LEN...: addresses on a WireGuard interface, then up.
up() {
  local ns=$1 ifname=$2
  shift 2
  for a in "$@"; do ip -n "$TAG-$ns" addr add "$a" dev "$ifname"; done
  ip -n "$TAG-$ns" link set "$ifname" up
}

key() { wg genkey; }
pub() { wg pubkey <<<"$1"; }
keyfile() {
  local f
  f=$(mktemp "$SCRATCH/key.XXXXXX")
  echo "$1" >"$f"
  echo "$f"
}

# ping_ok NS ADDR [COUNT] [EXTRA...]: true when the pings get through (a handshake may come first).
ping_ok() {
  local ns=$1 addr=$2 count=${3:-3}
  shift 3 2>/dev/null || shift $#
  for _ in 1 2 3; do
    nsx "$ns" ping -q -c "$count" -i 0.2 -W 2 "$@" "$addr" >/dev/null 2>&1 && return 0
  done
  return 1
}

# latest_handshake NS IFNAME: the peer's last handshake (unix seconds) of a one-peer interface.
latest_handshake() { nsx "$1" wg show "$2" latest-handshakes | awk '{print $2}'; }

# assert_route_local NS ADDR: the route to ADDR leaves through one of our veths, never the host's.
assert_route_local() {
  local dev
  dev=$(nsx "$1" ip route get "$2" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  [[ $dev == v*[ab] ]] || fail "route to $2 in $1 goes through '$dev'"
}
