#!/usr/bin/env bash
# e2e.external.recover: the wireguard-go process serving a running container's device dies (killed
# here, as a crash would): wgnetd notices, builds a new device with the same key and puts it
# back into the container as wg0 with its address and routes; the container reaches the hub
# again without being restarted, and is still removed cleanly.
# Usage: recover.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init recover 20 "$@"

e2e_standard 10.20.0
ctr_run c1 net
ip1="$(ctr_ip c1 net)"
assert_ok "c1 ($ip1) pings the hub" ctr_ping c1 "$HUB_IP"
ifname="$(one_new_wgnet_ifname c1)"
pid="$(wgnet_wg_go_procs | awk -v i="$ifname" '$2 == i {print $1}')"
[[ -n "$pid" ]] || fail "no wireguard-go process serves $ifname"
say "killing wireguard-go (pid $pid) serving $ifname, as a crash would"
kill -KILL "$pid"
assert_eventually "c1's tunnel is back: it pings the hub again" 20 ctr_ping c1 "$HUB_IP" 1
assert_ok "the hub pings c1 again" hub_ping "$ip1"
links="$(ctr_exec c1 ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | xargs)"
assert_eq "c1 still has only lo and wg0" "lo wg0" "$links"
routes="$(ctr_exec c1 ip route)"
assert_contains "c1's default route is through wg0 again" "$routes" "default dev wg0"
assert_not_contains "no route via another interface" "$routes" " via "
dk rm -f "$(ctr_name c1)" >/dev/null
gone() { [[ -z "$(e2e_leftovers | grep -F -- "$ifname" || true)" ]]; }
assert_eventually "c1's new device, socket and process are gone after docker rm" 10 gone

# The same while wgnetd is down: the restarted wgnetd finds the joined device gone and rebuilds it.
ctr_run c2 net
ip2="$(ctr_ip c2 net)"
assert_ok "c2 ($ip2) pings the hub" ctr_ping c2 "$HUB_IP"
ifname2="$(new_wgnet_ifnames | grep -vxF "$ifname" || true)"
pid2="$(wgnet_wg_go_procs | awk -v i="$ifname2" '$2 == i {print $1}')"
[[ -n "$pid2" ]] || fail "no wireguard-go process serves c2's device '$ifname2'"
wgnetd_kill
say "killing wireguard-go (pid $pid2) serving $ifname2 while wgnetd is down"
kill -KILL "$pid2"
assert_fails "c2 has no tunnel while nothing serves it" ctr_ping c2 "$HUB_IP" 1
wgnetd_start
assert_eventually "c2's tunnel is back after wgnetd restarted" 20 ctr_ping c2 "$HUB_IP" 1
assert_ok "the hub pings c2 again" hub_ping "$ip2"
