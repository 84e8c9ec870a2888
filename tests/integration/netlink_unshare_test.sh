#!/bin/sh
# Runs the unshare example and checks that the fresh namespace shows only the loopback.
set -eu
example=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
out=$("$example")
printf '%s\n' "$out"
before=$(printf '%s\n' "$out" | sed -n '/^before unshare/,/^after unshare/p' | grep -c '^  ' || true)
after=$(printf '%s\n' "$out" | sed -n '/^after unshare/,$p' | grep '^  ' || true)
[ "$before" -ge 1 ] || { echo "FAIL: no interfaces listed before unshare"; exit 1; }
[ "$after" = "  1 lo -" ] || { echo "FAIL: after unshare expected only '  1 lo -', got:"; echo "$after"; exit 1; }
echo "OK: $before interface(s) before unshare, only lo after"
