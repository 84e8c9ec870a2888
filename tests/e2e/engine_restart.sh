#!/usr/bin/env bash
# e2e.engine_restart: the engine inside wgnetd (--no-engine-process; e2e.engine_processes covers the
# same restart with the engine in a process of its own, the default). A wgnetd restart (upgrade,
# crash, SIGKILL) must not cost containers their interface. A container pings the hub all along; wgnetd
# is killed with SIGKILL (the tunnel stops: nothing leaves in clear) and started again: it
# re-attaches to the persistent TUN inside the container's namespace, opens its UDP socket on the
# same port and handshakes again. The pings resume within 2 s of wgnetd being back, through the
# same wg0 (same ifindex), without anything done to the container.
# Usage: engine_restart.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init engine_restart 24 "$@"
WGNETD_BACKEND=engine
WGNETD_ARGS=(--no-engine-process)

e2e_standard 10.24.0
ctr_run c1 net
ip1="$(ctr_ip c1 net)"
assert_ok "c1 ($ip1) pings the hub" ctr_ping c1 "$HUB_IP"
index_before="$(ctr_exec c1 cat /sys/class/net/wg0/ifindex)"
links_before="$(ctr_exec c1 ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | xargs)"
pub1="$("$WGNET" keys derive --seed-file "$SEED" "$ip1" | "$WGNET" keys pub)"
port_before="$(hub_peer_field "$pub1" endpoints)"

# In the container: a ping every 0.1 s; the uptime (shared with the host) of each answer.
dk exec -d "$(ctr_name c1)" sh -c "while :; do if ping -c1 -W1 $HUB_IP >/dev/null 2>&1; then \
  cut -d' ' -f1 /proc/uptime >>/tmp/ok; fi; sleep 0.1; done"
assert_eventually "the pinging loop runs" 10 ctr_exec c1 sh -c 'test -s /tmp/ok'

wgnetd_kill
sleep 2
down_at="$(cut -d' ' -f1 /proc/uptime)"
sleep 1
answered_while_down="$(ctr_exec c1 awk -v t="$down_at" '$1 > t + 0.0 {n++} END {print n + 0}' /tmp/ok)"
assert_eq "no answer while wgnetd is down (fail closed)" 0 "$answered_while_down"

wgnetd_start
back_at="$(cut -d' ' -f1 /proc/uptime)"
first_answer() { ctr_exec c1 awk -v t="$back_at" '$1 > t {print $1; exit}' /tmp/ok | grep .; }
assert_eventually "pings are answered again" 10 first_answer
resumed="$(first_answer)"
gap="$(awk -v a="$resumed" -v b="$back_at" 'BEGIN {printf "%.2f", a - b}')"
say "first answer $gap s after wgnetd answered again"
awk -v g="$gap" 'BEGIN {exit !(g <= 2.0)}' || fail "pings resumed only $gap s after wgnetd was back (limit 2 s)"
ok "pings resumed within 2 s ($gap s)"
assert_eq "wg0 kept its ifindex" "$index_before" "$(ctr_exec c1 cat /sys/class/net/wg0/ifindex)"
assert_eq "the container's links are unchanged" "$links_before" \
  "$(ctr_exec c1 ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | xargs)"
assert_ok "the hub pings c1 again" hub_ping "$ip1"
assert_eq "the hub sees the container at the same endpoint (same UDP port)" "$port_before" \
  "$(hub_peer_field "$pub1" endpoints)"
assert_contains "wgnetd says it re-attached the device" "$(cat "$WGNETD_LOG")" "re-attached"
