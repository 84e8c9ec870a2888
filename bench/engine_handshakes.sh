#!/usr/bin/env bash
# Handshakes per second completed as responder: wgnet-engine beside Debian's wireguard-go, each
# configured with PEERS peers, answering initiations made ahead by the load generator (the
# engine's own Noise code) from another namespace over a veth (198.18.110.0/24). The generator
# keeps WINDOW initiations outstanding, below the "under load" mark (no cookies, no rate limit):
# this measures the responder's own handshake work. RUNS rounds interleaved; medians. Root.
# Usage: bench/engine_handshakes.sh [--runs N] [--seconds S] [WGNET_ENGINE [HANDSHAKE_LOAD]]
set -euo pipefail
RUNS=3
SECS=5
PEERS=1000
WINDOW=32
args=()
while (($#)); do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
ENGINE=${args[0]:-$(dirname "$0")/../build/src/engine/linux/wgnet-engine}
LOAD=${args[1]:-$(dirname "$0")/../build/tests/integration/wgnet_engine_handshake_load}
[[ -x $ENGINE && -x $LOAD ]] || { echo "need wgnet-engine and wgnet_engine_handshake_load"; exit 1; }

TAG="bh$$"
PIDS=()
SCRATCH=$(mktemp -d)
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  ip netns del "$TAG-r" 2>/dev/null
  ip netns del "$TAG-g" 2>/dev/null
  rm -f /var/run/wireguard/?"$TAG".sock
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
ip netns add "$TAG-r"
ip netns add "$TAG-g"
ip link add "v$TAG" netns "$TAG-r" type veth peer name "v$TAG" netns "$TAG-g"
ip -n "$TAG-r" addr add 198.18.110.1/24 dev "v$TAG"
ip -n "$TAG-g" addr add 198.18.110.2/24 dev "v$TAG"
ip -n "$TAG-r" link set "v$TAG" up
ip -n "$TAG-g" link set "v$TAG" up

"$LOAD" gen "$PEERS" "$SCRATCH/keys" "$SCRATCH/peers.conf"
KEY=$(wg genkey)
PUB=$(wg pubkey <<<"$KEY")
{ echo "[Interface]"; echo "PrivateKey = $KEY"; echo; cat "$SCRATCH/peers.conf"; } >"$SCRATCH/r.conf"

# responder NAME PROGRAM PORT
responder() {
  ip netns exec "$TAG-r" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error \
    "$2" -f "$1$TAG" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -S /var/run/wireguard/$1$TAG.sock ]] && break; sleep 0.05; done
  ip netns exec "$TAG-r" wg setconf "$1$TAG" "$SCRATCH/r.conf"
  ip netns exec "$TAG-r" wg set "$1$TAG" listen-port "$3"
  ip -n "$TAG-r" link set "$1$TAG" up
}
responder g wireguard-go 51801
responder e "$ENGINE" 51802

# rate PORT: handshakes per second answered
rate() {
  ip netns exec "$TAG-g" "$LOAD" run --keys "$SCRATCH/keys" --target "198.18.110.1:$1" \
    --responder "$PUB" --seconds "$SECS" --window "$WINDOW" --count $((SECS * 16000)) |
    sed -n 's/^handshakes_per_second=//p'
}
G="" E=""
for run in $(seq "$RUNS"); do
  g=$(rate 51801)
  e=$(rate 51802)
  G+=" $g" E+=" $e"
  echo "run $run: wireguard-go $g/s, wgnet-engine $e/s"
done
python3 - "$G" "$E" <<'PY'
import statistics, sys
g, e = ([float(x) for x in a.split()] for a in sys.argv[1:])
m = statistics.median
print()
print("| responder | median handshakes/s | runs |")
print("|---|---|---|")
print("| wireguard-go | %.0f | %s |" % (m(g), " ".join("%.0f" % x for x in g)))
print("| wgnet-engine | %.0f | %s |" % (m(e), " ".join("%.0f" % x for x in e)))
print()
print("engine / wireguard-go = %.2fx" % (m(e) / m(g)))
PY
