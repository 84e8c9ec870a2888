#!/usr/bin/env bash
# e2e.churn: many containers, started at once and one after another. 20 `docker run` at the same
# time on one network all get their tunnel; then CYCLES containers (default 1000, in parallel
# rounds of 5) are created and removed, and wgnetd's open file descriptors and memory (RSS) stay
# flat and its threads within the handler pools' limit: nothing leaks per container. Prints the
# measurements (docs/PERFORMANCE.md).
# Usage: churn.sh [WGNET [WGNETD]]; CYCLES=N to change the count.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init churn 23 "$@"
CYCLES="${CYCLES:-1000}"
ROUND=5

e2e_standard 10.23.0 40
# Connections to wgnetd's plugin socket (connected unix sockets, state 03, bound to $WGNETD_SOCK),
# as "socket:[INODE]": dockerd keeps as many of them open as it likes. One wgnetd failed to close
# would stay in this list too (the state does not change when the peer goes), so their number is
# bounded on its own below.
docker_conns() { awk -v p="$WGNETD_SOCK" '$6 == "03" && $8 == p {print "socket:[" $7 "]"}' /proc/net/unix; }
DOCKER_CONNS_MAX=16
# wgnetd's open descriptors, less those connections.
fds() {
  local conns
  conns="$(docker_conns)"
  find "/proc/$WGNETD_PID/fd" -mindepth 1 -printf '%l\n' |
    { grep -cvxF -f <(echo "${conns:-none}") || true; }
}
threads() { awk '/^Threads:/ {print $2}' "/proc/$WGNETD_PID/status"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$WGNETD_PID/status"; }
usage() { echo "fds $(fds) (+$(docker_conns | wc -l) dockerd connections), threads $(threads), RSS $(rss_kib) KiB"; }
# wgnetd starts handler threads when calls arrive, up to 16 + 2 (src/http/server.h: handler_threads,
# cheap_threads), and keeps them: how many depends on how many calls Docker ever sent at once, not
# on how many containers came and went. (Twice that only in place of handlers past their deadline,
# whose calls fail: docker run would have failed above.) A leak would grow with the containers.
HANDLER_THREADS_MAX=18
threads_idle="$(threads)"

# 20 at once.
many=()
for i in $(seq 1 20); do many+=("p$i"); done
ctr_run_parallel net "${many[@]}"
for c in "${many[@]}"; do
  ctr_ping "$c" "$HUB_IP" 5 || fail "$c (one of 20 started at once) does not reach the hub"
done
ok "all 20 containers started at once ping the hub"
assert_eq "20 devices" 20 "$(new_wgnet_ifnames | wc -l)"
dk rm -f "${many[@]/#/$E2E_PREFIX-}" >/dev/null
gone() { [[ -z "$(new_wgnet_ifnames)" ]]; }
assert_eventually "their devices are gone after docker rm" 30 gone

# One round: ROUND containers created, started (CreateEndpoint + Join) and removed (Leave +
# DeleteEndpoint) together.
round() {
  local r="$1" i names=() pids=()
  for ((i = 0; i < ROUND; i++)); do names+=("$E2E_PREFIX-k$r-$i"); done
  for n in "${names[@]}"; do
    dk run -d --name "$n" --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name net)" \
      "$E2E_IMAGE" sleep 600 >/dev/null &
    pids+=($!)
  done
  # Only these: the hub's wireguard-go is a child of this shell too.
  for i in "${pids[@]}"; do wait "$i" || fail "docker run in round $r failed"; done
  dk rm -f "${names[@]}" >/dev/null 2>&1 || true
}
# Warm-up: allocators and caches reach their working size.
for r in $(seq 1 10); do round "w$r"; done
assert_eventually "no device left after the warm-up" 30 gone
before="$(usage)"
fds0="$(fds)" threads0="$(threads)" rss0="$(rss_kib)"
say "after warm-up: $before"
start=$SECONDS
for ((r = 0; r < CYCLES / ROUND; r++)); do
  round "$r"
  if ((r % 40 == 39)); then say "$(((r + 1) * ROUND)) containers: $(usage)"; fi
done
assert_eventually "no device left after $CYCLES containers" 30 gone
after="$(usage)"
say "after $CYCLES containers in $((SECONDS - start)) s: $after"
assert_eq "open file descriptors of wgnetd unchanged" "$fds0" "$(fds)"
conns="$(docker_conns | wc -l)"
((conns <= DOCKER_CONNS_MAX)) ||
  fail "wgnetd holds $conns connections on its plugin socket after $CYCLES containers (at most $DOCKER_CONNS_MAX: are closed ones kept?)"
ok "connections on wgnetd's plugin socket: $conns (at most $DOCKER_CONNS_MAX)"
threads_now="$(threads)"
((threads_now <= threads_idle + HANDLER_THREADS_MAX)) ||
  fail "wgnetd has $threads_now threads after $CYCLES containers (at start $threads_idle, after warm-up $threads0; at most $HANDLER_THREADS_MAX handler threads may be added)"
ok "threads of wgnetd bounded: $threads_now (at start $threads_idle, after warm-up $threads0, limit +$HANDLER_THREADS_MAX)"
growth=$(($(rss_kib) - rss0))
((growth < 4096)) || fail "wgnetd's RSS grew by $growth KiB over $CYCLES containers ($before -> $after)"
ok "wgnetd's RSS grew by $growth KiB over $CYCLES containers (limit 4096)"
errors="$(grep -c ' error ' "$WGNETD_LOG" || true)"
assert_eq "no error in wgnetd's log" 0 "$errors"
echo "CHURN cycles=$CYCLES seconds=$((SECONDS - start)) before=[$before] after=[$after] rss_growth_kib=$growth"
