# e2e lib: what wgnet leaves in the host namespace (links, TUN devices, UAPI sockets, wireguard-go
# processes), tidied at exit, and the removal of what a killed run left. Needs assert.sh (say,
# fail, kill_pid), hub.sh (hub_veth_name), wgnetd.sh (wgnetd_start/stop, WGNETD_LOG/STATE),
# dockerd.sh (DOCKER) and lib.sh's E2E_RUN_DIR, E2E_UAPI_DIR; e2e_init sets E2E_PREFIX, WGNETD,
# E2E_BASE_LEFTOVERS.
# shellcheck shell=bash

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
# A run that was killed

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
  # shellcheck disable=SC2034 # for wgnetd_start (wgnetd.sh)
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
