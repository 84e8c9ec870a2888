# e2e lib: output (say, fail, ok), assertions (assert_*, retry), the cleanup registry (defer) with
# the EXIT trap's handler e2e_on_exit, and kill_pid. Needs nothing from the other files: e2e_init
# (setup.sh) sets E2E_NAME and installs the trap; e2e_diagnostics, when defined, runs on failure.
# shellcheck shell=bash

E2E_CLEANUP=()
E2E_START=$SECONDS

# ---------------------------------------------------------------------------------------------
# Output and assertions

say() { printf '[%s +%3ds] %s\n' "${E2E_NAME:-e2e}" $((SECONDS - E2E_START)) "$*"; }
fail() {
  printf '[%s +%3ds] FAIL: %s\n' "${E2E_NAME:-e2e}" $((SECONDS - E2E_START)) "$*" >&2
  exit 1
}
ok() { say "ok   $*"; }

# assert_eq WHAT EXPECTED SEEN
assert_eq() {
  [[ "$2" == "$3" ]] || fail "$1: expected '$2', saw '$3'"
  ok "$1"
}
# assert_ne WHAT UNEXPECTED SEEN
assert_ne() {
  [[ "$2" != "$3" ]] || fail "$1: expected anything but '$2'"
  ok "$1"
}
# assert_contains WHAT TEXT NEEDLE
assert_contains() {
  [[ "$2" == *"$3"* ]] || fail "$1: expected to find '$3' in:"$'\n'"$2"
  ok "$1"
}
# assert_not_contains WHAT TEXT NEEDLE
assert_not_contains() {
  [[ "$2" != *"$3"* ]] || fail "$1: expected no '$3' in:"$'\n'"$2"
  ok "$1"
}
# assert_empty WHAT TEXT
assert_empty() {
  [[ -z "$2" ]] || fail "$1: expected nothing, saw:"$'\n'"$2"
  ok "$1"
}
# assert_ok WHAT CMD...: CMD succeeds (its output is shown when it does not).
assert_ok() {
  local what="$1" out
  shift
  out="$("$@" 2>&1)" || fail "$what: expected success of '$*', it failed with:"$'\n'"$out"
  ok "$what"
}
# assert_fails WHAT CMD...: CMD fails.
assert_fails() {
  local what="$1" out
  shift
  if out="$("$@" 2>&1)"; then fail "$what: expected '$*' to fail, it succeeded:"$'\n'"$out"; fi
  ok "$what"
}
# assert_eventually WHAT SECONDS CMD...: CMD succeeds within SECONDS (retried every second).
assert_eventually() {
  local what="$1" limit="$2" out deadline
  shift 2
  deadline=$((SECONDS + limit))
  until out="$("$@" 2>&1)"; do
    ((SECONDS < deadline)) || fail "$what: '$*' still failing after ${limit}s; last output:"$'\n'"$out"
    sleep 1
  done
  ok "$what"
}

# retry N CMD...: CMD succeeds within N attempts; quiet, but shows the last output when it does not.
retry() {
  local n="$1" i out
  shift
  for ((i = 1; i <= n; i++)); do
    if out="$("$@" 2>&1)"; then return 0; fi
  done
  printf '%s\n' "$out" >&2
  return 1
}

# ---------------------------------------------------------------------------------------------
# Cleanup registry: `defer CMD ARGS...` runs CMD at exit, last registered first.

defer() { E2E_CLEANUP+=("$(printf '%q ' "$@")"); }

e2e_on_exit() {
  local rc=$? i
  set +e
  trap - EXIT INT TERM
  if ((rc != 0)) && declare -F e2e_diagnostics >/dev/null; then e2e_diagnostics; fi
  say "cleaning up"
  for ((i = ${#E2E_CLEANUP[@]} - 1; i >= 0; i--)); do eval "${E2E_CLEANUP[i]}"; done
  if ((rc == 0)); then say "PASS"; else say "FAILED (exit $rc)"; fi
  exit "$rc"
}

# Stops a process we started, by PID: SIGTERM, then SIGKILL after 10 s.
kill_pid() {
  local pid="$1" i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
