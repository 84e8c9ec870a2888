# Sourced: the Docker engine the tests use (WGNET_DOCKER), started when none is running and
# stopped again only if we started it (by PID).
#
# WGNET_DOCKER picks the engine (scripts/docker-engines pins them):
#   28      Docker 28.5.2 from Debian sid (the default), unpacked by scripts/install-docker
#   26      Docker 26.1.5 from Debian trixie, likewise
#   20      Debian 12's own docker.io (20.10)
#   system  whatever dockerd answers on the default socket; else Debian 12's, started
# The unpacked engines run with their own containerd (its own socket, root and state) and data root
# under /var/lib/wgnet-test and /run/wgnet-test, on the default socket /var/run/docker.sock, with
# Debian 12's runc. Their own docker CLI drives them (Compose v2 as `docker compose`).
# shellcheck shell=bash

_dockerd_sh_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/docker-engines
source "$_dockerd_sh_dir/../../scripts/docker-engines"

WGNET_DOCKER="${WGNET_DOCKER:-$WGNET_DOCKER_DEFAULT}"
export WGNET_DOCKER
WGNET_DOCKERD_PID=""
WGNET_CONTAINERD_PID=""

# docker_select ENGINE: points DOCKER (the client), DOCKERD, CONTAINERD, DOCKER_ENGINE_PATH (what
# dockerd and containerd need first in PATH: docker-proxy, the shim) and, for an unpacked engine,
# DOCKER_CONFIG (where its CLI finds Compose v2) at ENGINE's binaries. Fails for an engine that is
# not installed, saying how to install it.
docker_select() {
  local dir
  case "$1" in
    20 | system)
      DOCKER="$(command -v /usr/bin/docker || command -v docker)"
      DOCKERD=/usr/sbin/dockerd
      CONTAINERD=""
      DOCKER_ENGINE_PATH=""
      unset DOCKER_CONFIG  # an unpacked engine's, when one was chosen before
      ;;
    *)
      if ! dir="$(docker_engine_dir "$1")"; then
        echo "WGNET_DOCKER=$1: unknown engine; expected ${!WGNET_DOCKER_ENGINES[*]}, 20 or system" >&2
        return 1
      fi
      if [[ ! -f "$dir/.complete" ]]; then
        echo "WGNET_DOCKER=$1: Docker $1 is not installed in $dir; run scripts/install-docker $1" >&2
        return 1
      fi
      DOCKER="$dir/usr/bin/docker"
      DOCKERD="$dir/usr/sbin/dockerd"
      CONTAINERD="$dir/usr/bin/containerd"
      DOCKER_ENGINE_PATH="$dir/usr/sbin:$dir/usr/bin"
      export DOCKER_CONFIG="$dir/cli-config"
      ;;
  esac
  export DOCKER DOCKERD CONTAINERD DOCKER_ENGINE_PATH
}
docker_select "$WGNET_DOCKER" || return 1

# docker_engine_matches: the dockerd answering DOCKER is the one WGNET_DOCKER asks for.
docker_server_version() { "$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null; }
docker_engine_matches() {
  local v
  v="$(docker_server_version)" || return 1
  case "$WGNET_DOCKER" in
    system) return 0 ;;
    20) [[ "$v" == 20.10.* ]] ;;
    *) [[ "$v" == "$WGNET_DOCKER".* ]] ;;
  esac
}

# The unpacked engines' containerd and dockerd data, apart from the system's.
docker_test_dirs() { echo "/var/lib/wgnet-test/docker-$WGNET_DOCKER /run/wgnet-test/docker-$WGNET_DOCKER"; }

dockerd_ensure_running() {
  if "$DOCKER" info >/dev/null 2>&1; then
    if docker_engine_matches; then return 0; fi
    echo "dockerd: Docker $(docker_server_version) already runs on the default socket, but" \
      "WGNET_DOCKER=$WGNET_DOCKER asks for another engine: stop it, or set WGNET_DOCKER=system to" \
      "test against it" >&2
    return 1
  fi
  local log="${WGNET_DOCKERD_LOG:-/var/log/wgnet-test-dockerd.log}" data run i
  local -a env_path=()
  if [[ -n "$CONTAINERD" ]]; then
    read -r data run <<<"$(docker_test_dirs)"
    mkdir -p "$data/containerd" "$data/docker" "$run"
    env_path=(env "PATH=$DOCKER_ENGINE_PATH:$PATH")
    printf 'version = 2\nroot = "%s"\nstate = "%s"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s"\n' \
      "$data/containerd" "$run/containerd-state" "$run/containerd.sock" >"$run/containerd.toml"
    echo "containerd: starting $CONTAINERD (log: $log)"
    "${env_path[@]}" "$CONTAINERD" --config "$run/containerd.toml" --log-level warn >"$log.containerd" 2>&1 &
    WGNET_CONTAINERD_PID=$!
    for i in $(seq 1 80); do
      [[ -S "$run/containerd.sock" ]] && break
      kill -0 "$WGNET_CONTAINERD_PID" 2>/dev/null || break
      sleep 0.25
    done
    if [[ ! -S "$run/containerd.sock" ]]; then
      echo "containerd: did not open $run/containerd.sock; last lines of $log.containerd:" >&2
      tail -20 "$log.containerd" >&2
      dockerd_stop_if_started
      return 1
    fi
    echo "dockerd: starting Docker $WGNET_DOCKER ($DOCKERD, data $data/docker, log: $log)"
    "${env_path[@]}" "$DOCKERD" --containerd "$run/containerd.sock" --data-root "$data/docker" >"$log" 2>&1 &
  else
    echo "dockerd: starting $DOCKERD (log: $log)"
    "$DOCKERD" >"$log" 2>&1 &
  fi
  WGNET_DOCKERD_PID=$!
  for i in $(seq 1 120); do
    if "$DOCKER" info >/dev/null 2>&1; then
      echo "dockerd: ready (pid $WGNET_DOCKERD_PID, Docker $(docker_server_version))"
      return 0
    fi
    if ! kill -0 "$WGNET_DOCKERD_PID" 2>/dev/null; then
      echo "dockerd: exited during start; last lines of $log:" >&2
      tail -20 "$log" >&2
      dockerd_stop_if_started
      return 1
    fi
    sleep 0.5
  done
  echo "dockerd: not ready after 60 s; see $log" >&2
  dockerd_stop_if_started
  return 1
}

# _stop_pid PID: SIGTERM, SIGKILL after 30 s, to a process we started.
_stop_pid() {
  local _
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1"
  for _ in $(seq 1 60); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL "$1" 2>/dev/null || true
}

dockerd_stop_if_started() {
  _stop_pid "$WGNET_DOCKERD_PID"
  WGNET_DOCKERD_PID=""
  _stop_pid "$WGNET_CONTAINERD_PID"
  WGNET_CONTAINERD_PID=""
}

# ---------------------------------------------------------------------------------------------
# A private dockerd, for scenarios that kill and restart Docker itself: its own containerd (started
# apart from it, as a system's containerd.service is, so containers outlive a killed dockerd), data
# root, exec root (sandboxes), socket and pid files under DIR and RUN, a bridge of its own and no
# iptables rules, so it never meets the host's dockerd. Only wgnet networks are used with it.
# (A dockerd with --bridge=none deletes the docker0 of its network namespace at start: in the
# host's namespace it gets a bridge of its own instead, made here and removed with it.)

# dockerd_private_start DIR RUN [dockerd options]: starts it (or again, on the same directories),
# its containerd first when that is not running, and points this shell's docker client at it
# (DOCKER_HOST). Sets PRIVATE_DOCKERD_PID. Both run under the command prefix PRIVATE_DOCKERD_WRAP
# (an array; private_host_create sets it) with dockerd's exec root PRIVATE_DOCKERD_EXEC_ROOT
# (default RUN/exec).
PRIVATE_DOCKERD_WRAP=()
dockerd_private_start() {
  local dir="$1" run="$2" log i
  shift 2
  mkdir -p "$dir/data" "$dir/containerd" "$run"
  log="$dir/dockerd.log"
  if ! private_pid_alive "$dir/containerd.pid" containerd; then
    printf 'version = 2\nroot = "%s"\nstate = "%s"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s"\n' \
      "$dir/containerd" "$run/containerd-state" "$run/containerd.sock" >"$dir/containerd.toml"
    "${PRIVATE_DOCKERD_WRAP[@]}" env "PATH=${DOCKER_ENGINE_PATH:+$DOCKER_ENGINE_PATH:}$PATH" \
      "${CONTAINERD:-containerd}" --config "$dir/containerd.toml" --log-level warn >>"$dir/containerd.log" 2>&1 &
    echo $! >"$dir/containerd.pid"
    for i in $(seq 1 40); do
      [[ -S "$run/containerd.sock" ]] && break
      sleep 0.25
    done
  fi
  local bridge=none
  if [[ " ${PRIVATE_DOCKERD_WRAP[*]} " != *" --net="* ]]; then bridge="$(private_bridge "$dir")"; fi
  echo "---- dockerd start $(date +%T) $*" >>"$log"
  "${PRIVATE_DOCKERD_WRAP[@]}" env "PATH=${DOCKER_ENGINE_PATH:+$DOCKER_ENGINE_PATH:}$PATH" \
    "$DOCKERD" --data-root "$dir/data" \
    --exec-root "${PRIVATE_DOCKERD_EXEC_ROOT:-$run/exec}" -H "unix://$run/docker.sock" \
    --pidfile "$run/docker.pid" --containerd "$run/containerd.sock" --bridge="$bridge" \
    --iptables=false --ip-forward=false --ip-masq=false --userland-proxy=false "$@" >>"$log" 2>&1 &
  PRIVATE_DOCKERD_PID=$!
  echo "$PRIVATE_DOCKERD_PID" >"$dir/dockerd.pid"
  export DOCKER_HOST="unix://$run/docker.sock"
  for i in $(seq 1 120); do
    if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$PRIVATE_DOCKERD_PID" 2>/dev/null; then
      echo "private dockerd exited during start; last lines of $log:" >&2
      tail -20 "$log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "private dockerd not ready after 60 s; see $log" >&2
  return 1
}

# private_bridge DIR: the name of the bridge of the private dockerd of DIR in the host's network
# namespace (e2ebr + 8 hex digits of DIR's hash), made with an address of the test range
# (198.19.N.1/24) when it does not exist yet, so dockerd takes no address of its own pools.
private_bridge_name() { echo "e2ebr$(printf '%s' "$1" | md5sum | cut -c1-8)"; }
private_bridge() {
  local name
  name="$(private_bridge_name "$1")"
  if ! ip link show "$name" >/dev/null 2>&1; then
    ip link add "$name" type bridge &&
      ip addr add "198.19.$((0x${name:5:2})).1/24" dev "$name" || return 1
  fi
  echo "$name"
}

# docker0_ifindex: the ifindex of this network namespace's docker0, empty when there is none (the
# scenarios with a private dockerd check the host's is left alone).
docker0_ifindex() { ip -o link show docker0 2>/dev/null | cut -d: -f1 || true; }

# private_pid_alive PIDFILE COMM: the process in PIDFILE runs and is COMM (not a reused PID).
private_pid_alive() {
  local pid
  pid="$(cat "$1" 2>/dev/null || true)"
  [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]]
}

# dockerd_private_kill: SIGKILL to dockerd, as a crash would (containerd and containers stay).
dockerd_private_kill() {
  kill -KILL "$PRIVATE_DOCKERD_PID" 2>/dev/null || true
  wait "$PRIVATE_DOCKERD_PID" 2>/dev/null || true
  PRIVATE_DOCKERD_PID=""
}

# private_stop PIDFILE COMM: SIGTERM, then SIGKILL after 30 s, to the process in PIDFILE.
private_stop() {
  private_pid_alive "$1" "$2" || return 0
  _stop_pid "$(cat "$1")"
}

# dockerd_private_stop DIR: stops the private dockerd (its containers go with it unless it runs with
# --live-restore).
dockerd_private_stop() {
  private_stop "$1/dockerd.pid" dockerd
  PRIVATE_DOCKERD_PID=""
}

# dockerd_private_remove DIR RUN: stops everything of the private dockerd (containers included),
# unmounts what it left and removes both directories.
dockerd_private_remove() {
  local dir="$1" run="$2" id
  if private_pid_alive "$dir/dockerd.pid" dockerd; then
    for id in $("$DOCKER" ps -aq 2>/dev/null); do "$DOCKER" rm -f "$id" >/dev/null 2>&1 || true; done
    for id in $("$DOCKER" plugin ls -q 2>/dev/null); do
      "$DOCKER" plugin disable -f "$id" >/dev/null 2>&1 || true
      "$DOCKER" plugin rm -f "$id" >/dev/null 2>&1 || true
    done
  fi
  dockerd_private_stop "$dir"
  private_stop "$dir/containerd.pid" containerd
  # Shims of containers (and managed plugins) that were running when containerd stopped, and the
  # containers' first processes (whose end ends their PID namespace).
  local p c
  for p in /proc/[0-9]*; do
    if [[ "$(cat "$p/comm" 2>/dev/null)" == containerd-shim* ]] &&
      tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$run/containerd.sock"; then
      # shellcheck disable=SC2013 # PIDs, separated by spaces
      for c in $(cat "$p"/task/*/children 2>/dev/null); do kill -KILL "$c" 2>/dev/null || true; done
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
  awk -v d="$dir" -v r="$run" 'index($2, d) == 1 || index($2, r) == 1 {print $2}' /proc/mounts |
    sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip link del "$(private_bridge_name "$dir")" 2>/dev/null || true
  rm -rf "$dir" "$run"
}

# ---------------------------------------------------------------------------------------------
# A private dockerd as a host of its own: its own mount namespace (its own /run/docker: sandboxes,
# managed plugins' sockets) with every mount shared inside it, as systemd makes them at boot, so a
# managed plugin sees the sandboxes of containers started after it; optionally its own network
# namespace too. Its data root and sockets stay under the DIR and RUN of dockerd_private_start.

# private_host_create RUN [NETNS]: makes the mount namespace, held by RUN/mnt, and sets
# PRIVATE_DOCKERD_WRAP (containerd and dockerd start in it, and in the network namespace NETNS,
# made by `ip netns add`) and PRIVATE_DOCKERD_EXEC_ROOT=/run/docker (sandboxes are
# /var/run/docker/netns/ID, where a managed plugin's config mounts them from).
private_host_create() {
  local run="$1" netns="${2:-}"
  mkdir -p "$run" /run/docker
  # `unshare --mount=FILE` binds the namespace on FILE, which must lie on a private mount.
  if ! mountpoint -q "$run"; then mount --bind "$run" "$run"; fi
  mount --make-private "$run"
  touch "$run/mnt"
  if ! private_host_alive "$run"; then
    unshare --mount="$run/mnt" --propagation shared true
    nsenter --mount="$run/mnt" sh -c 'mount -t tmpfs -o mode=0711 wgnet-e2e-docker /run/docker &&
      mkdir -p /run/docker/netns /run/docker/plugins'
  fi
  PRIVATE_DOCKERD_WRAP=(nsenter --mount="$run/mnt")
  if [[ -n "$netns" ]]; then PRIVATE_DOCKERD_WRAP+=(--net="/run/netns/$netns"); fi
  PRIVATE_DOCKERD_EXEC_ROOT=/run/docker
}

# private_host_alive RUN: RUN/mnt holds a mount namespace.
private_host_alive() { [[ "$(stat -f -c %T "$1/mnt" 2>/dev/null)" == nsfs ]]; }

# private_host_exec RUN CMD...: runs CMD in that host's mount namespace (e.g. to look at its files).
private_host_exec() {
  local run="$1"
  shift
  nsenter --mount="$run/mnt" "$@"
}
