# e2e lib: Docker helpers (dk, net_*, ctr_*): networks of this scenario's driver, its containers;
# http_exchange, the one HTTP client (http_get for their published ports). Needs assert.sh (say,
# fail, defer, retry, assert_not_contains), dockerd.sh (DOCKER), image.sh (E2E_IMAGE), wgnetd.sh
# (E2E_DRIVER), lib.sh (E2E_PYTHON); e2e_init sets E2E_PREFIX, E2E_TMP.
# shellcheck shell=bash

# Docker helpers. Names are "$E2E_PREFIX-SHORT"; containers carry label wgnet-e2e=$E2E_PREFIX.

dk() { timeout 180 "$DOCKER" "$@"; }
net_name() { echo "$E2E_PREFIX-$1"; }
ctr_name() { echo "$E2E_PREFIX-$1"; }

net_rm() {
  "$DOCKER" network inspect "$1" >/dev/null 2>&1 || return 0
  timeout 60 "$DOCKER" network rm "$1" >/dev/null || say "warning: could not remove network $1"
}
ctr_rm() {
  "$DOCKER" container inspect "$1" >/dev/null 2>&1 || return 0
  timeout 60 "$DOCKER" rm -f "$1" >/dev/null || say "warning: could not remove container $1"
}

# net_create SHORT [docker network create options]: a network of this scenario's driver.
net_create() {
  local name out
  name="$(net_name "$1")"
  shift
  defer net_rm "$name"
  say "docker network create -d $E2E_DRIVER $* $name"
  out="$(dk network create -d "$E2E_DRIVER" "$@" "$name" 2>&1)" ||
    fail "docker network create $name failed: $out"
}

# net_create_fails SHORT [docker network create options]: the network is refused, and docker
# does not list it. Sets NET_CREATE_ERROR to what `docker network create` said.
net_create_fails() {
  local name
  name="$(net_name "$1")"
  shift
  defer net_rm "$name"
  say "docker network create -d $E2E_DRIVER $* $name (must fail)"
  if NET_CREATE_ERROR="$(dk network create -d "$E2E_DRIVER" "$@" "$name" 2>&1)"; then
    fail "docker network create $name succeeded, expected a refusal"
  fi
  say "  -> $NET_CREATE_ERROR"
  assert_not_contains "docker network ls does not list $name" "$(dk network ls --format '{{.Name}}')" "$name"
}

# ctr_run SHORT NET_SHORT: a long-running container on that network.
ctr_run() {
  local name out
  name="$(ctr_name "$1")"
  defer ctr_rm "$name"
  out="$(dk run -d --name "$name" --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name "$2")" \
    "$E2E_IMAGE" sleep 3600 2>&1)" || fail "docker run $name on network $(net_name "$2") failed: $out"
}

# ctr_run_parallel NET_SHORT SHORT...: several containers started at the same time.
ctr_run_parallel() {
  local net="$1" c pids=() i=0 out
  shift
  for c in "$@"; do
    defer ctr_rm "$(ctr_name "$c")"
    dk run -d --name "$(ctr_name "$c")" --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name "$net")" \
      "$E2E_IMAGE" sleep 3600 >"$E2E_TMP/run-$c.out" 2>&1 &
    pids+=($!)
  done
  for c in "$@"; do
    if ! wait "${pids[i]}"; then
      out="$(cat "$E2E_TMP/run-$c.out")"
      fail "docker run $(ctr_name "$c") (one of $# started at once) failed: $out"
    fi
    i=$((i + 1))
  done
}

# ctr_ip SHORT NET_SHORT [FIELD]: the container's IPAM address on that network (FIELD of docker
# inspect's network entry, default IPAddress); ctr_ip6: its IPv6 address.
ctr_ip() {
  local ip
  ip="$(dk inspect -f "{{(index .NetworkSettings.Networks \"$(net_name "$2")\").${3:-IPAddress}}}" "$(ctr_name "$1")")"
  [[ -n "$ip" ]] || fail "container $1 has no ${3:-IPAddress} on network $2"
  echo "$ip"
}
ctr_ip6() { ctr_ip "$1" "$2" GlobalIPv6Address; }
ctr_exec() {
  local c
  c="$(ctr_name "$1")"
  shift
  dk exec "$c" "$@"
}

# ctr_ping SHORT IP [TRIES]: one ping from inside the container answered within TRIES attempts.
ctr_ping() { retry "${3:-3}" ctr_exec "$1" ping -c1 -W2 "$2"; }

# http_exchange TIMEOUT REQUEST unix PATH | tcp HOST PORT: sends REQUEST (a whole HTTP/1 request)
# over a unix socket or TCP and prints the body of a 200 answer; fails on any other answer, or none
# within TIMEOUT seconds. The one HTTP client of the e2e scenarios.
http_exchange() {
  "$E2E_PYTHON" - "$@" <<'PY'
import socket, sys
timeout, request, kind = float(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
if kind == "unix":
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sys.argv[4])
else:
    s = socket.create_connection((sys.argv[4], int(sys.argv[5])), timeout=timeout)
s.sendall(request)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
status = head.split(b"\r\n")[0]
if not status.startswith(b"HTTP/1.") or b" 200 " not in status:
    sys.exit(1)
sys.stdout.write(body.decode(errors="replace"))
PY
}

# http_get HOST PORT: the body a web server there serves at / (fails when nothing answers within
# 3 s): for published ports.
http_get() { http_exchange 3 $'GET / HTTP/1.0\r\n\r\n' tcp "$1" "$2"; }
