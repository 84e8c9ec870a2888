# e2e lib: the wgnetd under test (wgnetd_start/stop/kill, plugin_activate) and its seed files.
# Needs assert.sh (say, fail, assert_contains, defer, kill_pid), docker.sh (http_exchange),
# leftovers.sh (e2e_remove_stale_networks), lib.sh's E2E_RUN_DIR; e2e_init sets E2E_PREFIX,
# E2E_TMP, WGNETD.
# shellcheck shell=bash

E2E_PLUGIN_DIR="/run/docker/plugins"
WGNETD_PID=""
WGNETD_ARGS=()

# wgnetd under test: its own socket (driver name = socket basename), state and seed directories.

# wgnetd_start: options from $WGNETD_BACKEND (default engine) and $WGNETD_ARGS (more options, an
# array). Sets WGNETD_PID, E2E_DRIVER, WGNETD_SOCK, WGNETD_LOG,
# WGNETD_STATE, WGNETD_SEEDS, WGNETD_ADMIN_SOCKET (exported). A second call (restart) reuses socket
# and directories.
wgnetd_start() {
  [[ -x "$WGNETD" ]] || fail "wgnetd not found at $WGNETD (build it: scripts/build)"
  E2E_DRIVER="${E2E_DRIVER:-$E2E_PREFIX}"
  WGNETD_SOCK="$E2E_PLUGIN_DIR/$E2E_DRIVER.sock"
  WGNETD_LOG="$E2E_TMP/wgnetd.log"
  # Its admin socket is this scenario's own (never the host's /run/wgnet/admin.sock); `wgnet status`
  # finds it through the same variable.
  export WGNETD_ADMIN_SOCKET="$E2E_TMP/admin.sock"
  local first="" rc
  if [[ -z "${WGNETD_STATE:-}" ]]; then
    first=1
    WGNETD_STATE="$E2E_TMP/state"
    WGNETD_SEEDS="$E2E_TMP/seeds"
    mkdir -p "$WGNETD_STATE" "$E2E_PLUGIN_DIR"
    mkdir -m 700 "$WGNETD_SEEDS"
    # A socket of this name left by a killed run of this scenario.
    rm -f "$WGNETD_SOCK"
    defer rm -f "$WGNETD_SOCK"
    defer wgnetd_cleanup
  fi
  # The engine process wgnetd runs: this build tree's wgnet-engine (an installed wgnetd finds the
  # one beside it or in PATH).
  local engine_program
  engine_program="$(dirname "$WGNETD")/../engine/linux/wgnet-engine"
  if [[ -z "${WGNETD_ENGINE_PROGRAM:-}" && -x "$engine_program" ]]; then
    WGNETD_ENGINE_PROGRAM="$(realpath "$engine_program")"
    export WGNETD_ENGINE_PROGRAM
  fi
  say "starting wgnetd --socket $WGNETD_SOCK --backend ${WGNETD_BACKEND:-engine}"
  echo "---- wgnetd start $(date +%T)" >>"$WGNETD_LOG"
  "$WGNETD" --socket "$WGNETD_SOCK" --state-dir "$WGNETD_STATE" --seed-dir "$WGNETD_SEEDS" \
    --backend "${WGNETD_BACKEND:-engine}" --log-level debug "${WGNETD_ARGS[@]}" \
    >>"$WGNETD_LOG" 2>&1 &
  WGNETD_PID=$!
  echo "$WGNETD_PID" >"$E2E_RUN_DIR/$E2E_PREFIX.wgnetd.pid"
  local deadline=$((SECONDS + 20))
  until plugin_activate "$WGNETD_SOCK" >/dev/null 2>&1; do
    if ! kill -0 "$WGNETD_PID" 2>/dev/null; then
      wait "$WGNETD_PID" && rc=0 || rc=$?
      WGNETD_PID=""
      fail "wgnetd exited (status $rc) before serving $WGNETD_SOCK; log:"$'\n'"$(tail -30 "$WGNETD_LOG")"
    fi
    ((SECONDS < deadline)) || fail "wgnetd does not answer /Plugin.Activate on $WGNETD_SOCK after 20 s"
    sleep 0.2
  done
  local answer
  answer="$(plugin_activate "$WGNETD_SOCK")"
  assert_contains "wgnetd (pid $WGNETD_PID) answers /Plugin.Activate" "$answer" NetworkDriver
  if [[ -n "$first" ]]; then e2e_remove_stale_networks; fi
}

# POSTs /Plugin.Activate on a unix socket, prints the body (fails when nothing answers).
plugin_activate() {
  [[ -S "$1" ]] || return 1
  local request=$'POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n'
  request+=$'Accept: application/vnd.docker.plugins.v1.2+json\r\nConnection: close\r\n\r\n'
  http_exchange 5 "$request" unix "$1"
}

# Kills wgnetd hard, like a crash: its socket file stays.
wgnetd_kill() {
  say "killing wgnetd (pid $WGNETD_PID) with SIGKILL"
  kill -KILL "$WGNETD_PID"
  wait "$WGNETD_PID" 2>/dev/null || true
  WGNETD_PID=""
}

# Stops wgnetd with SIGTERM; returns its exit status (fails if it does not stop in 20 s).
wgnetd_stop() {
  local pid="$WGNETD_PID" i rc=0
  say "stopping wgnetd (pid $pid) with SIGTERM"
  kill -TERM "$pid"
  # shellcheck disable=SC2034 # i only counts the waits
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && fail "wgnetd (pid $pid) still running 20 s after SIGTERM"
  wait "$pid" || rc=$?
  WGNETD_PID=""
  rm -f "$E2E_RUN_DIR/$E2E_PREFIX.wgnetd.pid"
  return "$rc"
}

wgnetd_cleanup() {
  kill_pid "$WGNETD_PID"
  rm -f "$E2E_RUN_DIR/$E2E_PREFIX.wgnetd.pid"
  # The engine process outlives wgnetd while it serves devices (it ends by itself when it serves
  # none): this scenario's, named by its state directory, is stopped too.
  local engine
  engine="$(wgnetd_engine_pid)"
  if [[ -n "$engine" ]]; then
    kill -KILL "$engine" 2>/dev/null || true
    for _ in $(seq 1 50); do [[ -d /proc/$engine ]] || break; sleep 0.1; done
  fi
}

# The engine process of this scenario's wgnetd (its state directory's engine.pid, "pid=N
# start=T"), when that very process still runs: its PID; nothing otherwise.
wgnetd_engine_pid() {
  local f="${WGNETD_STATE:-/nonexistent}/engine.pid" id pid start
  [[ -f "$f" ]] || return 0
  id="$(cat "$f")"
  [[ "$id" =~ ^pid=([0-9]+)\ start=([0-9]+)$ ]] || return 0
  pid="${BASH_REMATCH[1]}" start="${BASH_REMATCH[2]}"
  if [[ "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" == "$start" &&
    "$(cat "/proc/$pid/comm" 2>/dev/null)" == wgnet-engine ]]; then
    echo "$pid"
  fi
}

# A fresh seed file in wgnetd's seed directory: prints its path.
make_seed_file() {
  local f="$WGNETD_SEEDS/${1:-seed}"
  head -c 32 /dev/urandom >"$f"
  chmod 600 "$f"
  echo "$f"
}
