# e2e lib: what ties the others together: e2e_init (checks, traps, dockerd, the run's temporary
# directory), e2e_standard (the usual image, wgnetd, hub and network) and e2e_diagnostics (shown
# when a scenario fails). Needs every other file of lib/ and dockerd.sh.
# shellcheck shell=bash

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
  # shellcheck disable=SC2034 # e2e_new_leftovers (leftovers.sh) compares with it
  E2E_BASE_LEFTOVERS="$(e2e_leftovers)"
  defer e2e_tidy_leftovers
  say "start (wgnet $WGNET, wgnetd $WGNETD, temp $E2E_TMP)"
}

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
