#!/usr/bin/env bash
# Container start time: median wall time of `docker run --rm --network N wgnet-test:busybox true`
# over $RUNS runs (default 10) on a wgnet network, on Docker's `bridge` and on `none`, measured in
# the same run (interleaved, after one warm-up run each). Prints a Markdown table for
# docs/PERFORMANCE.md. Sets up (hub in a netns, wgnetd on its own socket) and cleans up like the
# end-to-end tests. Root; dockerd is started if it is not running.
# Usage: bench/container_start.sh [WGNET [WGNETD]]   env: RUNS, WGNETD_BACKEND (default auto)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "$root/tests/e2e/lib.sh"
RUNS="${RUNS:-10}"
WGNETD_BACKEND="${WGNETD_BACKEND:-auto}"
E2E_PREFIX=wgnet-bench
e2e_init container_start 98 "$@"

e2e_standard 10.98.0 20
wgnet_net="$(net_name net)"
# A user-defined bridge network takes Docker's path for every non-default network (embedded DNS
# resolver set up in the container), like a wgnet network; the default `bridge` network skips it.
ubridge_net="$(net_name ubridge)"
dk network create -d bridge --subnet 10.98.128.0/24 "$ubridge_net" >/dev/null
defer net_rm "$ubridge_net"
networks=("$wgnet_net" bridge "$ubridge_net" none)

# start_once NETWORK: seconds (with ms) one `docker run --rm ... true` takes.
start_once() {
  local t0 t1
  t0="$(date +%s%N)"
  dk run --rm --network "$1" "$E2E_IMAGE" true >/dev/null || fail "docker run --network $1 failed"
  t1="$(date +%s%N)"
  echo "$(((t1 - t0) / 1000000))"
}

for n in "${networks[@]}"; do start_once "$n" >/dev/null; done   # warm-up
declare -A times
last() { xargs -n1 <<<"$1" | tail -1; }
for ((i = 1; i <= RUNS; i++)); do
  for n in "${networks[@]}"; do times[$n]+="$(start_once "$n") "; done
  say "run $i/$RUNS (ms): wgnet $(last "${times[$wgnet_net]}"), bridge $(last "${times[bridge]}"), user bridge $(last "${times[$ubridge_net]}"), none $(last "${times[none]}")"
done

# stats MS...: "median min max" in seconds.
stats() {
  xargs -n1 <<<"$*" | sort -n | awk '{v[NR] = $1} END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f\n", m / 1000, v[1] / 1000, v[NR] / 1000 }'
}
read -r wg_med wg_min wg_max <<<"$(stats "${times[$wgnet_net]}")"
read -r br_med br_min br_max <<<"$(stats "${times[bridge]}")"
read -r ub_med ub_min ub_max <<<"$(stats "${times[$ubridge_net]}")"
read -r no_med no_min no_max <<<"$(stats "${times[none]}")"
# What --backend auto chose, as wgnetd logs it ("default backend: NAME").
backend="$(grep -o 'default backend: [a-z]*' "$WGNETD_LOG" | head -1 | cut -d' ' -f3 || true)"
backend="$WGNETD_BACKEND${backend:+ ($backend)}"
ratio="$(awk -v a="$wg_med" -v b="$br_med" 'BEGIN {printf "%.2f", a / b}')"

cat <<TABLE

Container start: \`docker run --rm --network N wgnet-test:busybox true\`, $RUNS runs each, interleaved
($(date -u +%Y-%m-%d), $(nproc) cores, Docker $("$DOCKER" version -f '{{.Server.Version}}'), wgnetd --backend $backend).

| network | median (s) | min (s) | max (s) | median / bridge |
|---|---|---|---|---|
| wgnet | $wg_med | $wg_min | $wg_max | $ratio |
| bridge (default network) | $br_med | $br_min | $br_max | 1.00 |
| bridge (user-defined network) | $ub_med | $ub_min | $ub_max | $(awk -v a="$ub_med" -v b="$br_med" 'BEGIN {printf "%.2f", a / b}') |
| none | $no_med | $no_min | $no_max | $(awk -v a="$no_med" -v b="$br_med" 'BEGIN {printf "%.2f", a / b}') |

wgnet / bridge (medians): **$ratio** (target: <= 1.00); wgnet / user-defined bridge: **$(awk -v a="$wg_med" -v b="$ub_med" 'BEGIN {printf "%.2f", a / b}')**
TABLE

# wgnetd's own share: each call's duration from its debug log ("/NetworkDriver.X -> 200 in MS ms").
call_ms() {
  grep -oE "/NetworkDriver\.$1 -> 200 in [0-9.]+ ms" "$WGNETD_LOG" | awk '{print $(NF - 1)}' |
    sort -n | awk '{v[NR] = $1} END {if (NR) printf "median %.2f ms, max %.2f ms (%d calls)", v[int((NR + 1) / 2)], v[NR], NR}'
}
echo
for call in CreateEndpoint Join Leave DeleteEndpoint; do echo "- wgnetd $call: $(call_ms "$call")"; done
