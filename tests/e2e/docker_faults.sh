#!/usr/bin/env bash
# e2e.docker_faults: Docker itself fails. A private dockerd (its own data root, sandboxes and
# containerd; the host's dockerd is not touched) is killed with SIGKILL and restarted:
#  - without --live-restore its containers die, and Docker never tells a socket plugin (no Leave,
#    no DeleteEndpoint): wgnetd notices by itself and removes their devices and wireguard-go
#    processes; the network keeps serving new containers;
#  - with --live-restore a running container keeps its tunnel while dockerd is down and after.
# Usage: docker_faults.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init docker_faults 22 "$@"

DDIR="/var/lib/wgnet-e2e/$E2E_PREFIX"
DRUN="/run/wgnet-e2e/$E2E_PREFIX-docker"
# What a killed run of this scenario left: its dockerd, containerd, containers.
dockerd_private_remove "$DDIR" "$DRUN"
defer dockerd_private_remove "$DDIR" "$DRUN"
start_docker() {
  dockerd_private_start "$DDIR" "$DRUN" "$@" || fail "the private dockerd did not start"
}
# The host's docker0 (when there is one) is not the private dockerd's to touch.
host_docker0="$(docker0_ifindex)"
# (checked at the end: a dockerd with --bridge=none would have deleted it at its start)
start_docker
say "private dockerd (pid $PRIVATE_DOCKERD_PID) on $DOCKER_HOST"

WGNETD_ARGS=(--sweep-interval 1)
e2e_standard 10.22.0 20
wgnetd_fds() { find "/proc/$WGNETD_PID/fd" -mindepth 1 | wc -l; }

# Without --live-restore: the containers die with dockerd's restart.
ctr_run c1 net
ctr_run c2 net
assert_ok "c1 pings the hub" ctr_ping c1 "$HUB_IP"
assert_ok "c2 pings the hub" ctr_ping c2 "$HUB_IP"
devices="$(new_wgnet_ifnames | sort | xargs)"
assert_eq "two devices, one per container" 2 "$(wc -w <<<"$devices")"
dockerd_private_kill
say "dockerd killed; starting it again without --live-restore"
start_docker
assert_eventually "the containers are no longer running" 60 \
  bash -c "[[ -z \"\$($DOCKER ps -q --filter label=wgnet-e2e=$E2E_PREFIX)\" ]]"
no_devices() { [[ -z "$(new_wgnet_ifnames)" && -z "$(e2e_new_leftovers | grep '^process' || true)" ]]; }
assert_eventually "wgnetd removed the dead containers' devices and processes by itself" 20 no_devices
assert_empty "no endpoint left in wgnetd's state" \
  "$(sqlite3 "$WGNETD_STATE/state.db" 'SELECT endpoint_id FROM endpoints')"
dk rm -f "$(ctr_name c1)" "$(ctr_name c2)" >/dev/null
ctr_run c3 net
assert_ok "the network still serves new containers: c3 pings the hub" ctr_ping c3 "$HUB_IP"
dk rm -f "$(ctr_name c3)" >/dev/null
assert_eventually "c3's device goes with it" 20 no_devices

# With --live-restore: a running container keeps its tunnel.
dockerd_private_stop "$DDIR"
start_docker --live-restore
ctr_run c4 net
ip4="$(ctr_ip c4 net)"
assert_ok "c4 ($ip4) pings the hub" ctr_ping c4 "$HUB_IP"
dev4="$(new_wgnet_ifnames)"
dockerd_private_kill
assert_ok "while dockerd is down, the hub still reaches c4 through its tunnel" hub_ping "$ip4"
sleep 3  # several sweeps of wgnetd with dockerd down: c4's namespace is still there
assert_eq "c4's device is still served" "$dev4" "$(new_wgnet_ifnames)"
start_docker --live-restore
assert_eq "c4 is still running after dockerd came back" true \
  "$(dk inspect -f '{{.State.Running}}' "$(ctr_name c4)")"
assert_ok "c4 pings the hub after dockerd came back" ctr_ping c4 "$HUB_IP"
assert_eq "c4 kept the same device" "$dev4" "$(new_wgnet_ifnames)"
dk rm -f "$(ctr_name c4)" >/dev/null
assert_eventually "c4's device goes with it" 20 no_devices
if [[ -n "$host_docker0" ]]; then
  assert_eq "the host's docker0 is still there (same ifindex)" "$host_docker0" \
    "$(docker0_ifindex)"
fi
