#!/usr/bin/env bash
# vm e2e scenario "e2e_kernel": what only the kernel backend has, on a kernel with WireGuard (the
# VM of scripts/vm; tests/vm/e2e.sh runs it next to the scenarios of tests/e2e):
#  - wgnetd --backend auto picks kernel and says so in its log;
#  - the article's network (io.bestov.wg.* options, its example keys) and a hardened one (hkdf,
#    derived preshared keys) give containers a kernel WireGuard wg0 whose configuration, read in
#    the container's namespace by wireguard-tools, is the derived one; hub and containers reach
#    each other;
#  - wgnetd killed with SIGKILL: the kernel devices keep carrying traffic while it is down; after
#    its restart it restores its state, and a new container joins;
#  - a stopped container loses its device; once every container and network is removed no
#    WireGuard link, TUN device or wireguard-go process of wgnet's is left, and wgnetd stops
#    cleanly on SIGTERM.
# Usage: e2e_kernel.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/../e2e/lib.sh"
WGNETD_BACKEND=auto
e2e_init e2e_kernel 40 "$@"

# ctr_wg SHORT ARGS...: wireguard-tools in the container's network namespace (kernel devices are
# configured over generic netlink in the namespace they are in). ctr_start records the PID once:
# under emulation every docker call costs a second or more.
declare -A CTR_PID=()
ctr_start() {
  ctr_run "$@"
  CTR_PID[$1]="$(dk inspect -f '{{.State.Pid}}' "$(ctr_name "$1")")"
}
ctr_wg() { nsenter -t "${CTR_PID[$1]}" -n wg "${@:2}"; }
ctr_link() { nsenter -t "${CTR_PID[$1]}" -n ip -d -o link show "${@:2}"; }
host_wireguard_links() { ip -o link show type wireguard | awk -F': ' '{sub(/@.*/, "", $2); print $2}'; }
# wireguard-go processes other than the hubs': the kernel backend never starts one.
hub_pids() {
  local h
  for h in "${!E2E_HUBS[@]}"; do (hub_select "$h" && echo "$HUB_PID"); done
}
extra_wg_go() { pgrep -x wireguard-go | grep -vxF -f <(hub_pids) || true; }
# What the last wgnetd started wrote to its log.
last_wgnetd_log() { awk '/^---- wgnetd start/ {buf = ""} {buf = buf $0 "\n"} END {printf "%s", buf}' "$WGNETD_LOG"; }

# kernel_device SHORT WHAT: the container's wg0 is a kernel WireGuard link.
kernel_device() {
  local link
  link="$(ctr_link "$1" wg0)"
  assert_contains "$2: wg0 in $1 is a kernel WireGuard link" "$link" " wireguard "
}

build_image
wgnetd_start
assert_contains "wgnetd --backend auto picks the kernel backend and says so" "$(cat "$WGNETD_LOG")" \
  "default backend: kernel (auto)"
base_links="$(host_wireguard_links)"

say "---- the article's network"
SEED=dGVzdHNlZWQK
ADDITIONAL=dGVzdGFkZGl0aW9uYWwK
ARTICLE_CONTAINER_PUB=+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=
HUB_PRIVATE_KEY=uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU= \
  hub_up article 10101 192.168.5.1/30 --kdf sha3 --seed "$SEED" --additional "$ADDITIONAL" \
  --subnet 192.168.5.0/30
net_create article --subnet 192.168.5.0/30 --gateway 192.168.5.1 \
  -o io.bestov.wg.peer="$HUB_ENDPOINT" -o io.bestov.wg.peerkey="$HUB_PUB" \
  -o io.bestov.wg.seed="$SEED" -o io.bestov.wg.additional="$ADDITIONAL"
ctr_start a1 article
kernel_device a1 "article"
assert_eq "a1's kernel device has the article's derived key" "$ARTICLE_CONTAINER_PUB" "$(ctr_wg a1 show wg0 public-key)"
assert_eq "a1's only peer is the hub, keepalive 25 s" "$HUB_PUB	25" "$(ctr_wg a1 show wg0 persistent-keepalive)"
assert_eq "a1's peer endpoint is the hub's" "$HUB_PUB	$HUB_ENDPOINT" "$(ctr_wg a1 show wg0 endpoints)"
assert_ok "the hub pings a1 (192.168.5.2) right after start" hub_ping 192.168.5.2
assert_ok "a1 pings the hub 192.168.5.1" ctr_ping a1 192.168.5.1
[[ "$(hub_peer_field "$ARTICLE_CONTAINER_PUB" latest-handshakes)" =~ ^[1-9][0-9]*$ ]] ||
  fail "the hub has no handshake with the article's container key"
ok "the hub has a handshake with $ARTICLE_CONTAINER_PUB"

say "---- a hardened network: hkdf, derived preshared keys"
seed="$(make_seed_file seed)"
hub_up hard 51820 10.40.1.254/24 --seed-file "$seed" --psk derived --subnet 10.40.1.0/24 --range 10.40.1.1-10.40.1.9
net_create hard --subnet 10.40.1.0/24 --gateway 10.40.1.254 -o wgnet.endpoint="$HUB_ENDPOINT" \
  -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file="$seed" -o wgnet.kdf=hkdf -o wgnet.psk=derived
ctr_start h1 hard
for c in h1; do # more containers cost 10-20 s each under emulation
  ip="$(ctr_ip "$c" hard)"
  kernel_device "$c" "hardened"
  assert_eq "$c's kernel device: key derived for $ip" \
    "$("$WGNET" keys derive --seed-file "$seed" "$ip" | "$WGNET" keys pub)" "$(ctr_wg "$c" show wg0 public-key)"
  assert_eq "$c's kernel device: preshared key derived for $ip" \
    "$HUB_PUB	$("$WGNET" keys psk --seed-file "$seed" "$ip")" "$(ctr_wg "$c" show wg0 preshared-keys)"
  assert_ok "$c pings the hub" ctr_ping "$c" 10.40.1.254
  assert_ok "the hub pings $c ($ip)" hub_ping "$ip"
done
assert_empty "no wgnet device stays in the host namespace while containers run" \
  "$(host_wireguard_links | grep -vxF -f <(printf '%s\n' "$base_links") || true)"
assert_empty "the kernel backend started no wireguard-go" "$(extra_wg_go)"

say "---- wgnetd killed: the kernel devices keep working"
wgnetd_kill
hub_select hard
assert_ok "h1 pings the hub while wgnetd is down" ctr_ping h1 10.40.1.254
assert_ok "the hub pings h1 while wgnetd is down" hub_ping 10.40.1.1
hub_select article
assert_ok "a1 pings the article's hub while wgnetd is down" ctr_ping a1 192.168.5.1
wgnetd_start
assert_contains "the restarted wgnetd restores both networks and both endpoints" \
  "$(last_wgnetd_log)" "restored 2 network(s) and 2 endpoint"
hub_select hard
ctr_start h3 hard
kernel_device h3 "after the restart"
assert_ok "h3, started after the restart, pings the hub" ctr_ping h3 10.40.1.254
assert_ok "h1 still pings the hub" ctr_ping h1 10.40.1.254

say "---- cleanup"
say "docker stop h1"
dk stop -t 1 "$(ctr_name h1)" >/dev/null
assert_eventually "a stopped container's device is gone from every namespace of this host" 20 \
  test -z "$(host_wireguard_links | grep -vxF -f <(printf '%s\n' "$base_links") || true)"
for c in a1 h1 h3; do dk rm -f "$(ctr_name "$c")" >/dev/null; done
for n in article hard; do dk network rm "$(net_name "$n")" >/dev/null; done
assert_empty "no WireGuard link of wgnet's in the host namespace" \
  "$(host_wireguard_links | grep -vxF -f <(printf '%s\n' "$base_links") || true)"
assert_empty "no wgnet-* link, TUN device, UAPI socket or process left" "$(e2e_new_leftovers)"
assert_empty "no wireguard-go but the hubs'" "$(extra_wg_go)"
wgnetd_stop || fail "wgnetd exited with status $? on SIGTERM"
[[ ! -e "$WGNETD_SOCK" ]] || fail "wgnetd's socket $WGNETD_SOCK still exists after SIGTERM"
ok "wgnetd stopped on SIGTERM and removed its socket"
