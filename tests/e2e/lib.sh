# Sourced by every end-to-end scenario (and by scripts/demo, bench/container_start.sh).
#
# A scenario starts with
#     source "$(dirname "$0")/lib.sh"
#     e2e_init NAME INDEX [WGNET [WGNETD]]
# NAME names everything the scenario makes (networks, containers, netns, socket, driver); INDEX
# (1-250, distinct per scenario) picks its veth link 198.18.INDEX.0/30 between the host and the hub.
# Everything made through these helpers is registered for removal by an EXIT trap that also runs
# when the scenario fails; processes are stopped by PID only. Never sends traffic off the machine:
# tunnel addresses live only in the hub's netns and in containers, the hub behind a 198.18/15 veth.
#
# The helpers live in lib/, one file per concern; each file says what it needs from the others:
#   assert.sh     say/fail/ok, assert_*, retry; the cleanup registry (defer), the EXIT trap, kill_pid
#   leftovers.sh  what wgnet leaves in the host namespace; removing what a killed run left
#   image.sh      the test image (build_image)
#   docker.sh     dk, net_* and ctr_* helpers
#   hub.sh        the hub (hub_up) and the hub_* helpers
#   wgnetd.sh     the wgnetd under test (wgnetd_start/stop/kill, plugin_activate), seed files
#   setup.sh      e2e_init, e2e_standard, e2e_diagnostics
# shellcheck shell=bash

set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_ROOT="$(cd "$E2E_DIR/../.." && pwd)"
# shellcheck source=tests/e2e/dockerd.sh
source "$E2E_DIR/dockerd.sh"

E2E_RUN_DIR="/run/wgnet-e2e"   # pid files, to clean up after a run that was killed (ctest timeout)
E2E_UAPI_DIR="/var/run/wireguard"
# The helpers' HTTP client and the scenarios' small checks run on Debian's python3.
E2E_PYTHON="$(command -v /usr/bin/python3 || command -v python3 || true)"

# shellcheck source=tests/e2e/lib/assert.sh
source "$E2E_DIR/lib/assert.sh"
# shellcheck source=tests/e2e/lib/leftovers.sh
source "$E2E_DIR/lib/leftovers.sh"
# shellcheck source=tests/e2e/lib/image.sh
source "$E2E_DIR/lib/image.sh"
# shellcheck source=tests/e2e/lib/docker.sh
source "$E2E_DIR/lib/docker.sh"
# shellcheck source=tests/e2e/lib/hub.sh
source "$E2E_DIR/lib/hub.sh"
# shellcheck source=tests/e2e/lib/wgnetd.sh
source "$E2E_DIR/lib/wgnetd.sh"
# shellcheck source=tests/e2e/lib/setup.sh
source "$E2E_DIR/lib/setup.sh"
