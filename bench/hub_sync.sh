#!/usr/bin/env bash
# bench/hub_sync.sh [WGNET_BINARY] [wireguard-go|kernel]
#
# Measures `wgnet hub sync` on a /16 hub (65,534 peers) in a private network and mount namespace:
# the first sync of an empty interface, a sync with nothing to change, 10 peers added, 10 removed,
# a dry run, and beside them `wgnet hub config` (key derivation alone) and `wg syncconf` of the
# same /16 with nothing to change. Prints a Markdown table of medians (wall and CPU seconds of
# wgnet) to stdout, progress to stderr.
#
#   wireguard-go (default): the hub is Debian's wireguard-go, reached over its UAPI socket.
#   kernel: a kernel WireGuard interface, reached over netlink (run it in scripts/vm's guest on
#           machines without the module: scripts/vm -- bench/hub_sync.sh build/src/cli/wgnet kernel).
#
# Environment: RUNS=3 timed runs of each step (median reported). Root only; leaves nothing behind.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
WGNET=${1:-$repo/build/src/cli/wgnet}
KIND=${2:-wireguard-go}
RUNS=${RUNS:-3}

if [[ -z "${WGNET_HUB_SYNC_BENCH_INNER:-}" ]]; then
  exec env WGNET_HUB_SYNC_BENCH_INNER=1 unshare --net --mount --propagation private bash "$0" "$@"
fi
mkdir -p /run/wireguard
mount -t tmpfs -o mode=0755 wgnet-hub-sync-bench /run/wireguard
umask 077
tmp=$(mktemp -d)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" >&2; }

ip link set lo up
if [[ "$KIND" == kernel ]]; then
  ip link add wg-bench type wireguard
else
  WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wg-bench >"$tmp/wg.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do wg show wg-bench >/dev/null 2>&1 && break; sleep 0.1; done
fi
wg genkey >"$tmp/hub.key"
wg set wg-bench private-key "$tmp/hub.key" listen-port 51999
head -c 32 /dev/urandom >"$tmp/seed"
SUBNET=10.0.0.0/16
S=(--seed-file "$tmp/seed" --subnet "$SUBNET")
"$WGNET" hub config "${S[@]}" --format wg >"$tmp/hub.conf"

# timed NAME CMD...: runs CMD, appends "wall user+sys" seconds to $tmp/NAME.
timed() {
  local name="$1"
  shift
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$@" >"$tmp/out" 2>&1 || {
    cat "$tmp/out" >&2
    return 1
  }
  awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$tmp/time" >>"$tmp/$name"
  log "  $name: $(tail -1 "$tmp/$name") ($(tail -1 "$tmp/out"))"
}
median() { sort -n -k"$2" "$tmp/$1" | awk -v k="$2" '{v[NR] = $k} END {print v[int((NR + 1) / 2)]}'; }

log "hub sync on a /16, $KIND hub, $RUNS runs"
for r in $(seq 1 "$RUNS"); do
  wg setconf wg-bench <(printf '[Interface]\nPrivateKey = %s\nListenPort = 51999\n' "$(cat "$tmp/hub.key")")
  timed first "$WGNET" hub sync wg-bench "${S[@]}" --range 10.0.0.11-10.0.255.254
  timed nothing "$WGNET" hub sync wg-bench "${S[@]}" --range 10.0.0.11-10.0.255.254
  timed add10 "$WGNET" hub sync wg-bench "${S[@]}"
  timed remove10 "$WGNET" hub sync wg-bench "${S[@]}" --range 10.0.0.11-10.0.255.254
  timed dryrun "$WGNET" hub sync wg-bench "${S[@]}" --dry-run
  timed config "$WGNET" hub config "${S[@]}" --format wg
  timed syncconf wg syncconf wg-bench "$tmp/hub.conf"
done

cat <<EOF

| \`wgnet hub sync\`, /16 (65,534 peers), $KIND hub | wall s | CPU s (wgnet) |
|---|---|---|
| first sync, empty interface (65,524 peers added) | $(median first 1) | $(median first 2) |
| nothing to change | $(median nothing 1) | $(median nothing 2) |
| 10 peers added | $(median add10 1) | $(median add10 2) |
| 10 peers removed | $(median remove10 1) | $(median remove10 2) |
| --dry-run (10 to add) | $(median dryrun 1) | $(median dryrun 2) |
| \`wgnet hub config\` alone (key derivation) | $(median config 1) | $(median config 2) |
| \`wg syncconf\` of the same /16, nothing to change | $(median syncconf 1) | (wg) $(median syncconf 2) |

$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, medians of $RUNS runs.
EOF
