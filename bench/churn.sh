#!/usr/bin/env bash
# Resource use of wgnetd over many containers: runs the e2e.churn scenario with CYCLES containers
# (default 1000) created and removed in rounds of 5, and prints a Markdown row for
# docs/PERFORMANCE.md: wgnetd's file descriptors, threads and RSS before and after.
# Usage: bench/churn.sh [WGNET [WGNETD]] (as root; starts dockerd if none runs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
CYCLES="${CYCLES:-1000}" bash "$root/tests/e2e/churn.sh" "$@" 2>&1 | tee "$out" >&2
line="$(grep '^CHURN ' "$out" | tail -1)"
[[ -n "$line" ]] || { echo "churn: no result line" >&2; exit 1; }
eval "$(sed -E 's/^CHURN //; s/ before=\[([^]]*)\]/ before="\1"/; s/ after=\[([^]]*)\]/ after="\1"/' <<<"$line")"
# shellcheck disable=SC2154 # set by the eval
echo "| $cycles containers created and removed (rounds of 5) | $seconds s | $before | $after | +$rss_growth_kib KiB |"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$root" rev-parse --short HEAD); load average $(cut -d' ' -f1-3 /proc/loadavg)"
