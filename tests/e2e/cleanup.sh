#!/usr/bin/env bash
# e2e.cleanup: while containers run, one device is served per running container (a wireguard-go
# process with the external backend, a UAPI socket of the engine with the engine backend), and a
# stopped container's goes; once every container and network of a run is removed, the host
# namespace holds no wgnet-* link, no new TUN device, no wgnet-* UAPI socket and no wireguard-go
# serving a wgnet-* interface; wgnetd stops on SIGTERM and removes its socket.
# Usage: cleanup.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init cleanup 17 "$@"

e2e_standard 10.17.0
net_create net2 --subnet 10.17.1.0/24 --gateway 10.17.1.254 "${NET_OPTS[@]}"
ctr_run c1 net
ctr_run c2 net
ctr_run c3 net2
ctr_run c4 net
assert_ok "c1 pings the hub" ctr_ping c1 "$HUB_IP"
assert_ok "c2 pings the hub" ctr_ping c2 "$HUB_IP"
say "while 4 containers run, wgnet's devices in the host namespace:"$'\n'"$(e2e_new_leftovers)"
served="engine UAPI socket"
if [[ "${WGNETD_BACKEND:-engine}" == external ]]; then served="wireguard-go process"; fi
assert_eq "one $served per running container" 4 "$(served_devices | wc -l)"

say "docker stop c4"
dk stop -t 1 "$(ctr_name c4)" >/dev/null
assert_eventually "a stopped container's $served goes away" 10 test "$(served_devices | wc -l)" -eq 3

say "removing every container and network"
for c in c1 c2 c3 c4; do dk rm -f "$(ctr_name "$c")" >/dev/null; done
for n in net net2; do dk network rm "$(net_name "$n")" >/dev/null; done

assert_empty "no wgnet-* link in the host namespace" "$(wgnet_links)"
assert_empty "no TUN device that was not there before" "$(e2e_new_leftovers | grep '^tun ' || true)"
assert_empty "no UAPI socket $E2E_UAPI_DIR/wgnet-*.sock" "$(wgnet_uapi_sockets)"
assert_empty "no wireguard-go process serving a wgnet-* interface" "$(wgnet_wg_go_procs)"

pid="$WGNETD_PID"
wgnetd_stop || fail "wgnetd exited with status $? after SIGTERM; log:"$'\n'"$(tail -20 "$WGNETD_LOG")"
ok "wgnetd (pid $pid) exited with status 0 on SIGTERM"
[[ ! -e "$WGNETD_SOCK" ]] || fail "wgnetd's socket $WGNETD_SOCK still exists after SIGTERM"
ok "wgnetd removed its socket $WGNETD_SOCK"
