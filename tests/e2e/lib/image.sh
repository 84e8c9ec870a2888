# e2e lib: the test image, wgnet-test:busybox, built from the host's static busybox. Needs
# assert.sh (say, fail) and dockerd.sh (DOCKER).
# shellcheck shell=bash

E2E_IMAGE="wgnet-test:busybox"

build_image() {
  if "$DOCKER" image inspect "$E2E_IMAGE" >/dev/null 2>&1; then return 0; fi
  if ! [[ -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then
    fail "/bin/busybox from busybox-static missing (run scripts/install-deps)"
  fi
  say "building $E2E_IMAGE from /bin/busybox"
  local root a
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in sh ip ping sleep cat ls wget nc ifconfig route true echo grep sed awk ps hostname \
    netstat cut head tail wc; do
    ln -s busybox "$root/bin/$a"
  done
  tar -C "$root" -c . | "$DOCKER" import -m "wgnet e2e test image (busybox-static)" - "$E2E_IMAGE" >/dev/null
  rm -rf "$root"
}
