#!/usr/bin/env bash
# e2e.ports: published ports (`docker run -p`) on a container whose gateway is wgnet. Docker 28 and
# later hand the port bindings to the gateway endpoint (ProgramExternalConnectivity); wgnetd listens
# on the host's address and port and relays each TCP connection and UDP flow into the container's
# namespace. The container keeps only lo and wg0, and no route but the tunnel's.
#  - alone on wgnet: a TCP port on 127.0.0.1 and on [::1], two UDP ports (a range the CLI expands),
#    a host port range for one container port (its first port taken: the next one is used);
#  - beside a bridge network, wgnet's default route chosen by gw-priority: the ports are wgnet's;
#  - `docker stop` revokes (the ports close), `docker start` programs again; wgnetd killed and
#    restarted publishes them again by itself (Docker does not send them again);
#  - Docker 20.10 and 26 never send ProgramExternalConnectivity to an endpoint without a gateway
#    address: there the port does not answer, and wgnetd is never asked (checked as such).
# Usage: ports.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init ports 28 "$@"
e2e_standard 10.28.0

# A web server in the container (busybox httpd) on 8080 and 8081, whatever starts it.
SERVE='mkdir -p /www && hostname >/www/index.html && busybox httpd -p 8080 -h /www &&
  busybox httpd -p 8081 -h /www && exec sleep 3600'
# udp_echo HOST PORT MESSAGE: the answer to one datagram (fails without one within 3 s).
udp_echo() {
  "$E2E_PYTHON" - "$@" <<'PY'
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
print(s.recv(65536).decode())
PY
}
# udp_echo_server CONTAINER PORT: a UDP echo service in the container's namespace (iputils-free:
# the host's python, entered into the container's network namespace), stopped at exit.
udp_echo_server() {
  local pid
  pid="$(dk inspect -f '{{.State.Pid}}' "$(ctr_name "$1")")"
  nsenter -t "$pid" -n "$E2E_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(b"echo:" + data, peer)' "$2" >/dev/null 2>&1 &
  defer kill_pid "$!"
  assert_eventually "a UDP echo service listens on $1's port $2" 10 \
    sh -c "nsenter -t $pid -n ss -Hlun 'sport = :$2' | grep -q ."
}
listening() { ss -Hltn "sport = :$1" | grep -q .; }
run_published() {
  local name out
  name="$(ctr_name "$1")"
  shift
  defer ctr_rm "$name"
  out="$(dk run -d --name "$name" --hostname "$1" --label "wgnet-e2e=$E2E_PREFIX" "${@:2}" \
    "$E2E_IMAGE" sh -c "$SERVE" 2>&1)" || fail "docker run $name failed: $out"
}

major="$(docker_server_version)"
major="${major%%.*}"
if ((major < 28)); then
  run_published c1 c1 --network "$(net_name net)" -p 127.0.0.1:18092:8080
  assert_ok "c1 pings the hub" ctr_ping c1 "$HUB_IP"
  assert_fails "Docker $major: 127.0.0.1:18092 does not answer" http_get 127.0.0.1 18092
  assert_not_contains "Docker $major never sent ProgramExternalConnectivity" "$(cat "$WGNETD_LOG")" \
    ProgramExternalConnectivity
  exit 0
fi

# The first port of the range 18110-18112 is taken by someone else.
"$E2E_PYTHON" -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 18110)); s.listen(); time.sleep(3600)' &
defer kill_pid "$!"
assert_eventually "a stranger listens on 18110" 5 listening 18110

run_published c1 c1 --network "$(net_name net)" -p 127.0.0.1:18092:8080 -p '[::1]:18093:8080' \
  -p 127.0.0.1:18100-18101:9000-9001/udp -p 127.0.0.1:18110-18112:8081
udp_echo_server c1 9000
udp_echo_server c1 9001
assert_eq "inside c1: lo and wg0 only" "lo wg0" \
  "$(ctr_exec c1 ip -o link | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | xargs)"
assert_eq "c1's only route out is the tunnel" "default dev wg0" \
  "$(ctr_exec c1 ip -4 route show | grep '^default' | awk '{print $1, $2, $3}')"
assert_ok "c1 pings the hub" ctr_ping c1 "$HUB_IP"
assert_eventually "127.0.0.1:18092 (TCP) reaches c1's 8080" 10 http_get 127.0.0.1 18092
assert_eq "what answers is c1's web server" c1 "$(http_get 127.0.0.1 18092)"
assert_eq "[::1]:18093 (TCP, an IPv6 host address) reaches it too" c1 "$(http_get ::1 18093)"
assert_eq "UDP 18100 reaches c1's 9000 and the answer comes back" "echo:a" "$(udp_echo 127.0.0.1 18100 a)"
assert_eq "UDP 18101 reaches c1's 9001" "echo:b" "$(udp_echo 127.0.0.1 18101 b)"
assert_eq "of the host range 18110-18112, 18111 is used (18110 was taken)" c1 "$(http_get 127.0.0.1 18111)"
assert_contains "wgnetd says what it publishes" "$(cat "$WGNETD_LOG")" "publishing"
assert_fails "nothing listens on 0.0.0.0:18092 (only the address asked for)" http_get 198.18.28.1 18092

say "docker stop: Docker revokes, the ports close"
dk stop -t 1 "$(ctr_name c1)" >/dev/null
assert_eventually "nothing listens on 18092 after docker stop" 10 sh -c '! ss -Hltn "sport = :18092" | grep -q .'
say "docker start: published again"
dk start "$(ctr_name c1)" >/dev/null
assert_eventually "127.0.0.1:18092 answers again after docker start" 10 http_get 127.0.0.1 18092

say "wgnetd killed and restarted: it publishes the ports again (Docker does not ask twice)"
wgnetd_kill
assert_fails "while wgnetd is down, 18092 does not answer" http_get 127.0.0.1 18092
wgnetd_start
assert_eventually "127.0.0.1:18092 answers again after wgnetd restarted" 10 http_get 127.0.0.1 18092
assert_contains "wgnetd restored them from its state" "$(cat "$WGNETD_LOG")" "publishing again"

# Beside a bridge, with the default route on wgnet (gw-priority): the ports are wgnet's to publish.
BR="$(net_name br)"
defer net_rm "$BR"
dk network create -d bridge --subnet 198.19.228.0/24 "$BR" >/dev/null
run_published c2 c2 --network "name=$BR,gw-priority=0" --network "name=$(net_name net),gw-priority=10" \
  -p 127.0.0.1:18094:8080
assert_eq "c2's default route is the tunnel" "default dev wg0" \
  "$(ctr_exec c2 ip -4 route show | grep '^default' | awk '{print $1, $2, $3}')"
assert_eventually "127.0.0.1:18094 reaches c2 (published by wgnet)" 10 http_get 127.0.0.1 18094
assert_eq "what answers is c2's web server" c2 "$(http_get 127.0.0.1 18094)"

ctr_rm "$(ctr_name c1)"
ctr_rm "$(ctr_name c2)"
assert_eventually "no listener left after the containers are removed" 10 \
  sh -c '! ss -Hltun | grep -qE ":(18092|18093|18094|18100|18101|18111) "'
