#!/usr/bin/env bash
# e2e.mtu: without wgnet.mtu the tunnel's MTU fits the underlay, as wg-quick sets it: the route to
# the hub goes over a 1400-byte link, so wg0 gets 1400 - 60 (IPv4 + UDP + WireGuard) = 1340. A ping
# of exactly that size with Don't Fragment passes through the tunnel; one byte more does not leave
# the container. With wgnet.mtu the option wins.
# Usage: mtu.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init mtu 25 "$@"

HUB_MTU=1400 e2e_standard 10.25.0
ctr_run c1 net
assert_eq "wg0's MTU is the path's (1400) less 60" 1340 "$(ctr_exec c1 cat /sys/class/net/wg0/mtu)"
assert_contains "wgnetd says why" "$(cat "$WGNETD_LOG")" "has MTU 1400, less 60"

# busybox's ping cannot set DF: iputils' ping runs in the container's network namespace.
pid="$(dk inspect -f '{{.State.Pid}}' "$(ctr_name c1)")"
df_ping() { nsenter -t "$pid" -n ping -M "do" -c1 -W2 -s "$1" "$HUB_IP"; }
assert_ok "the hub answers a DF ping of exactly wg0's MTU (1340 = 1312 + 28)" retry 3 df_ping 1312
assert_fails "one byte more does not fit wg0 with DF set" df_ping 1313

net_create fixed --subnet 10.25.1.0/24 --gateway 10.25.1.254 "${NET_OPTS[@]}" -o wgnet.mtu=1280
ctr_run c2 fixed
assert_eq "wgnet.mtu wins over the path" 1280 "$(ctr_exec c2 cat /sys/class/net/wg0/mtu)"
