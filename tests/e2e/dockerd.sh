# Sourced: start Docker's daemon for the tests when none is running, and stop it again only if
# we started it (by PID). Uses Debian's docker.io.
# shellcheck shell=bash

# The client that matches Debian's engine (another `docker` may come first in PATH).
DOCKER="${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}"
export DOCKER
WGNET_DOCKERD_PID=""

dockerd_ensure_running() {
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  local log="${WGNET_DOCKERD_LOG:-/var/log/wgnet-test-dockerd.log}"
  echo "dockerd: starting (log: $log)"
  /usr/sbin/dockerd >"$log" 2>&1 &
  WGNET_DOCKERD_PID=$!
  for _ in $(seq 1 120); do
    if "$DOCKER" info >/dev/null 2>&1; then
      echo "dockerd: ready (pid $WGNET_DOCKERD_PID)"
      return 0
    fi
    if ! kill -0 "$WGNET_DOCKERD_PID" 2>/dev/null; then
      echo "dockerd: exited during start; last lines of $log:" >&2
      tail -20 "$log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "dockerd: not ready after 60 s; see $log" >&2
  return 1
}

dockerd_stop_if_started() {
  [[ -n "$WGNET_DOCKERD_PID" ]] || return 0
  if kill -0 "$WGNET_DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$WGNET_DOCKERD_PID"
    for _ in $(seq 1 60); do
      kill -0 "$WGNET_DOCKERD_PID" 2>/dev/null || break
      sleep 0.5
    done
    kill -0 "$WGNET_DOCKERD_PID" 2>/dev/null && kill -KILL "$WGNET_DOCKERD_PID"
  fi
  WGNET_DOCKERD_PID=""
}

# ---------------------------------------------------------------------------------------------
# A private dockerd, for scenarios that kill and restart Docker itself: its own containerd (started
# apart from it, as a system's containerd.service is, so containers outlive a killed dockerd), data
# root, exec root (sandboxes), socket and pid files under DIR and RUN, no bridge and no iptables
# rules, so it never meets the host's dockerd. Only wgnet networks are used with it.

# dockerd_private_start DIR RUN [dockerd options]: starts it (or again, on the same directories),
# its containerd first when that is not running, and points this shell's docker client at it
# (DOCKER_HOST). Sets PRIVATE_DOCKERD_PID.
dockerd_private_start() {
  local dir="$1" run="$2" log i
  shift 2
  mkdir -p "$dir/data" "$dir/containerd" "$run"
  log="$dir/dockerd.log"
  if ! private_pid_alive "$dir/containerd.pid" containerd; then
    printf 'version = 2\nroot = "%s"\nstate = "%s"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s"\n' \
      "$dir/containerd" "$run/containerd-state" "$run/containerd.sock" >"$dir/containerd.toml"
    containerd --config "$dir/containerd.toml" --log-level warn >>"$dir/containerd.log" 2>&1 &
    echo $! >"$dir/containerd.pid"
    for i in $(seq 1 40); do
      [[ -S "$run/containerd.sock" ]] && break
      sleep 0.25
    done
  fi
  echo "---- dockerd start $(date +%T) $*" >>"$log"
  /usr/sbin/dockerd --data-root "$dir/data" --exec-root "$run/exec" -H "unix://$run/docker.sock" \
    --pidfile "$run/docker.pid" --containerd "$run/containerd.sock" --bridge=none \
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
  local pid i
  private_pid_alive "$1" "$2" || return 0
  pid="$(cat "$1")"
  kill -TERM "$pid"
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
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
  fi
  dockerd_private_stop "$dir"
  private_stop "$dir/containerd.pid" containerd
  # Shims of containers that were running when containerd stopped.
  local p
  for p in /proc/[0-9]*; do
    if [[ "$(cat "$p/comm" 2>/dev/null)" == containerd-shim* ]] &&
      tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$run/containerd.sock"; then
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
  awk -v d="$dir" -v r="$run" 'index($2, d) == 1 || index($2, r) == 1 {print $2}' /proc/mounts |
    sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir" "$run"
}
