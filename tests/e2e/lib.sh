# Sourced by every end-to-end scenario (and by scripts/demo, bench/container_start.sh).
#
# A scenario starts with
#     source "$(dirname "$0")/lib.sh"
#     e2e_init NAME INDEX [WGNET [WGNETD]]
# NAME names everything the scenario makes (networks, containers, netns, socket, driver); INDEX
# (1-250, distinct per scenario) picks its veth link 198.18.INDEX.0/30 between the host and the hub.
# Everything made through these helpers is registered for removal by an EXIT trap that also runs
# when the scenario fails; processes are stopped by PID only. Never sends traffic off the machine:
# tunnel addresses live only in the hub's netns and in containers, the hub behind a 198.18/15 veth.
# shellcheck shell=bash

set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_ROOT="$(cd "$E2E_DIR/../.." && pwd)"
# shellcheck source=tests/e2e/dockerd.sh
source "$E2E_DIR/dockerd.sh"

E2E_IMAGE="wgnet-test:busybox"
E2E_RUN_DIR="/run/wgnet-e2e"   # pid files, to clean up after a run that was killed (ctest timeout)
E2E_PLUGIN_DIR="/run/docker/plugins"
E2E_UAPI_DIR="/var/run/wireguard"
E2E_PYTHON="$(command -v /usr/bin/python3 || command -v python3 || true)"
E2E_CLEANUP=()
E2E_START=$SECONDS
WGNETD_PID=""
WGNETD_ARGS=()
HUB_PID=""
declare -A E2E_HUBS=()   # hub NAME -> its HUB_* variables (hub_select NAME)

# ---------------------------------------------------------------------------------------------
# Output and assertions

say() { printf '[%s +%3ds] %s\n' "${E2E_NAME:-e2e}" $((SECONDS - E2E_START)) "$*"; }
fail() {
  printf '[%s +%3ds] FAIL: %s\n' "${E2E_NAME:-e2e}" $((SECONDS - E2E_START)) "$*" >&2
  exit 1
}
ok() { say "ok   $*"; }

# assert_eq WHAT EXPECTED SEEN
assert_eq() {
  [[ "$2" == "$3" ]] || fail "$1: expected '$2', saw '$3'"
  ok "$1"
}
# assert_ne WHAT UNEXPECTED SEEN
assert_ne() {
  [[ "$2" != "$3" ]] || fail "$1: expected anything but '$2'"
  ok "$1"
}
# assert_contains WHAT TEXT NEEDLE
assert_contains() {
  [[ "$2" == *"$3"* ]] || fail "$1: expected to find '$3' in:"$'\n'"$2"
  ok "$1"
}
# assert_not_contains WHAT TEXT NEEDLE
assert_not_contains() {
  [[ "$2" != *"$3"* ]] || fail "$1: expected no '$3' in:"$'\n'"$2"
  ok "$1"
}
# assert_empty WHAT TEXT
assert_empty() {
  [[ -z "$2" ]] || fail "$1: expected nothing, saw:"$'\n'"$2"
  ok "$1"
}
# assert_ok WHAT CMD...: CMD succeeds (its output is shown when it does not).
assert_ok() {
  local what="$1" out
  shift
  out="$("$@" 2>&1)" || fail "$what: expected success of '$*', it failed with:"$'\n'"$out"
  ok "$what"
}
# assert_fails WHAT CMD...: CMD fails.
assert_fails() {
  local what="$1" out
  shift
  if out="$("$@" 2>&1)"; then fail "$what: expected '$*' to fail, it succeeded:"$'\n'"$out"; fi
  ok "$what"
}
# assert_eventually WHAT SECONDS CMD...: CMD succeeds within SECONDS (retried every second).
assert_eventually() {
  local what="$1" limit="$2" out deadline
  shift 2
  deadline=$((SECONDS + limit))
  until out="$("$@" 2>&1)"; do
    ((SECONDS < deadline)) || fail "$what: '$*' still failing after ${limit}s; last output:"$'\n'"$out"
    sleep 1
  done
  ok "$what"
}

# ---------------------------------------------------------------------------------------------
# Cleanup registry: `defer CMD ARGS...` runs CMD at exit, last registered first.

defer() { E2E_CLEANUP+=("$(printf '%q ' "$@")"); }

e2e_on_exit() {
  local rc=$? i
  set +e
  trap - EXIT INT TERM
  if ((rc != 0)) && declare -F e2e_diagnostics >/dev/null; then e2e_diagnostics; fi
  say "cleaning up"
  for ((i = ${#E2E_CLEANUP[@]} - 1; i >= 0; i--)); do eval "${E2E_CLEANUP[i]}"; done
  if ((rc == 0)); then say "PASS"; else say "FAILED (exit $rc)"; fi
  exit "$rc"
}

# Stops a process we started, by PID: SIGTERM, then SIGKILL after 10 s.
kill_pid() {
  local pid="$1" i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Setup

# e2e_init NAME INDEX [WGNET [WGNETD]]; names are prefixed "$E2E_PREFIX-" (default wgnet-e2e-NAME).
e2e_init() {
  E2E_NAME="$1"
  E2E_IDX="$2"
  WGNET="${3:-${WGNET:-$E2E_ROOT/build/src/cli/wgnet}}"
  WGNETD="${4:-${WGNETD:-$E2E_ROOT/build/src/daemon/wgnetd}}"
  E2E_PREFIX="${E2E_PREFIX:-wgnet-e2e-$E2E_NAME}"
  if ! [[ "$E2E_IDX" =~ ^[0-9]+$ ]] || ((E2E_IDX < 1 || E2E_IDX > 250)); then
    fail "index '$E2E_IDX' not in 1-250"
  fi
  ((EUID == 0)) || fail "must run as root (netns, veth, docker)"
  local t
  for t in ip wg wireguard-go tcpdump timeout nsenter "$DOCKER"; do
    command -v "$t" >/dev/null || fail "'$t' not found; run scripts/install-deps"
  done
  [[ -x "$WGNET" ]] || fail "wgnet CLI not found at $WGNET (build it: scripts/build)"
  export WGNET WGNETD

  trap e2e_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  dockerd_ensure_running
  defer dockerd_stop_if_started
  mkdir -p "$E2E_RUN_DIR"
  e2e_remove_stale
  E2E_TMP="$(mktemp -d "/tmp/$E2E_PREFIX.XXXXXX")"
  defer rm -rf "$E2E_TMP"
  E2E_BASE_LEFTOVERS="$(e2e_leftovers)"
  defer e2e_tidy_leftovers
  say "start (wgnet $WGNET, wgnetd $WGNETD, temp $E2E_TMP)"
}

# What a previous run of this scenario left behind when it was killed (a ctest timeout: no trap
# ran): it carries this scenario's names, so it is ours. Its containers and networks are removed
# through a wgnetd started on its state, as a user would after a crash, so that their devices and
# wireguard-go processes go too; what remains after that is removed directly.
e2e_remove_stale() {
  local f pid ids
  for f in "$E2E_RUN_DIR/$E2E_PREFIX".*.pid; do
    [[ -e "$f" ]] || continue
    pid="$(cat "$f")"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" =~ ^(wgnetd|wireguard-go)$ ]]; then
      say "stale: stopping pid $pid left by a killed run ($f)"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  for f in /tmp/"$E2E_PREFIX".??????; do
    [[ -d "$f" ]] || continue
    if [[ -f "$f/state/state.db" && -x "$WGNETD" ]] &&
      [[ -n "$("$DOCKER" ps -aq --filter "label=wgnet-e2e=$E2E_PREFIX")$(e2e_stale_network_names)" ]]; then
      say "stale: a killed run left $f; a wgnetd on its state removes its containers and networks"
      (e2e_recover "$f") || say "warning: that did not work out; see $f/wgnetd.log"
    fi
    rm -rf "$f"
  done
  ids="$("$DOCKER" ps -aq --filter "label=wgnet-e2e=$E2E_PREFIX")"
  if [[ -n "$ids" ]]; then
    say "stale: removing containers of a killed run"
    # shellcheck disable=SC2086
    "$DOCKER" rm -f $ids >/dev/null 2>&1 || true
  fi
  for f in $(ip netns list | awk -v p="$E2E_PREFIX-" 'index($1, p) == 1 {print $1}'); do
    say "stale: deleting netns $f"
    ip netns del "$f" || true
  done
  for f in $(ip -o link show | awk -F': ' -v v="$(hub_veth_name 0)" \
    '{sub(/@.*/, "", $2)} $2 == v || index($2, v "-") == 1 {print $2}'); do
    say "stale: deleting link $f"
    ip link del "$f" || true
  done
}

# In a subshell: wgnetd on the state of a killed run in DIR removes that run's containers and networks.
e2e_recover() {
  E2E_TMP="$1" WGNETD_STATE="$1/state" WGNETD_SEEDS="$1/seeds" WGNETD_PID=""
  trap 'kill_pid "$WGNETD_PID"' EXIT
  wgnetd_start
  local ids
  ids="$("$DOCKER" ps -aq --filter "label=wgnet-e2e=$E2E_PREFIX")"
  # shellcheck disable=SC2086
  if [[ -n "$ids" ]]; then timeout 120 "$DOCKER" rm -f $ids >/dev/null; fi
  e2e_remove_stale_networks
  wgnetd_stop
}

e2e_stale_network_names() { "$DOCKER" network ls --format '{{.Name}}' | grep "^$E2E_PREFIX-" || true; }
e2e_remove_stale_networks() {
  local n
  for n in $(e2e_stale_network_names); do
    say "stale: removing network $n"
    timeout 60 "$DOCKER" network rm "$n" >/dev/null 2>&1 || say "warning: could not remove stale network $n"
  done
}

# ---------------------------------------------------------------------------------------------
# What wgnet leaves in the host namespace: links, TUN devices, UAPI sockets, wireguard-go processes.

wgnet_links() { ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep '^wgnet-' || true; }
tun_links() {
  local d
  for d in /sys/class/net/*; do [[ -e "$d/tun_flags" ]] && echo "${d##*/}"; done
  return 0
}
wgnet_uapi_sockets() { compgen -G "$E2E_UAPI_DIR/wgnet-*.sock" || true; }
# "PID IFNAME" of each wireguard-go process whose command line names a wgnet-* interface.
wgnet_wg_go_procs() {
  local p args a
  for p in /proc/[0-9]*; do
    [[ "$(cat "$p/comm" 2>/dev/null)" == wireguard-go ]] || continue
    args="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" || continue
    for a in $args; do
      if [[ "$a" == wgnet-* ]]; then echo "${p#/proc/} $a"; fi
    done
  done
  return 0
}
# One line per device this scenario's wgnetd serves from the host namespace: its wireguard-go
# process (external), else its name (new_wgnet_ifnames: the engine's UAPI socket).
served_devices() {
  if [[ "${WGNETD_BACKEND:-engine}" == external ]]; then
    wgnet_wg_go_procs
  else
    new_wgnet_ifnames
  fi
}
e2e_leftovers() {
  wgnet_links | sed 's/^/link /'
  tun_links | sed 's/^/tun /'
  wgnet_uapi_sockets | sed 's/^/socket /'
  wgnet_wg_go_procs | sed 's/^/process /'
}
# Interface names of the wgnet-* UAPI sockets that appeared since the scenario started: one per
# device, served by wireguard-go (external) or by wgnetd's engine (engine), in the host namespace.
# Kernel devices have no UAPI socket (and inside a container they are called wg0): with the
# kernel backend (or auto, which picks it where it runs), the names are those of the endpoints in
# this scenario's wgnetd state.
new_wgnet_ifnames() {
  case "${WGNETD_BACKEND:-engine}" in
    external | engine) ;;
    *)
      wgnetd_state_ifnames
      return
      ;;
  esac
  e2e_new_leftovers | awk '$1 == "socket" {sub(/.*\//, "", $2); sub(/\.sock$/, "", $2); print $2}'
}
wgnetd_state_ifnames() {
  sqlite3 -cmd ".timeout 5000" "$WGNETD_STATE/state.db" "SELECT ifname FROM endpoints ORDER BY ifname;"
}
# one_new_wgnet_ifname WHO: the one wgnet-* device (by its UAPI socket) that appeared since the
# scenario started, WHO's (fails unless there is exactly one).
one_new_wgnet_ifname() {
  local ifname
  ifname="$(new_wgnet_ifnames)"
  [[ "$ifname" =~ ^wgnet-[0-9a-f]{8}$ ]] || fail "expected one UAPI socket wgnet-<8 hex>.sock for $1, saw '$ifname'"
  echo "$ifname"
}
# Lines of e2e_leftovers that were not there when the scenario started.
# Only devices of this scenario's own wgnetd count (it logs every device it creates): a wgnet
# network live on this host, or another test, can make devices meanwhile, and those are never
# reported, let alone removed.
e2e_new_leftovers() {
  local own
  own="$(own_ifnames)"
  comm -13 <(sort <<<"$E2E_BASE_LEFTOVERS") <(e2e_leftovers | sort) | grep -v '^$' |
    OWN="$own" awk 'BEGIN {n = split(ENVIRON["OWN"], a, "\n"); for (i = 1; i <= n; i++) mine[a[i]] = 1}
      {name = $NF; sub(/.*\//, "", name); sub(/\.sock$/, "", name); if (name in mine) print}' || true
}
# The device names this scenario's wgnetd made, from its log.
own_ifnames() {
  [[ -n "${WGNETD_LOG:-}" && -f "$WGNETD_LOG" ]] || return 0
  grep -oE '\bwgnet-[0-9a-f]{8}\b' "$WGNETD_LOG" | sort -u || true
}

# At exit: what the wgnetd this scenario ran left behind is reported and removed (processes by PID).
e2e_tidy_leftovers() {
  local new kind what
  new="$(e2e_new_leftovers)"
  [[ -n "$new" ]] || return 0
  say "warning: left behind by wgnetd (removing):"$'\n'"$new"
  while read -r kind what _; do
    case "$kind" in
      process) kill_pid "$what" ;;
    esac
  done <<<"$new"
  while read -r kind what; do
    case "$kind" in
      link) ip link del "$what" 2>/dev/null || true ;;
      socket) [[ -S "$what" ]] && rm -f "$what" ;;
    esac
  done <<<"$new"
}

# ---------------------------------------------------------------------------------------------
# Test image

build_image() {
  if "$DOCKER" image inspect "$E2E_IMAGE" >/dev/null 2>&1; then return 0; fi
  if ! [[ -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then
    fail "/bin/busybox from busybox-static missing (run scripts/install-deps)"
  fi
  say "building $E2E_IMAGE from /bin/busybox"
  local root a
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in sh ip ping sleep cat ls wget nc ifconfig route true echo grep sed awk ps hostname \
    netstat cut head tail wc; do
    ln -s busybox "$root/bin/$a"
  done
  tar -C "$root" -c . | "$DOCKER" import -m "wgnet e2e test image (busybox-static)" - "$E2E_IMAGE" >/dev/null
  rm -rf "$root"
}

# ---------------------------------------------------------------------------------------------
# Docker helpers. Names are "$E2E_PREFIX-SHORT"; containers carry label wgnet-e2e=$E2E_PREFIX.

dk() { timeout 180 "$DOCKER" "$@"; }
net_name() { echo "$E2E_PREFIX-$1"; }
ctr_name() { echo "$E2E_PREFIX-$1"; }

net_rm() {
  "$DOCKER" network inspect "$1" >/dev/null 2>&1 || return 0
  timeout 60 "$DOCKER" network rm "$1" >/dev/null || say "warning: could not remove network $1"
}
ctr_rm() {
  "$DOCKER" container inspect "$1" >/dev/null 2>&1 || return 0
  timeout 60 "$DOCKER" rm -f "$1" >/dev/null || say "warning: could not remove container $1"
}

# net_create SHORT [docker network create options]: a network of this scenario's driver.
net_create() {
  local name out
  name="$(net_name "$1")"
  shift
  defer net_rm "$name"
  say "docker network create -d $E2E_DRIVER $* $name"
  out="$(dk network create -d "$E2E_DRIVER" "$@" "$name" 2>&1)" ||
    fail "docker network create $name failed: $out"
}

# net_create_fails SHORT [docker network create options]: the network is refused, and docker
# does not list it. Sets NET_CREATE_ERROR to what `docker network create` said.
net_create_fails() {
  local name
  name="$(net_name "$1")"
  shift
  defer net_rm "$name"
  say "docker network create -d $E2E_DRIVER $* $name (must fail)"
  if NET_CREATE_ERROR="$(dk network create -d "$E2E_DRIVER" "$@" "$name" 2>&1)"; then
    fail "docker network create $name succeeded, expected a refusal"
  fi
  say "  -> $NET_CREATE_ERROR"
  assert_not_contains "docker network ls does not list $name" "$(dk network ls --format '{{.Name}}')" "$name"
}

# ctr_run SHORT NET_SHORT: a long-running container on that network.
ctr_run() {
  local name out
  name="$(ctr_name "$1")"
  defer ctr_rm "$name"
  out="$(dk run -d --name "$name" --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name "$2")" \
    "$E2E_IMAGE" sleep 3600 2>&1)" || fail "docker run $name on network $(net_name "$2") failed: $out"
}

# ctr_run_parallel NET_SHORT SHORT...: several containers started at the same time.
ctr_run_parallel() {
  local net="$1" c pids=() i=0 out
  shift
  for c in "$@"; do
    defer ctr_rm "$(ctr_name "$c")"
    dk run -d --name "$(ctr_name "$c")" --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name "$net")" \
      "$E2E_IMAGE" sleep 3600 >"$E2E_TMP/run-$c.out" 2>&1 &
    pids+=($!)
  done
  for c in "$@"; do
    if ! wait "${pids[i]}"; then
      out="$(cat "$E2E_TMP/run-$c.out")"
      fail "docker run $(ctr_name "$c") (one of $# started at once) failed: $out"
    fi
    i=$((i + 1))
  done
}

# ctr_ip SHORT NET_SHORT [FIELD]: the container's IPAM address on that network (FIELD of docker
# inspect's network entry, default IPAddress); ctr_ip6: its IPv6 address.
ctr_ip() {
  local ip
  ip="$(dk inspect -f "{{(index .NetworkSettings.Networks \"$(net_name "$2")\").${3:-IPAddress}}}" "$(ctr_name "$1")")"
  [[ -n "$ip" ]] || fail "container $1 has no ${3:-IPAddress} on network $2"
  echo "$ip"
}
ctr_ip6() { ctr_ip "$1" "$2" GlobalIPv6Address; }
ctr_exec() {
  local c
  c="$(ctr_name "$1")"
  shift
  dk exec "$c" "$@"
}

# ctr_ping SHORT IP [TRIES]: one ping from inside the container answered within TRIES attempts.
ctr_ping() { retry "${3:-3}" ctr_exec "$1" ping -c1 -W2 "$2"; }
# retry N CMD...: CMD succeeds within N attempts; quiet, but shows the last output when it does not.
retry() {
  local n="$1" i out
  shift
  for ((i = 1; i <= n; i++)); do
    if out="$("$@" 2>&1)"; then return 0; fi
  done
  printf '%s\n' "$out" >&2
  return 1
}

# ---------------------------------------------------------------------------------------------
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

# e2e_standard NET24 [LAST [docker network create options]]: the usual setup: the image, wgnetd,
# a seed file ($SEED), the hub at NET24.254 ($HUB_IP) with peers for NET24.1-NET24.LAST (default
# 10), and network "net" on NET24.0/24 (with those options too). $NET_OPTS holds the -o options
# that point a network at this hub with this seed.
# shellcheck disable=SC2034 # SEED, NET_OPTS are for the scenarios
e2e_standard() {
  local p="$1" last="${2:-10}"
  shift $(($# < 2 ? $# : 2))
  build_image
  wgnetd_start
  SEED="$(make_seed_file seed)"
  HUB_IP="$p.254"
  hub_up hub 51820 "$HUB_IP/24" --seed-file "$SEED" --subnet "$p.0/24" --range "$p.1-$p.$last"
  NET_OPTS=(-o wgnet.endpoint="$HUB_ENDPOINT" -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file="$SEED")
  net_create net --subnet "$p.0/24" --gateway "$HUB_IP" "${NET_OPTS[@]}" "$@"
}

# ---------------------------------------------------------------------------------------------
# wgnetd under test: its own socket (driver name = socket basename), state and seed directories.

# wgnetd_start: options from $WGNETD_BACKEND (default engine) and $WGNETD_ARGS (more options, an
# array). Sets WGNETD_PID, E2E_DRIVER, WGNETD_SOCK, WGNETD_LOG,
# WGNETD_STATE, WGNETD_SEEDS, WGNETD_ADMIN_SOCKET (exported). A second call (restart) reuses socket
# and directories.
wgnetd_start() {
  [[ -x "$WGNETD" ]] || fail "wgnetd not found at $WGNETD (build it: scripts/build)"
  E2E_DRIVER="${E2E_DRIVER:-$E2E_PREFIX}"
  WGNETD_SOCK="$E2E_PLUGIN_DIR/$E2E_DRIVER.sock"
  WGNETD_LOG="$E2E_TMP/wgnetd.log"
  # Its admin socket is this scenario's own (never the host's /run/wgnet/admin.sock); `wgnet status`
  # finds it through the same variable.
  export WGNETD_ADMIN_SOCKET="$E2E_TMP/admin.sock"
  local first="" rc
  if [[ -z "${WGNETD_STATE:-}" ]]; then
    first=1
    WGNETD_STATE="$E2E_TMP/state"
    WGNETD_SEEDS="$E2E_TMP/seeds"
    mkdir -p "$WGNETD_STATE" "$E2E_PLUGIN_DIR"
    mkdir -m 700 "$WGNETD_SEEDS"
    # A socket of this name left by a killed run of this scenario.
    rm -f "$WGNETD_SOCK"
    defer rm -f "$WGNETD_SOCK"
    defer wgnetd_cleanup
  fi
  say "starting wgnetd --socket $WGNETD_SOCK --backend ${WGNETD_BACKEND:-engine}"
  echo "---- wgnetd start $(date +%T)" >>"$WGNETD_LOG"
  "$WGNETD" --socket "$WGNETD_SOCK" --state-dir "$WGNETD_STATE" --seed-dir "$WGNETD_SEEDS" \
    --backend "${WGNETD_BACKEND:-engine}" --log-level debug "${WGNETD_ARGS[@]}" \
    >>"$WGNETD_LOG" 2>&1 &
  WGNETD_PID=$!
  echo "$WGNETD_PID" >"$E2E_RUN_DIR/$E2E_PREFIX.wgnetd.pid"
  local deadline=$((SECONDS + 20))
  until plugin_activate "$WGNETD_SOCK" >/dev/null 2>&1; do
    if ! kill -0 "$WGNETD_PID" 2>/dev/null; then
      wait "$WGNETD_PID" && rc=0 || rc=$?
      WGNETD_PID=""
      fail "wgnetd exited (status $rc) before serving $WGNETD_SOCK; log:"$'\n'"$(tail -30 "$WGNETD_LOG")"
    fi
    ((SECONDS < deadline)) || fail "wgnetd does not answer /Plugin.Activate on $WGNETD_SOCK after 20 s"
    sleep 0.2
  done
  local answer
  answer="$(plugin_activate "$WGNETD_SOCK")"
  assert_contains "wgnetd (pid $WGNETD_PID) answers /Plugin.Activate" "$answer" NetworkDriver
  if [[ -n "$first" ]]; then e2e_remove_stale_networks; fi
}

# POSTs /Plugin.Activate on a unix socket, prints the body (fails when nothing answers).
plugin_activate() {
  [[ -S "$1" ]] || return 1
  "$E2E_PYTHON" - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n"
          b"Accept: application/vnd.docker.plugins.v1.2+json\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0]:
    sys.exit(1)
print(body.decode(errors="replace"))
PY
}

# Kills wgnetd hard, like a crash: its socket file stays.
wgnetd_kill() {
  say "killing wgnetd (pid $WGNETD_PID) with SIGKILL"
  kill -KILL "$WGNETD_PID"
  wait "$WGNETD_PID" 2>/dev/null || true
  WGNETD_PID=""
}

# Stops wgnetd with SIGTERM; returns its exit status (fails if it does not stop in 20 s).
wgnetd_stop() {
  local pid="$WGNETD_PID" i rc=0
  say "stopping wgnetd (pid $pid) with SIGTERM"
  kill -TERM "$pid"
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && fail "wgnetd (pid $pid) still running 20 s after SIGTERM"
  wait "$pid" || rc=$?
  WGNETD_PID=""
  rm -f "$E2E_RUN_DIR/$E2E_PREFIX.wgnetd.pid"
  return "$rc"
}

wgnetd_cleanup() {
  kill_pid "$WGNETD_PID"
  rm -f "$E2E_RUN_DIR/$E2E_PREFIX.wgnetd.pid"
}

# A fresh seed file in wgnetd's seed directory: prints its path.
make_seed_file() {
  local f="$WGNETD_SEEDS/${1:-seed}"
  head -c 32 /dev/urandom >"$f"
  chmod 600 "$f"
  echo "$f"
}

# On failure, before cleanup: what the daemon and the hub said.
e2e_diagnostics() {
  if [[ -n "${WGNETD_LOG:-}" && -f "$WGNETD_LOG" ]]; then
    echo "----- last 60 lines of $WGNETD_LOG"
    tail -60 "$WGNETD_LOG"
  fi
  local h
  for h in "${!E2E_HUBS[@]}"; do
    (
      if [[ -n "${E2E_HUBS[$h]}" ]]; then hub_select "$h"; fi # else the hub being made
      if [[ -n "$HUB_PID" ]] && kill -0 "$HUB_PID" 2>/dev/null; then
        echo "----- hub $h: wg show wg-hub"
        hub_wg show wg-hub 2>&1 | head -60
      fi
    )
  done
  echo "----- host: wgnet leftovers"
  e2e_leftovers
  echo "-----"
} >&2
