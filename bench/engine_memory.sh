#!/usr/bin/env bash
# What idle interfaces cost: RSS and threads of one engine process (the Engine of wgnetd's engine
# backend) serving 1, 100 and 1000 idle interfaces (each a TUN device, a key, one peer, its UDP
# socket), in a private namespace; beside Debian's wireguard-go, one process per interface (RSS of
# one idle wireguard-go, times N). Root.
# Usage: bench/engine_memory.sh [IDLE_BENCH]   (build/bench/wgnet_engine_idle_bench by default)
set -euo pipefail
BENCH=${1:-$(dirname "$0")/../build/bench/wgnet_engine_idle_bench}
[[ -x $BENCH ]] || { echo "wgnet_engine_idle_bench not found at $BENCH"; exit 1; }

out=$("$BENCH" 1 100 1000)
echo "$out"
python3 - "$out" <<'PY'
import re, sys
rows = {int(m[0]): (int(m[1]), int(m[2])) for m in re.findall(r"interfaces=(\d+) rss_kib=(\d+) threads=(\d+)", sys.argv[1])}
print()
print("| idle interfaces | engine RSS (MiB) | threads | KiB per extra interface (from 1) |")
print("|---|---|---|---|")
base = rows[1][0]
for n in sorted(rows):
    per = "" if n <= 1 else "%.1f" % ((rows[n][0] - base) / (n - 1))
    print("| %d | %.1f | %d | %s |" % (n, rows[n][0] / 1024, rows[n][1], per))
PY

if command -v wireguard-go >/dev/null; then
  ns="bm$$"
  ip netns add "$ns"
  trap 'kill $pid 2>/dev/null; sleep 0.2; ip netns del "$ns"; rm -f /var/run/wireguard/bm$$.sock' EXIT
  ip netns exec "$ns" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error \
    wireguard-go -f "bm$$" >/dev/null 2>&1 &
  pid=$!
  sleep 1
  ip netns exec "$ns" wg set "bm$$" private-key <(wg genkey) \
    peer "$(wg genkey | wg pubkey)" allowed-ips 10.0.0.1/32 endpoint 198.18.99.1:51820
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  thr=$(ls "/proc/$pid/task" | wc -l)
  echo
  echo "wireguard-go, one idle interface: RSS $((rss / 1024)) MiB, $thr threads (one process per interface)"
fi
