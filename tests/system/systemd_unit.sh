#!/usr/bin/env bash
# system.systemd_unit: packaging/systemd/wgnetd.service, unchanged, started by a real systemd.
# Boots systemd (this host's /lib/systemd/systemd) as PID 1 of a systemd-nspawn container whose
# root is an overlay of this host's / with a tmpfs on top, in a private network namespace, with
# this build's wgnetd bind-mounted as /usr/local/sbin/wgnetd (its wgnet-engine as
# /usr/local/bin/wgnet-engine, where `cmake --install` puts it) and the shipped unit as
# /etc/systemd/system/wgnetd.service. In it, a test service (systemd_unit_inner.sh) starts
# wgnetd with systemctl, drives it over its plugin socket as Docker would and checks that the
# sandbox is in effect; the container's systemd exits with that service's status.
# Nothing on the host changes: the overlay, the tmpfs on /run (where nspawn keeps its state) and
# the mounts live in a mount namespace of this script's own; the container's cgroups are made
# under a cgroup this script creates and removes. Only processes it started are stopped, by PID.
#
# Usage: systemd_unit.sh WGNETD WGNET WGNET_ENGINE
# Exit: 0 passed, 1 failed, 77 skipped (reason printed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
unit="$root/packaging/systemd/wgnetd.service"
SKIP=77
say() { printf 'systemd_unit: %s\n' "$*"; }
skip() {
  say "SKIPPED: $*"
  exit "$SKIP"
}

(($# == 3)) || { echo "usage: $0 WGNETD WGNET WGNET_ENGINE" >&2; exit 2; }
wgnetd="$(realpath "$1")" wgnet="$(realpath "$2")" engine="$(realpath "$3")"
for program in "$wgnetd" "$wgnet" "$engine"; do
  [[ -x "$program" ]] || { say "FAIL: $program is not an executable"; exit 1; }
done
((EUID == 0)) || skip "needs root (a container booting systemd)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn not found (Debian package systemd-container; scripts/install-deps)"
[[ -x /lib/systemd/systemd ]] || skip "/lib/systemd/systemd not found (Debian package systemd)"
for tool in unshare nsenter curl wg ip ncat; do
  command -v "$tool" >/dev/null || skip "$tool not found (scripts/install-deps)"
done
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "no overlay file system in this kernel"

tmp="$(mktemp -d /tmp/wgnet-systemd-unit.XXXXXX)"
nspawn_pid=""
cgroups=()  # the cgroups this script made, one per hierarchy nspawn uses

# Every process of the container lives in our cgroups: those PIDs, and nspawn's, are ours.
stop_ours() {
  local cg pid
  if [[ -n "$nspawn_pid" ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true  # nspawn powers the container off
    for _ in $(seq 1 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  for cg in "${cgroups[@]}"; do
    while read -r pid; do
      if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
    done < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  if [[ -n "$nspawn_pid" ]]; then wait "$nspawn_pid" 2>/dev/null || true; fi
}
cleanup() {
  stop_ours
  local cg
  for cg in "${cgroups[@]}"; do
    for _ in $(seq 1 50); do
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d "$cg" ]] || break
      sleep 0.1
    done
    [[ -d "$cg" ]] && say "warning: could not remove cgroup $cg"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# nspawn puts the container's cgroups under its own (--keep-unit): give it one of ours in every
# hierarchy it uses (the unified one, and name=systemd on a hybrid host like these).
while IFS=: read -r _ controllers path; do
  case "$controllers" in
    "") mnt="$(findmnt -rn -t cgroup2 -o TARGET | head -n1)" ;;
    name=systemd) mnt="$(findmnt -rn -t cgroup -o TARGET,OPTIONS | awk '$2 ~ /name=systemd/ {print $1; exit}')" ;;
    *) continue ;;
  esac
  [[ -n "$mnt" ]] || continue
  cg="$mnt${path%/}/wgnet-systemd-unit.$$"
  mkdir "$cg" || skip "cannot make a cgroup for the container ($cg)"
  cgroups+=("$cg")
done </proc/self/cgroup
((${#cgroups[@]})) || skip "no cgroup hierarchy for the container"

mkdir -p "$tmp/out" "$tmp/units"
# The boot target: basic.target (journald, tmpfiles: as a real boot) and the test service, no
# more (no docker.service, nothing of multi-user.target). The service's status ends the boot.
cat >"$tmp/units/wgnet-systemd-test.target" <<'EOF'
[Unit]
Description=wgnet systemd unit test
Requires=basic.target wgnet-systemd-test.service
After=basic.target
EOF
cat >"$tmp/units/wgnet-systemd-test.service" <<'EOF'
[Unit]
Description=wgnet systemd unit test: drives wgnetd.service
After=basic.target
[Service]
Type=oneshot
ExecStart=/bin/bash /wgnet-src/tests/system/systemd_unit_inner.sh /wgnet-src/packaging/systemd/wgnetd.service
StandardOutput=file:/wgnet-test-out/log
StandardError=inherit
TimeoutStartSec=150
# The container's systemd exits with the test's status (SuccessAction=exit did not act here).
ExecStopPost=/bin/sh -c 'case "$EXIT_STATUS" in [0-9]*) s=$EXIT_STATUS ;; *) s=1 ;; esac; exec systemctl --no-block exit "$s"'
EOF

say "booting systemd in a container (overlay of /, private network) with $unit and $wgnetd"
t0=$SECONDS
(
  for cg in "${cgroups[@]}"; do echo "$BASHPID" >"$cg/cgroup.procs"; done
  # shellcheck disable=SC2016 # expanded by the inner shell
  exec unshare --mount --propagation private -- bash -euc '
    tmp="$1"; shift
    mount -t tmpfs -o mode=0755 wgnet-test-run /run   # nspawn keeps its state in /run/systemd/nspawn
    mkdir -p "$tmp/ovl"
    mount -t tmpfs -o mode=0700 wgnet-test-overlay "$tmp/ovl"
    mkdir "$tmp/ovl/upper" "$tmp/ovl/work" "$tmp/ovl/root"
    mount -t overlay wgnet-test-root -o "lowerdir=/,upperdir=$tmp/ovl/upper,workdir=$tmp/ovl/work" "$tmp/ovl/root"
    exec systemd-nspawn --quiet --directory="$tmp/ovl/root" --machine=wgnet-systemd-test \
      --boot --register=no --keep-unit --private-network --console=pipe "$@"
  ' wgnet-systemd-unit "$tmp" \
    --bind-ro="$wgnetd":/usr/local/sbin/wgnetd \
    --bind-ro="$wgnet":/usr/local/bin/wgnet \
    --bind-ro="$engine":/usr/local/bin/wgnet-engine \
    --bind-ro="$unit":/etc/systemd/system/wgnetd.service \
    --bind-ro="$root":/wgnet-src \
    --bind-ro="$tmp/units/wgnet-systemd-test.target":/etc/systemd/system/wgnet-systemd-test.target \
    --bind-ro="$tmp/units/wgnet-systemd-test.service":/etc/systemd/system/wgnet-systemd-test.service \
    --bind="$tmp/out":/wgnet-test-out \
    -- systemd.unit=wgnet-systemd-test.target systemd.show_status=0 ${WGNET_SYSTEMD_TEST_BOOT_ARGS:-}
) >"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!

rc=0
deadline=$((SECONDS + ${WGNET_SYSTEMD_TEST_TIMEOUT:-200}))
while kill -0 "$nspawn_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
if kill -0 "$nspawn_pid" 2>/dev/null; then
  say "FAIL: the container did not finish within $((SECONDS - t0)) s"
  rc=1
  stop_ours
else
  wait "$nspawn_pid" || rc=$?
fi
nspawn_pid=""
say "container finished after $((SECONDS - t0)) s with status $rc"
echo "--- test service output (inside the container) ---"
cat "$tmp/out/log" 2>/dev/null || echo "(none)"
echo "--- end ---"
if [[ -s "$tmp/nspawn.log" ]]; then
  echo "--- systemd-nspawn ---"
  grep -v "refusing to link journals" "$tmp/nspawn.log" | tail -n 40 || true
  echo "--- end ---"
fi
if ((rc == 0)) && [[ "$(cat "$tmp/out/result" 2>/dev/null)" == PASS ]]; then
  say "PASS"
  exit 0
fi
((rc == SKIP)) && skip "the test inside the container skipped (see its output)"
say "FAIL (container status $rc, result '$(cat "$tmp/out/result" 2>/dev/null)')"
exit 1
