#!/usr/bin/env bash
# `wg show/set/setconf/addconf/syncconf/showconf` against wgnet-engine's UAPI socket give the same
# outputs, exit statuses and error messages as against Debian's wireguard-go: the same commands
# run against both, each in a namespace of its own, and every answer is compared (peer order and
# allowed-IP order normalized: wireguard-go lists peers in Go map order).
# Usage: engine_wg_tools_test.sh WGNET_ENGINE
ENGINE=${1:-}
source "$(dirname "$0")/engine_test_lib.sh"
command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

ns_add e
ns_add g
# Endpoints route to a veth of each namespace's own (a peer nobody answers), never elsewhere.
veth e 198.18.97.1/24 g 198.18.97.2/24
E="e$TAG" G="g$TAG"
start_engine e "$E"
start_wggo g "$G"

K=$(key) PSK=$(wg genpsk)
P1=$(pub "$(key)") P2=$(pub "$(key)") P3=$(pub "$(key)") P4=$(pub "$(key)")
KF=$(keyfile "$K") PSKF=$(keyfile "$PSK")

NORMALIZE=$(
  cat <<'PY'
import re, sys
text = sys.stdin.read().replace(sys.argv[1], "IFNAME")
# Ports the kernel picked (32768 and up; the test sets lower ones) differ between the two.
text = re.sub(r"(listening port: |ListenPort = |^|\t)(3[2-9]\d{3}|[4-6]\d{4})\b", r"\1RANDOM", text, flags=re.M)
def sort_list(m):
    return m.group(1) + ", ".join(sorted(m.group(2).split(", ")))
def sort_items(line):
    # "key<TAB>a b c" (wg show IF allowed-ips) and "AllowedIPs = a, b" and dump's "a,b".
    line = re.sub(r"^(AllowedIPs = )(.*)$", sort_list, line)
    line = re.sub(r"^(  allowed ips: )(.*)$", sort_list, line)
    parts = line.split("\t")
    parts = [",".join(sorted(p.split(","))) if re.match(r"^[0-9a-f.:]+/\d+(,|$)", p) else p for p in parts]
    parts = [" ".join(sorted(p.split(" "))) if re.match(r"^[0-9a-f.:]+/\d+ ", p) else p for p in parts]
    return "\t".join(parts)
lines = [sort_items(l) for l in text.split("\n")]
# Blocks ([Peer] sections, "peer:" paragraphs) sorted; single-line listings sorted.
blocks, cur = [], []
for l in lines:
    if (l.startswith("[Peer]") or l.startswith("peer: ")) and cur:
        blocks.append(cur); cur = []
    cur.append(l)
blocks.append(cur)
head, rest = blocks[0], sorted("\n".join(b).strip("\n") for b in blocks[1:])
if len(blocks) == 1:
    # Listings, one line per peer (`wg show IF peers`, `endpoints`, ...): any order; a dump's
    # first line is the device's.
    head = [head[0]] + sorted(head[1:]) if sys.argv[2].endswith(" dump") else sorted(head)
print("\n".join(head).strip("\n")); print("\n\n".join(rest))
PY
)

COUNT=0
# same ARGS...: `wg ARGS` (IFNAME replaced) on both; outputs and statuses must match.
same() {
  local args_e=() args_g=() out_e out_g st_e=0 st_g=0
  for a in "$@"; do
    args_e+=("${a//IFNAME/$E}")
    args_g+=("${a//IFNAME/$G}")
  done
  out_e=$(nsx e wg "${args_e[@]}" 2>&1) || st_e=$?
  out_g=$(nsx g wg "${args_g[@]}" 2>&1) || st_g=$?
  out_e=$(python3 -c "$NORMALIZE" "$E" "$*" <<<"$out_e")
  out_g=$(python3 -c "$NORMALIZE" "$G" "$*" <<<"$out_g")
  COUNT=$((COUNT + 1))
  if [[ $out_e != "$out_g" || $st_e != "$st_g" ]]; then
    echo "--- wg $*: engine (status $st_e):"
    echo "$out_e"
    echo "--- wireguard-go (status $st_g):"
    echo "$out_g"
    fail "wg $* differs"
  fi
}

say "a fresh (down) interface"
same show IFNAME
same showconf IFNAME
same show IFNAME listen-port

say "wg set: keys, port, fwmark, peers"
same set IFNAME private-key "$KF" listen-port 21401 fwmark 0x42 \
  peer "$P1" preshared-key "$PSKF" allowed-ips 10.0.0.1/32,fd00::1/128 endpoint 198.18.97.9:1111 \
  peer "$P2" allowed-ips 10.0.1.0/24,10.0.9.0/24 persistent-keepalive 25
for what in "" dump public-key private-key listen-port fwmark peers endpoints allowed-ips \
  latest-handshakes persistent-keepalive transfer preshared-keys; do
  same show IFNAME $what
done
same showconf IFNAME

say "link up: the port is bound"
ip -n "$TAG-e" link set "$E" up
ip -n "$TAG-g" link set "$G" up
sleep 0.3
same show IFNAME listen-port
same show IFNAME dump

say "wg set: remove a peer, replace allowed IPs, endpoints of both families, keepalive off"
same set IFNAME peer "$P1" remove peer "$P2" allowed-ips 10.0.2.0/24 endpoint "[fd00::9]:2222" \
  persistent-keepalive off
same showconf IFNAME
same set IFNAME fwmark off listen-port 0
same show IFNAME fwmark

say "setconf, addconf, syncconf"
cat >"$SCRATCH/c1.conf" <<EOF
[Interface]
PrivateKey = $K
ListenPort = 21402

[Peer]
PublicKey = $P1
AllowedIPs = 10.1.0.0/16, fd01::/64
Endpoint = 198.18.97.8:51820

[Peer]
PublicKey = $P2
PresharedKey = $PSK
AllowedIPs = 10.2.0.1/32

[Peer]
PublicKey = $P3
AllowedIPs = 10.3.0.0/24
PersistentKeepalive = 15
EOF
cat >"$SCRATCH/c2.conf" <<EOF
[Interface]
PrivateKey = $K
ListenPort = 21402

[Peer]
PublicKey = $P2
AllowedIPs = 10.2.0.2/32, 10.2.0.3/32

[Peer]
PublicKey = $P4
AllowedIPs = 10.4.0.0/24
EOF
cat >"$SCRATCH/c3.conf" <<EOF
[Peer]
PublicKey = $P3
AllowedIPs = 10.3.1.0/24
EOF
same setconf IFNAME "$SCRATCH/c1.conf"
same showconf IFNAME
same show IFNAME dump
same addconf IFNAME "$SCRATCH/c3.conf"
same showconf IFNAME
same syncconf IFNAME "$SCRATCH/c2.conf"
same showconf IFNAME
same show IFNAME

say "errors: a port in use, a missing interface"
for ns in e g; do
  nsx $ns python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 21499)); time.sleep(120)' &
  PIDS+=($!)
done
for ns in e g; do
  for _ in $(seq 100); do
    [[ $(nsx $ns ss -Hun 'sport = 21499') == *21499* ]] && break
    sleep 0.1
  done
done
same set IFNAME listen-port 21499
same show IFNAME listen-port
same show "IFNAME-nope"
same set IFNAME peer "$P4" allowed-ips 10.4.0.0/33
echo "$COUNT wg commands gave the same answers"
