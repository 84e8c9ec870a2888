#!/usr/bin/env bash
# e2e.engine_processes: the engine in a sandboxed process of its own (wgnetd's default,
# docs/PRIVSEP-PLAN.md). A container pings the hub every 0.1 s all along:
#   1. the engine process's /proc status: unprivileged ids, no capability in any set,
#      no-new-privileges, a seccomp filter;
#   2. its memory (every readable mapping, /proc/PID/mem) holds no byte string of the network's
#      seed, and does hold the container's private key (the positive control: the scan works);
#   3. (test builds) SIGUSR2 makes the engine attempt openat(2): its seccomp filter kills it
#      (SIGSYS), wgnetd says so and starts another; the pings resume within 2 s;
#   4. `wg set` changes the device (relayed by wgnetd), then the engine is killed with SIGKILL:
#      wgnetd starts another and hands it the device again, with that change; the pings resume
#      within 2 s, through the same wg0 (same ifindex) and the same UDP port;
#   5. wgnetd itself is killed (SIGKILL): the engine carries on, the pings keep being answered
#      while wgnetd is down; the next wgnetd takes the same engine over (its devices, `wg show`),
#      and a second container joins through it.
# Usage: engine_processes.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init engine_processes 27 "$@"
WGNETD_BACKEND=engine

# The engine process wgnetd runs now (its state's engine.pid names it: after a takeover it is no
# child of the running wgnetd).
engine_pid() { wgnetd_engine_pid; }
# Seconds (host uptime) of the first answer in the container's log after uptime $1.
first_answer_after() { ctr_exec c1 awk -v t="$1" '$1 > t {print $1; exit}' /tmp/ok | grep .; }
# Fails unless the pings were answered again within 2 s of uptime $1 ($2 says after what).
assert_resumed_within_2s() {
  local since="$1" what="$2" resumed gap
  assert_eventually "pings are answered again after $what" 10 first_answer_after "$since"
  resumed="$(first_answer_after "$since")"
  gap="$(awk -v a="$resumed" -v b="$since" 'BEGIN {printf "%.2f", a - b}')"
  say "first answer $gap s after $what"
  awk -v g="$gap" 'BEGIN {exit !(g <= 2.0)}' || fail "pings resumed only $gap s after $what (limit 2 s)"
  ok "pings resumed within 2 s of $what ($gap s)"
}

e2e_standard 10.27.0
ctr_run c1 net
ip1="$(ctr_ip c1 net)"
ifname="$(one_new_wgnet_ifname c1)"
assert_ok "c1 ($ip1) pings the hub" ctr_ping c1 "$HUB_IP"
index_before="$(ctr_exec c1 cat /sys/class/net/wg0/ifindex)"
pub1="$("$WGNET" keys derive --seed-file "$SEED" "$ip1" | "$WGNET" keys pub)"
port_before="$(hub_peer_field "$pub1" endpoints)"

# 1. The engine process and its privileges.
pid="$(engine_pid)"
[[ -n "$pid" ]] || fail "no engine process under wgnetd (pid $WGNETD_PID)"
assert_eq "the engine process is called wgnet-engine" wgnet-engine "$(cat "/proc/$pid/comm")"
status="$(cat "/proc/$pid/status")"
field() { awk -v k="$1:" '$1 == k {$1 = ""; sub(/^ /, ""); print}' <<<"$status"; }
assert_ne "the engine does not run as root" 0 "$(field Uid | awk '{print $1}')"
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
  assert_eq "engine $set" 0000000000000000 "$(field "$set")"
done
assert_eq "engine NoNewPrivs" 1 "$(field NoNewPrivs)"
assert_eq "engine Seccomp (a filter)" 2 "$(field Seccomp)"

# 2. The seed is nowhere in its memory; the container's private key is (the scan works).
seed_hex="$(od -An -tx1 -v "$SEED" | tr -d ' \n')"
key_hex="$("$WGNET" keys derive --seed-file "$SEED" "$ip1" | base64 -d | od -An -tx1 -v | tr -d ' \n')"
scan="$(python3 "$E2E_DIR/lib/memscan.py" "$pid" "$seed_hex" "$key_hex")" || fail "memscan failed"
assert_eq "the seed is not in the engine's memory" "0 absent" "$(sed -n 1p <<<"$scan")"
assert_eq "the container's private key is in the engine's memory (the scan works)" "1 found" \
  "$(sed -n 2p <<<"$scan")"

# In the container: a ping every 0.1 s; the uptime (shared with the host) of each answer.
dk exec -d "$(ctr_name c1)" sh -c "while :; do if ping -c1 -W1 $HUB_IP >/dev/null 2>&1; then \
  cut -d' ' -f1 /proc/uptime >>/tmp/ok; fi; sleep 0.1; done"
assert_eventually "the pinging loop runs" 10 ctr_exec c1 sh -c 'test -s /tmp/ok'

# 3. A call outside the engine's seccomp filter (a test build's SIGUSR2 makes it attempt openat):
#    the kernel kills it, wgnetd replaces it.
if "$WGNETD" --version | grep -q "test hooks"; then
  say "SIGUSR2 to the engine process (pid $pid): it attempts openat(2)"
  sent_at="$(cut -d' ' -f1 /proc/uptime)"
  kill -USR2 "$pid"
  assert_resumed_within_2s "$sent_at" "the engine's forbidden call"
  assert_contains "wgnetd says the filter killed it" "$(cat "$WGNETD_LOG")" \
    "killed by signal 31 (SIGSYS): a call outside its seccomp allow-list"
  assert_ne "a new engine process serves" "$pid" "$(engine_pid)"
  pid="$(engine_pid)"
else
  say "skipped: the forbidden-call trigger (wgnetd is not a test build)"
fi

# 4. The engine dies (as a crash or an OOM kill would end it): wgnetd replaces it; what `wg set`
#    changed before is kept.
assert_ok "wg set $ifname (relayed to the engine): the hub's keepalive 9 s" \
  wg set "$ifname" peer "$HUB_PUB" persistent-keepalive 9
say "killing the engine process (pid $pid) with SIGKILL"
killed_at="$(cut -d' ' -f1 /proc/uptime)"
kill -KILL "$pid"
assert_resumed_within_2s "$killed_at" "the engine was killed"
new_pid="$(engine_pid)"
assert_ne "a new engine process serves" "$pid" "${new_pid:-none}"
assert_contains "wgnetd says why the engine ended" "$(cat "$WGNETD_LOG")" "killed by signal 9"
assert_eq "wg0 kept its ifindex" "$index_before" "$(ctr_exec c1 cat /sys/class/net/wg0/ifindex)"
assert_ok "the hub pings c1" hub_ping "$ip1"
assert_eq "the hub sees c1 at the same endpoint (same UDP port)" "$port_before" \
  "$(hub_peer_field "$pub1" endpoints)"
assert_contains "wg show $ifname works (wgnetd relays it to the new engine)" \
  "$(wg show "$ifname" 2>&1 || true)" "public key: $pub1"
assert_eq "the new engine has what wg set changed" "$HUB_PUB	9" \
  "$(wg show "$ifname" persistent-keepalive 2>&1 || true)"
# Both replacements counted, by why (GET /metrics on the admin socket).
restarts="$(curl -sS --max-time 10 --unix-socket "$WGNETD_ADMIN_SOCKET" http://wgnetd/metrics |
  grep '^wgnet_engine_restarts_total{' || true)"
restarts_of() { awk -v k="wgnet_engine_restarts_total{reason=\"$1\"}" '$1 == k {print $2}' <<<"$restarts"; }
if "$WGNETD" --version | grep -q "test hooks"; then seccomp=1; else seccomp=0; fi
assert_eq "wgnet_engine_restarts_total counts the seccomp kill" "$seccomp" "$(restarts_of seccomp)"
assert_eq "and the SIGKILL" 1 "$(restarts_of signal)"
assert_eq "and nothing broke" 0 "$(restarts_of broken)"

# 5. wgnetd dies: the engine carries on; the next wgnetd takes it over.
wgnetd_kill
killed_at="$(cut -d' ' -f1 /proc/uptime)"
sleep 2
assert_eq "the engine process carries on without wgnetd" "$new_pid" "$(engine_pid)"
answers_while_down="$(ctr_exec c1 awk -v t="$killed_at" '$1 > t' /tmp/ok | wc -l)"
say "$answers_while_down answers in the 2 s wgnetd was down"
((answers_while_down >= 10)) || fail "only $answers_while_down answers while wgnetd was down (pings every 0.1 s)"
ok "c1's pings were answered while wgnetd was down"
wgnetd_start
assert_contains "wgnetd says it took the engine over" "$(cat "$WGNETD_LOG")" "took over the engine process (pid $new_pid"
assert_eq "the same engine process serves" "$new_pid" "$(engine_pid)"
assert_eq "wg0 kept its ifindex" "$index_before" "$(ctr_exec c1 cat /sys/class/net/wg0/ifindex)"
assert_contains "wg show $ifname works through the new wgnetd" \
  "$(wg show "$ifname" 2>&1 || true)" "public key: $pub1"
ctr_run c2 net
assert_ok "c2, started after the takeover, pings the hub" ctr_ping c2 "$HUB_IP"
since="$(cut -d' ' -f1 /proc/uptime)"
assert_eventually "c1's pings are still answered" 5 first_answer_after "$since"
ok "the taken-over engine serves old and new devices"
