#!/usr/bin/env bash
# e2e.restart: wgnetd killed with SIGKILL and started again (same socket, same state): the
# running container keeps (or promptly regains) the hub, is removed cleanly (its device, UAPI
# socket and wireguard-go go away), and a new container joins and reaches the hub. Then an
# orderly restart (SIGTERM, as on an upgrade): the running container keeps its tunnel.
# With the engine backend the engine process carries the tunnel on while wgnetd is stopped, and
# the restarted wgnetd takes it over (e2e.engine_processes times that; e2e.engine_restart times
# the engine inside wgnetd, which stops with it).
# Usage: restart.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init restart 16 "$@"

e2e_standard 10.16.0
ctr_run c1 net
ip1="$(ctr_ip c1 net)"
assert_ok "c1 ($ip1) pings the hub" ctr_ping c1 "$HUB_IP"
c1_ifnames="$(new_wgnet_ifnames)"
say "c1's device(s) in the host namespace's UAPI directory: ${c1_ifnames:-none}"
[[ -n "$c1_ifnames" ]] || fail "no device of c1 found (backend ${WGNETD_BACKEND:-engine}: see new_wgnet_ifnames)"

wgnetd_kill
# The data plane does not depend on the daemon process.
if ctr_ping c1 "$HUB_IP" 2; then say "c1 still reaches the hub while wgnetd is down"; else
  say "note: c1 lost the hub while wgnetd was down"; fi

wgnetd_start
assert_eventually "c1 reaches the hub after the restart" 30 ctr_ping c1 "$HUB_IP" 1
assert_ok "the hub pings c1 after the restart" hub_ping "$ip1"

ctr_run c2 net
ip2="$(ctr_ip c2 net)"
assert_ne "c2 has its own address" "$ip1" "$ip2"
c2_ifnames="$(new_wgnet_ifnames | grep -vxF -f <(printf '%s\n' $c1_ifnames) || true)"
assert_ok "c2 ($ip2), started after the restart, pings the hub" ctr_ping c2 "$HUB_IP"
assert_ok "the hub pings c2" hub_ping "$ip2"

say "docker rm -f c1"
dk rm -f "$(ctr_name c1)" >/dev/null
c1_gone() {
  local ifn left=""
  for ifn in $c1_ifnames; do
    left+="$(e2e_leftovers | grep -F -- "$ifn" || true)"
  done
  [[ -z "$left" ]] || { echo "$left"; return 1; }
}
assert_eventually "c1's device, UAPI socket and wireguard-go are gone" 10 c1_gone
assert_ok "c2 still pings the hub" ctr_ping c2 "$HUB_IP"

wgnetd_stop || fail "wgnetd exited with status $? on SIGTERM"
assert_ok "c2 still reaches the hub while wgnetd is stopped" ctr_ping c2 "$HUB_IP"
wgnetd_start
assert_eventually "c2 reaches the hub after wgnetd restarted from SIGTERM" 10 ctr_ping c2 "$HUB_IP" 1
ctr_run c3 net
assert_ok "c3, started after that, pings the hub" ctr_ping c3 "$HUB_IP"
c3_ifnames="$(new_wgnet_ifnames | grep -vxF -f <(printf '%s\n' $c2_ifnames) || true)"
[[ -n "$c3_ifnames" ]] || fail "no device found for c3"

# A container removed while wgnetd is down: Docker retries DeleteEndpoint for ~30 s, gives up and
# forgets the endpoint; the device comes back to the host namespace. The restarted wgnetd must
# notice (the container's sandbox is gone) and remove the device, its process and socket.
wgnetd_kill
say "docker rm -f c3 while wgnetd is down (Docker retries for about 30 s)"
dk rm -f "$(ctr_name c3)" >/dev/null 2>&1 || true
wgnetd_start
stale_gone() {
  local ifn left=""
  for ifn in $c3_ifnames; do left+="$(e2e_leftovers | grep -F -- "$ifn" || true)"; done
  [[ -z "$left" ]] || { echo "$left"; return 1; }
}
assert_eventually "the device of c3, removed while wgnetd was down, is gone after the restart" 15 stale_gone
assert_ok "c2 still pings the hub" ctr_ping c2 "$HUB_IP"
