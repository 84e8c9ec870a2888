#!/usr/bin/env bash
# Memory of the engine backend under Docker, per container: RSS of the engine process and of
# wgnetd with 1, 20 and 50 idle containers on one wgnet network (each a device, a key, the hub as
# peer). WGNETD_ENGINE_PROCESS=0 measures the engine inside wgnetd instead (then both columns are
# wgnetd's). Sets up and cleans up like the end-to-end tests (hub in a netns, wgnetd on its own
# socket); dockerd is started if it is not running. Root.
# Usage: bench/engine_process_memory.sh [WGNET [WGNETD]]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "$root/tests/e2e/lib.sh"
WGNETD_BACKEND=engine
E2E_PREFIX=wgnet-bench
e2e_init engine_process_memory 97 "$@"
e2e_standard 10.97.0 60

rss_kib() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
echo "| containers | engine process RSS (KiB) | its threads | wgnetd RSS (KiB) |"
echo "|---|---|---|---|"
n=0
for target in 1 20 50; do
  while ((n < target)); do
    n=$((n + 1))
    ctr_run "m$n" net
  done
  sleep 1
  engine="$(wgnetd_engine_pid)"
  engine="${engine:-$WGNETD_PID}"  # --no-engine-process: the engine is wgnetd
  echo "| $n | $(rss_kib "$engine") | $(awk '$1 == "Threads:" {print $2}' "/proc/$engine/status") | $(rss_kib "$WGNETD_PID") |"
done
