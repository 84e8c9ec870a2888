#!/usr/bin/env bash
# Tunnel throughput and latency between two network namespaces over a veth (198.18.100.0/24 and
# up), five ways side by side in one run: plain veth, Debian 12's wireguard-go <-> wireguard-go,
# current wireguard-go from Debian sid (scripts/install-wireguard-go: the one a user would pick
# instead) <-> itself, wgnet-engine <-> wgnet-engine (standalone, wireguard-go's command line),
# and the engine as wgnetd runs it <-> itself (its own sandboxed process with a seccomp filter,
# the UAPI relayed: wgnet_engine_process_tunnel). iperf3 TCP single stream for SECONDS, and ping
# round trips, RUNS rounds interleaved (the machine is shared: ratios of one run, medians of
# several).
# Everything it makes goes at exit (trap); processes are stopped by PID. Root.
# Usage: bench/engine_throughput.sh [--runs N] [--seconds S] [--pings N] [WGNET_ENGINE]
# (wgnet_engine_process_tunnel from the same build directory as WGNET_ENGINE)
set -euo pipefail

RUNS=5
SECONDS_EACH=10
PINGS=200
ENGINE=""
while (($#)); do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --pings) PINGS=$2; shift 2 ;;
    *) ENGINE=$1; shift ;;
  esac
done
ENGINE=${ENGINE:-$(dirname "$0")/../build/src/engine/linux/wgnet-engine}
[[ -x $ENGINE ]] || { echo "wgnet-engine not found at $ENGINE (build it, or pass its path)"; exit 1; }
SUPERVISED=$(dirname "$ENGINE")/../../../bench/wgnet_engine_process_tunnel
[[ -x $SUPERVISED ]] || { echo "wgnet_engine_process_tunnel not found at $SUPERVISED (build it)"; exit 1; }
for tool in iperf3 wireguard-go wg python3; do
  command -v $tool >/dev/null || { echo "$tool missing (scripts/install-deps)"; exit 1; }
done
WGGO_SID=$("$(dirname "$0")/../scripts/install-wireguard-go")

TAG="bt$$"
PIDS=()
NSS=()
HOLD=()  # descriptors holding the engine-process tunnels open
cleanup() {
  set +e
  for h in "${HOLD[@]}"; do exec {h}>&-; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -f /var/run/wireguard/w?"$TAG"?.sock /tmp/"$TAG"-*
}
trap cleanup EXIT

# pair K: namespaces $TAG-K-a / -b joined by a veth 198.18.(100+K).1/.2
pair() {
  local a="$TAG-$1-a" b="$TAG-$1-b"
  ip netns add "$a"; NSS+=("$a")
  ip netns add "$b"; NSS+=("$b")
  ip -n "$a" link set lo up
  ip -n "$b" link set lo up
  ip link add "v$TAG" netns "$a" type veth peer name "v$TAG" netns "$b"
  ip -n "$a" addr add "198.18.$((100 + $1)).1/24" dev "v$TAG"
  ip -n "$b" addr add "198.18.$((100 + $1)).2/24" dev "v$TAG"
  ip -n "$a" link set "v$TAG" up
  ip -n "$b" link set "v$TAG" up
}

# tunnel K PROGRAM: PROGRAM -f in both namespaces of pair K (or, PROGRAM "supervised", the engine
# as wgnetd runs it), configured, 10.(100+K).0.1/.2
tunnel() {
  local k=$1 prog=$2 ka kb
  ka=$(wg genkey) kb=$(wg genkey)
  for side in a b; do
    local ifname="w${side}${TAG}${k}"
    if [[ $prog == supervised ]]; then
      # Holds the device until its stdin (a fifo this script keeps open) closes; the engine
      # process is its child: both count as the tunnel's CPU.
      local fifo="/tmp/$TAG-$k-$side.in" out
      mkfifo "$fifo"
      # (without the descriptors holding the others: each ends when its own is closed)
      (
        for h in "${HOLD[@]}"; do exec {h}>&-; done
        exec "$SUPERVISED" "$ENGINE" "/run/netns/$TAG-$k-$side" "$ifname"
      ) <"$fifo" >"$fifo.out" 2>&1 &
      PIDS+=($!)
      TPIDS[$k]+=" $!"
      exec {hold}>"$fifo"
      HOLD+=("$hold")
      rm -f "$fifo"
      for _ in $(seq 100); do grep -q '^ready' "$fifo.out" && break; sleep 0.05; done
      out=$(grep -m1 '^ready' "$fifo.out" || cat "$fifo.out")
      rm -f "$fifo.out"
      [[ $out == ready\ engine_pid=* ]] || { echo "wgnet_engine_process_tunnel: $out"; exit 1; }
      TPIDS[$k]+=" ${out#ready engine_pid=}"
    else
      ip netns exec "$TAG-$k-$side" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
        LOG_LEVEL=error "$prog" -f "$ifname" >/dev/null 2>&1 &
      PIDS+=($!)
      TPIDS[$k]+=" $!"
    fi
    for _ in $(seq 100); do [[ -S /var/run/wireguard/$ifname.sock ]] && break; sleep 0.05; done
  done
  ip netns exec "$TAG-$k-a" wg set "wa${TAG}${k}" private-key <(echo "$ka") listen-port 51701 \
    peer "$(wg pubkey <<<"$kb")" allowed-ips "10.$((100 + k)).0.2/32" \
    endpoint "198.18.$((100 + k)).2:51702"
  ip netns exec "$TAG-$k-b" wg set "wb${TAG}${k}" private-key <(echo "$kb") listen-port 51702 \
    peer "$(wg pubkey <<<"$ka")" allowed-ips "10.$((100 + k)).0.1/32" \
    endpoint "198.18.$((100 + k)).1:51701"
  ip -n "$TAG-$k-a" addr add "10.$((100 + k)).0.1/24" dev "wa${TAG}${k}"
  ip -n "$TAG-$k-b" addr add "10.$((100 + k)).0.2/24" dev "wb${TAG}${k}"
  ip -n "$TAG-$k-a" link set "wa${TAG}${k}" up
  ip -n "$TAG-$k-b" link set "wb${TAG}${k}" up
  ip netns exec "$TAG-$k-a" ping -c 3 -i 0.3 -W 2 "10.$((100 + k)).0.2" >/dev/null
}

declare -A TPIDS
# cpu K: CPU seconds the tunnel processes of pair K used so far (user + system)
cpu() {
  local total=0 p
  for p in ${TPIDS[$1]:-}; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}

# iperf K ADDR: RESULT = Gbit/s of one TCP stream from a to b; CPUGB[K] += the tunnel's CPU
# seconds per GB (not in a subshell: it keeps state)
iperf() {
  local c0 c1 gbps
  c0=$(cpu "$1")
  ip netns exec "$TAG-$1-b" iperf3 -s -1 -B "$2" -p 5399 >/dev/null 2>&1 &
  local srv=$!
  for _ in $(seq 50); do
    [[ $(ip netns exec "$TAG-$1-b" ss -Htln 'sport = 5399') == *5399* ]] && break
    sleep 0.05
  done
  gbps=$(ip netns exec "$TAG-$1-a" iperf3 -c "$2" -p 5399 -t "$SECONDS_EACH" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')
  wait $srv 2>/dev/null || true
  c1=$(cpu "$1")
  CPUGB[$1]+=" $(python3 -c "print('%.3f' % (($c1 - $c0) / $(getconf CLK_TCK) / ($gbps * $SECONDS_EACH / 8 + 1e-9)))")"
  RESULT=$gbps
}

# rtt K ADDR: median ping round trip, ms (the mean is the scheduler's outliers on a busy machine)
rtt() {
  ip netns exec "$TAG-$1-a" ping -c "$PINGS" -i 0.01 -W 1 "$2" |
    python3 -c 'import re, statistics, sys
print("%.3f" % statistics.median(float(t) for t in re.findall(r"time=([0-9.]+)", sys.stdin.read())))'
}

pair 0
pair 1
tunnel 1 wireguard-go
pair 2
tunnel 2 "$ENGINE"
pair 3
tunnel 3 "$WGGO_SID"
pair 4
tunnel 4 supervised

declare -A GBPS RTT CPUGB
for run in $(seq "$RUNS"); do
  iperf 0 198.18.100.2 && GBPS[veth]+=" $RESULT"
  iperf 1 10.101.0.2 && GBPS[wggo]+=" $RESULT"
  iperf 2 10.102.0.2 && GBPS[engine]+=" $RESULT"
  iperf 3 10.103.0.2 && GBPS[sid]+=" $RESULT"
  iperf 4 10.104.0.2 && GBPS[proc]+=" $RESULT"
  RTT[veth]+=" $(rtt 0 198.18.100.2)"
  RTT[wggo]+=" $(rtt 1 10.101.0.2)"
  RTT[engine]+=" $(rtt 2 10.102.0.2)"
  RTT[sid]+=" $(rtt 3 10.103.0.2)"
  RTT[proc]+=" $(rtt 4 10.104.0.2)"
  echo "run $run: veth ${GBPS[veth]##* }  wireguard-go ${GBPS[wggo]##* }  wireguard-go (sid)" \
    "${GBPS[sid]##* }  engine ${GBPS[engine]##* }  engine process ${GBPS[proc]##* } Gbit/s;" \
    "rtt veth ${RTT[veth]##* }  wireguard-go ${RTT[wggo]##* }  wireguard-go (sid) ${RTT[sid]##* }" \
    " engine ${RTT[engine]##* }  engine process ${RTT[proc]##* } ms"
done

python3 - "${GBPS[veth]}" "${GBPS[wggo]}" "${GBPS[engine]}" "${GBPS[sid]}" "${RTT[veth]}" \
  "${RTT[wggo]}" "${RTT[engine]}" "${RTT[sid]}" "${CPUGB[1]}" "${CPUGB[2]}" "${CPUGB[3]}" \
  "${GBPS[proc]}" "${RTT[proc]}" "${CPUGB[4]}" "$("$WGGO_SID" --version | head -1)" <<'PY'
import statistics, sys
v, g, e, s, rv, rg, re_, rs, cg, ce, cs, p, rp, cp = (
    [float(x) for x in a.split()] for a in sys.argv[1:15])
sid = "wireguard-go, Debian sid (%s)" % sys.argv[15].split()[-1]
m = statistics.median
print()
print("| iperf3 TCP, 1 stream | median Gbit/s | runs |")
print("|---|---|---|")
for name, xs in (("plain veth", v), ("wireguard-go, Debian 12 <-> itself", g),
                 (sid + " <-> itself", s), ("wgnet-engine <-> wgnet-engine", e),
                 ("engine process (as wgnetd runs it) <-> itself", p)):
    print("| %s | %.2f | %s |" % (name, m(xs), " ".join("%.2f" % x for x in xs)))
print()
print("engine / wireguard-go (Debian 12) = %.1fx; engine / wireguard-go (sid) = %.1fx; engine / veth = %.0f %%"
      % (m(e) / m(g), m(e) / m(s), 100 * m(e) / m(v)))
print("engine process / wireguard-go (sid) = %.1fx; engine process / standalone engine = %.2f"
      % (m(p) / m(s), m(p) / m(e)))
print()
print("| tunnel processes' CPU per GB carried (both ends) | median CPU-s/GB |")
print("|---|---|")
print("| wireguard-go, Debian 12 | %.2f |" % m(cg))
print("| %s | %.2f |" % (sid, m(cs)))
print("| wgnet-engine | %.2f |" % m(ce))
print("| engine process (and its wgnet_engine_process_tunnel) | %.2f |" % m(cp))
print()
print("| ping RTT (median of each run's pings) | median ms |")
print("|---|---|")
for name, xs in (("plain veth", rv), ("wireguard-go, Debian 12", rg), (sid, rs), ("wgnet-engine", re_),
                 ("engine process", rp)):
    print("| %s | %.3f |" % (name, m(xs)))
PY
