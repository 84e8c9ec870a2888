# e2e lib: the hub (hub_up) and the hub_* helpers. Needs assert.sh (say, fail, ok, assert_eq,
# defer, retry, kill_pid), lib.sh's E2E_RUN_DIR, E2E_UAPI_DIR; e2e_init sets E2E_PREFIX, E2E_IDX,
# E2E_TMP, WGNET.
# shellcheck shell=bash

HUB_PID=""
declare -A E2E_HUBS=()   # hub NAME -> its HUB_* variables (hub_select NAME)

# The hub: wireguard-go as wg-hub in its own netns, joined to the host by a veth pair
# 198.18.INDEX.1/30 (host side) -- 198.18.INDEX.2/30 (hub side). A scenario may make several
# hubs: the Nth (from 0) gets 198.18.INDEX.(4N+1)/30 -- 198.18.INDEX.(4N+2)/30.

# hub_veth_name N: the host side of the Nth hub's veth (e2e-hubINDEX, then e2e-hubINDEX-N).
hub_veth_name() { if ((${1:-0} == 0)); then echo "e2e-hub$E2E_IDX"; else echo "e2e-hub$E2E_IDX-$1"; fi; }

# hub_up NAME PORT HUB_TUNNEL_CIDR [wgnet hub config options]: makes the hub; with options, its
# peers come from `wgnet hub config OPTIONS --address HUB_TUNNEL_CIDR`. $HUB_MTU, when set, is the
# veth's MTU (the underlay's), else the veth default 1500. The hub's private key is
# $HUB_PRIVATE_KEY when set, else a fresh one. Sets HUB_NS HUB_ADDR HUB_PORT HUB_ENDPOINT HUB_PUB
# HUB_TUNNEL_IP HUB_VETH HUB_HOST_ADDR (the host side of the veth), which the hub_* helpers use;
# after making another hub, `hub_select NAME` makes this one current again.
# shellcheck disable=SC2034 # HUB_* are for the scenarios
hub_up() {
  local slot=${#E2E_HUBS[@]}
  HUB_NS="$E2E_PREFIX-$1"
  HUB_PORT="$2"
  local cidr="$3" name="$1"
  shift 3
  ((slot < 63)) || fail "hub_up: at most 63 hubs per scenario"
  [[ -z "${E2E_HUBS[$name]+set}" ]] || fail "hub_up: a hub '$name' was made already"
  HUB_TUNNEL_IP="${cidr%/*}"
  HUB_VETH="$(hub_veth_name "$slot")"
  HUB_ADDR="198.18.$E2E_IDX.$((4 * slot + 2))"
  HUB_HOST_ADDR="198.18.$E2E_IDX.$((4 * slot + 1))"
  HUB_ENDPOINT="$HUB_ADDR:$HUB_PORT"
  local host_addr="$HUB_HOST_ADDR" route pid_file="$E2E_RUN_DIR/$E2E_PREFIX.$name.pid"
  E2E_HUBS[$name]=""

  say "hub $name: netns $HUB_NS, veth $HUB_VETH $host_addr/30 <-> $HUB_ADDR/30, wg-hub $cidr port $HUB_PORT"
  ! ip -4 route show to match "$HUB_ADDR" | grep -qv '^default' ||
    fail "$HUB_ADDR/30 is already routed on this host: $(ip -4 route show to match "$HUB_ADDR")"

  defer ip netns del "$HUB_NS"
  ip netns add "$HUB_NS"
  defer hub_veth_del "$HUB_VETH"
  ip link add "$HUB_VETH" type veth peer name eth0 netns "$HUB_NS"
  # No IPv6 on the wire: the capture in fail_closed must see only what the tunnel sends.
  sysctl -qw "net.ipv6.conf.$HUB_VETH.disable_ipv6=1"
  ip netns exec "$HUB_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  if [[ -n "${HUB_MTU:-}" ]]; then
    ip link set "$HUB_VETH" mtu "$HUB_MTU"
    ip -n "$HUB_NS" link set eth0 mtu "$HUB_MTU"
  fi
  ip addr add "$host_addr/30" dev "$HUB_VETH"
  ip link set "$HUB_VETH" up
  ip -n "$HUB_NS" addr add "$HUB_ADDR/30" dev eth0
  ip -n "$HUB_NS" link set eth0 up
  ip -n "$HUB_NS" link set lo up

  route="$(ip route get "$HUB_ADDR")"
  [[ "$route" == *" dev $HUB_VETH "* ]] || fail "ip route get $HUB_ADDR: expected dev $HUB_VETH, saw: $route"
  ok "ip route get $HUB_ADDR goes through $HUB_VETH (not eth0/docker0)"

  HUB_KEY_FILE="$E2E_TMP/$name.key"
  (umask 077 && echo "${HUB_PRIVATE_KEY:-$(wg genkey)}" >"$HUB_KEY_FILE")
  HUB_PUB="$(wg pubkey <"$HUB_KEY_FILE")"

  # `ip netns exec` gives the hub a mount namespace of its own (a slave of the host's): a tmpfs
  # there on the UAPI directory keeps wg-hub.sock private, so hubs of other tests or of people
  # working on this machine, all called wg-hub, never meet. `wg` reaches it through nsenter.
  mkdir -p "$E2E_UAPI_DIR"
  # shellcheck disable=SC2016 # $1 is for the inner sh
  ip netns exec "$HUB_NS" sh -c 'mount -t tmpfs -o mode=0755 wgnet-e2e-hub "$1" &&
    exec env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wg-hub' sh \
    "$(readlink -f "$E2E_UAPI_DIR")" >"$E2E_TMP/$name-wireguard-go.log" 2>&1 &
  HUB_PID=$!
  echo "$HUB_PID" >"$pid_file"
  defer hub_down "$HUB_PID" "$pid_file"
  local i
  for i in $(seq 1 50); do
    # Only once wireguard-go runs is HUB_PID in the hub's own mount namespace.
    if [[ "$(cat "/proc/$HUB_PID/comm" 2>/dev/null)" == wireguard-go ]] &&
      hub_wg show wg-hub >/dev/null 2>&1; then break; fi
    kill -0 "$HUB_PID" 2>/dev/null || fail "hub wireguard-go exited: $(cat "$E2E_TMP/$name-wireguard-go.log")"
    sleep 0.2
  done
  hub_wg show wg-hub >/dev/null 2>&1 || fail "hub wireguard-go did not open its wg-hub.sock"
  if (($#)); then
    hub_apply setconf "$@" --address "$cidr"
  else
    hub_wg set wg-hub private-key "$HUB_KEY_FILE" listen-port "$HUB_PORT"
  fi
  ip -n "$HUB_NS" addr add "$cidr" dev wg-hub
  ip -n "$HUB_NS" link set wg-hub up
  assert_eq "hub listens on $HUB_PORT" "$HUB_PORT" "$(hub_wg show wg-hub listen-port)"
  local v
  for v in HUB_NS HUB_PID HUB_PORT HUB_TUNNEL_IP HUB_VETH HUB_ADDR HUB_HOST_ADDR HUB_ENDPOINT \
    HUB_KEY_FILE HUB_PUB; do
    E2E_HUBS[$name]+="$v=$(printf '%q' "${!v}") "
  done
}

# hub_select NAME: the hub_* helpers and HUB_* variables are those of hub NAME again.
hub_select() {
  [[ -n "${E2E_HUBS[$1]:-}" ]] || fail "hub_select: no hub '$1' was made"
  eval "${E2E_HUBS[$1]}"
}

# hub_down PID PID_FILE: stops a hub's wireguard-go.
hub_down() {
  kill_pid "$1"
  rm -f "$2"
}
hub_veth_del() { if ip link show "$1" >/dev/null 2>&1; then ip link del "$1"; fi; }

# wg, in the hub's network and mount namespaces (where its private wg-hub.sock is).
hub_wg() { nsenter -t "$HUB_PID" -m -n wg "$@"; }

# hub_conf FILE [wgnet hub config options]: the hub's full config for `wg setconf`/`syncconf`.
hub_conf() {
  local out="$1"
  shift
  "$WGNET" hub config --format wg --private-key-file "$HUB_KEY_FILE" --listen-port "$HUB_PORT" "$@" >"$out"
}

# hub_apply setconf|syncconf [wgnet hub config options]
hub_apply() {
  local mode="$1" conf="$E2E_TMP/hub-$RANDOM.conf" n
  shift
  hub_conf "$conf" "$@"
  n="$(grep -c '^\[Peer\]' "$conf" || true)"
  say "hub: wg $mode wg-hub with $n peers from: wgnet hub config $*"
  hub_wg "$mode" wg-hub "$conf"
}

# hub_ping IP [TRIES]: the hub reaches a container through the tunnel.
hub_ping() { retry "${2:-3}" ip netns exec "$HUB_NS" ping -c1 -W2 "$1"; }

# hub_peer_field PUBKEY FIELD: one column of `wg show wg-hub FIELD` for that peer (FIELD e.g.
# latest-handshakes, transfer, endpoints, allowed-ips).
hub_peer_field() { hub_wg show wg-hub "$2" | awk -v k="$1" '$1 == k {$1 = ""; sub(/^ /, ""); print}'; }
