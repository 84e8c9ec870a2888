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
