#!/usr/bin/env bash
# vm.netlink (runs inside the VM that scripts/vm boots): the netlink integration tests of
# tests/integration (rtnetlink, the kernel backend's create/configure/dump, configurations that
# span several netlink messages both ways) against the real WireGuard module. The kernel tests
# skip where there is no module; here WGNET_REQUIRE_KERNEL_WIREGUARD=1 makes that a failure.
# Usage: netlink.sh BUILD_DIR
set -euo pipefail
build="${1:?usage: netlink.sh BUILD_DIR}"
if ! ip link add wgnet-vmprobe type wireguard; then
  echo "vm.netlink: FAIL: this kernel cannot make a WireGuard link" >&2
  exit 1
fi
ip link del wgnet-vmprobe
echo "vm.netlink: $(uname -r), WireGuard module $(cat /sys/module/wireguard/version 2>/dev/null || echo '?')"
export WGNET_REQUIRE_KERNEL_WIREGUARD=1
rc=0
ctest --test-dir "$build" -R '^netlink\.' --output-on-failure --timeout 300 || rc=$?
((rc != 77)) || rc=1 # 77 means "no VM" to the ctest outside
exit "$rc"
