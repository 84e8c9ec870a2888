#!/usr/bin/env bash
# e2e.plugin: wgnet as a managed plugin (scripts/plugin: docker plugin create + enable, as
# wgnet/wgnet:latest), on a private dockerd in a mount namespace of its own (mounts shared inside it,
# as on a systemd host; the host's dockerd is not touched). Containers on a wgnet/wgnet:latest
# network ping the hub. Docker itself is killed (SIGKILL) and restarted:
#  - without --live-restore: Docker restarts the plugin and sends it Leave/DeleteEndpoint for the
#    containers that died (a managed plugin is registered when dockerd cleans up); a container with
#    --restart always comes back and pings the hub; nothing of the others remains;
#  - with --live-restore: the plugin and a running container's tunnel stay up while dockerd is down
#    and after; a container killed meanwhile gets Leave/DeleteEndpoint at restart, its device goes.
# The plugin's wgnetd is killed (SIGKILL): its keeper (the plugin's PID 1) starts it again and the
# tunnels carry on meanwhile (the engine, or wireguard-go, is left to the keeper).
# Then the plugin itself is restarted (docker plugin disable --force, enable) under running
# containers: their tunnels come back. On Docker 28+, a published port (a privileged one) is
# served by the plugin.
# `docker plugin disable` and `docker plugin rm` (and scripts/plugin --remove) refuse while a network
# uses the plugin; once the network is gone, scripts/plugin --remove removes it.
# WGNETD_BACKEND=engine (e2e.plugin, the default): the plugin on wgnet's engine instead of external (its
# default WGNETD_BACKEND auto, which picks the engine where no WireGuard module can be loaded; set
# to engine elsewhere): the same checks, on the devices the engine inside the plugin serves.
# Usage: plugin.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init plugin 40 "$@"
# On failure, also the devices' wireguard-go logs (lib.sh shows the end of WGNETD_LOG).
eval "lib_$(declare -f e2e_diagnostics)"
e2e_diagnostics() {
  lib_e2e_diagnostics
  local f
  for f in "${PSTATE:-/nonexistent}"/logs/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- $f (a device's wireguard-go)" >&2
    tail -15 "$f" >&2
  done
}

DDIR="/var/lib/wgnet-e2e/$E2E_PREFIX"
DRUN="/run/wgnet-e2e/$E2E_PREFIX-docker"
# The plugin's wgnetd logs into dockerd's log: that is this scenario's wgnetd log.
WGNETD_LOG="$DDIR/dockerd.log"
PLUGIN=wgnet/wgnet:latest
# What a killed run of this scenario left: its dockerd, containerd, plugin, containers.
dockerd_private_remove "$DDIR" "$DRUN"
defer dockerd_private_remove "$DDIR" "$DRUN"
private_host_create "$DRUN"
start_docker() {
  dockerd_private_start "$DDIR" "$DRUN" "$@" || fail "the private dockerd did not start"
  say "private dockerd (pid $PRIVATE_DOCKERD_PID${*:+, $*}) on $DOCKER_HOST"
}
# The host's docker0 (when there is one) is not the private dockerd's to touch.
host_docker0="$(docker0_ifindex)"
# (checked at the end: a dockerd with --bridge=none would have deleted it at its start)
start_docker

# The plugin's seed and state directories (its mounts' sources) are this scenario's.
PSEEDS="$E2E_TMP/seeds"
PSTATE="$E2E_TMP/plugin-state"
mkdir -m 700 "$PSEEDS" "$PSTATE"
head -c 32 /dev/urandom >"$PSEEDS/seed"
chmod 600 "$PSEEDS/seed"
# install_plugin [SETTING...]: scripts/plugin, this build's wgnetd.
# shellcheck disable=SC2120 # called with and without settings
install_plugin() {
  WGNETD="$WGNETD" "$E2E_ROOT/scripts/plugin" --dir "$E2E_TMP/plugin" "$@"
}
SETTINGS=(seeds.source="$PSEEDS" state.source="$PSTATE" WGNETD_LOG_LEVEL=debug)
BACKEND="${WGNETD_BACKEND:-engine}"
case "$BACKEND" in
  external) SETTINGS+=(WGNETD_BACKEND=external) ;;
  engine)
    # The plugin's default (auto) picks the engine where no WireGuard module can be loaded.
    if [[ -d /sys/module/wireguard ]] || modprobe -q -n wireguard 2>/dev/null; then
      SETTINGS+=(WGNETD_BACKEND=engine)
      BACKEND_LINE="default backend: engine"
    else
      BACKEND_LINE="default backend: engine (auto)"
    fi
    ;;
  *) fail "plugin.sh runs with WGNETD_BACKEND external or engine, not '$BACKEND'" ;;
esac
t0=$SECONDS
assert_ok "scripts/plugin builds and installs $PLUGIN" install_plugin "${SETTINGS[@]}"
say "  (took $((SECONDS - t0)) s)"
assert_eq "$PLUGIN is enabled" true "$(dk plugin inspect -f '{{.Enabled}}' "$PLUGIN")"
# shellcheck disable=SC2119 # no settings: the installed ones stay
out="$(install_plugin 2>&1)"
assert_contains "scripts/plugin again: nothing to do" "$out" "is installed and enabled"
plugin_id="$(dk plugin inspect -f '{{.Id}}' "$PLUGIN")"
# The plugin's log is dockerd's, one line per call at debug level, tagged with the plugin's id.
# plugin_log [MARK]: the plugin's lines of it, after line MARK (default: all).
plugin_log() { tail -n +"$((${1:-0} + 1))" "$DDIR/dockerd.log" | grep -F "plugin=$plugin_id"; }
# plugin_log_has TEXT [MARK]: the plugin logged TEXT (after line MARK).
plugin_log_has() { plugin_log "${2:-0}" | grep -qF "$1"; }
info_line() { plugin_log | grep -q 'level=info msg=".* info serving driver'; }
assert_eventually "dockerd logs the plugin's info lines at level info (WGNETD_LOG_INFO_TO_STDOUT)" 10 info_line
plugin_calls() { plugin_log | grep -oE '/NetworkDriver\.[A-Za-z]+ -> [0-9]+' || true; }
if [[ $BACKEND == engine ]]; then
  assert_eventually "the plugin says: $BACKEND_LINE" 10 plugin_log_has "$BACKEND_LINE"
fi
# The engine (made with the first network, and again when the plugin restarts) watches its
# devices' links in every namespace: NETLINK_LISTEN_ALL_NSID needs CAP_NET_BROADCAST, which
# config.json grants. Without it the plugin logs "engine: no link watch" as it makes the engine,
# before the line EVIDENCE (written once the engine serves a device), logged after line MARK.
# check_link_watch WHEN EVIDENCE [MARK]
check_link_watch() {
  [[ $BACKEND == engine ]] || return 0
  assert_eventually "the plugin logs '$2' ($1)" 10 plugin_log_has "$2" "${3:-0}"
  assert_not_contains "the engine in the plugin watches its devices' links ($1)" \
    "$(plugin_log)" "no link watch"
}
# The plugin's wgnetd (Docker puts it in a cgroup named after the plugin's id), by PID.
plugin_pid() {
  local p
  for p in $(pgrep -x wgnetd); do
    if grep -qF "$plugin_id" "/proc/$p/cgroup" 2>/dev/null; then echo "$p"; fi
  done
}

build_image
SEED="$PSEEDS/seed"
HUB_IP=10.40.0.254
hub_up hub 51820 "$HUB_IP/24" --seed-file "$SEED" --subnet 10.40.0.0/24 --range 10.40.0.1-10.40.0.30
E2E_DRIVER="$PLUGIN"
net_create net --subnet 10.40.0.0/24 --gateway "$HUB_IP" -o wgnet.endpoint="$HUB_ENDPOINT" \
  -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file=seed
assert_eq "the network's driver is the plugin" "$PLUGIN" \
  "$(dk network inspect -f '{{.Driver}}' "$(net_name net)")"

# run SHORT [docker run options]: a container on the network.
run() {
  local name out
  name="$(ctr_name "$1")"
  shift
  defer ctr_rm "$name"
  out="$(dk run -d --name "$name" --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name net)" "$@" \
    "$E2E_IMAGE" sleep 3600 2>&1)" || fail "docker run $name failed: $out"
}
# The device of a container's endpoint, named after the endpoint's ID.
ifname_of() {
  local ep
  ep="$(dk inspect -f "{{(index .NetworkSettings.Networks \"$(net_name net)\").EndpointID}}" "$(ctr_name "$1")")"
  echo "wgnet-${ep:0:8}"
}
# The wireguard-go serving IFNAME (the external backend: one process per device), by PID.
wg_go_pid() { wgnet_wg_go_procs | awk -v i="$1" '$2 == i {print $1}'; }
# The devices the plugin serves now, sorted, on one line: external, by their wireguard-go
# processes; engine, by the UAPI sockets the engine serves in the plugin's private /run/wireguard.
served_ifnames() {
  if [[ $BACKEND == external ]]; then
    wgnet_wg_go_procs | awk '{print $2}' | sort | xargs
  else
    local pid
    pid="$(plugin_pid)"
    [[ -n "$pid" ]] || return 0
    compgen -G "/proc/$pid/root/run/wireguard/wgnet-*.sock" | sed 's|.*/||; s|\.sock$||' | sort | xargs
  fi
}
serves() { [[ " $(served_ifnames) " == *" $1 "* ]]; }
running() { [[ "$(dk inspect -f '{{.State.Running}}' "$(ctr_name "$1")")" == "$2" ]]; }
reaches_hub() {
  local c="$1" ip
  ip="$(ctr_ip "$c" net)"
  assert_ok "$c ($ip) pings the hub" ctr_ping "$c" "$HUB_IP"
  assert_ok "the hub pings $c" hub_ping "$ip"
}

run c1 --restart always
run c2
for c in c1 c2; do reaches_hub "$c"; done
assert_eq "inside c1: lo and wg0 only" "lo wg0" \
  "$(ctr_exec c1 ip -o link | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | xargs)"
key1="$("$WGNET" keys derive --seed-file "$SEED" "$(ctr_ip c1 net)" | "$WGNET" keys pub)"
assert_ne "the hub has a handshake with c1's derived key" "" "$(hub_peer_field "$key1" latest-handshakes | grep -v '^0$' || true)"
dev1="$(ifname_of c1)" dev2="$(ifname_of c2)"
check_link_watch "first network" "engine: $dev1 added"
assert_ok "c1's device $dev1 is served ($BACKEND, in the plugin)" serves "$dev1"
assert_ok "c2's device $dev2 is served ($BACKEND, in the plugin)" serves "$dev2"
one_plugin_pid() { [[ "$(plugin_pid)" =~ ^[0-9]+$ ]]; }
assert_eventually "one wgnetd in the plugin's cgroup" 10 one_plugin_pid
pid="$(plugin_pid)"
if [[ $BACKEND == external ]]; then
  assert_eq "the plugin's wgnetd is the parent of c2's wireguard-go" "$pid" \
    "$(awk '/^PPid:/ {print $2}' "/proc/$(wg_go_pid "$dev2")/status")"
else
  # The engine runs in a process of its own, started by the plugin's wgnetd and sandboxed there.
  engine="$(pgrep -P "$pid" -x wgnet-engine || true)"
  [[ -n "$engine" ]] || fail "no wgnet-engine process under the plugin's wgnetd (pid $pid)"
  engine_status="$(cat "/proc/$engine/status")"
  for set in CapInh CapPrm CapEff CapBnd CapAmb; do
    assert_eq "the plugin's engine (pid $engine) $set" 0000000000000000 \
      "$(awk -v k="$set:" '$1 == k {print $2}' <<<"$engine_status")"
  done
  assert_eq "the plugin's engine NoNewPrivs" 1 "$(awk '$1 == "NoNewPrivs:" {print $2}' <<<"$engine_status")"
  assert_eq "the plugin's engine Seccomp (a filter)" 2 "$(awk '$1 == "Seccomp:" {print $2}' <<<"$engine_status")"
  assert_ne "the plugin's engine does not run as root" 0 "$(awk '$1 == "Uid:" {print $2}' <<<"$engine_status")"
fi
# The plugin sees the sandboxes of containers started after it (the netns mount propagates into
# it): else it would take their tunnels for dead.
sandbox2="$(dk inspect -f '{{.NetworkSettings.SandboxKey}}' "$(ctr_name c2)")"
assert_eq "inside the plugin, c2's sandbox $sandbox2 is its network namespace" nsfs \
  "$(stat -f -c %T "/proc/$pid/root$sandbox2")"

# --- the plugin's wgnetd killed (SIGKILL), not its keeper ---------------------------------------
# The plugin's PID 1 is wgnetd's keeper: it starts wgnetd again, and the engine (or c2's
# wireguard-go), left to the keeper, carries the tunnels on meanwhile; the new wgnetd takes it over.
keeper="$(awk '$1 == "PPid:" {print $2}' "/proc/$pid/status")"
assert_eq "the plugin's wgnetd runs under its keeper" wgnetd-keeper "$(cat "/proc/$keeper/comm")"
assert_eq "the keeper is the plugin's PID 1" 1 "$(awk '$1 == "NSpid:" {print $NF}' "/proc/$keeper/status")"
[[ $BACKEND == external ]] && wg_go2="$(wg_go_pid "$dev2")"
dk exec -d "$(ctr_name c2)" sh -c "while :; do if ping -c1 -W1 $HUB_IP >/dev/null 2>&1; then \
  cut -d' ' -f1 /proc/uptime >>/tmp/ok; fi; sleep 0.1; done"
assert_eventually "c2 pings the hub every 0.1 s" 10 ctr_exec c2 sh -c 'test -s /tmp/ok'
mark="$(wc -l <"$DDIR/dockerd.log")"
killed_at="$(cut -d' ' -f1 /proc/uptime)"
kill -KILL "$pid"
say "the plugin's wgnetd (pid $pid) killed with SIGKILL"
sleep 2
# shellcheck disable=SC2016 # $1 is awk's
answers="$(ctr_exec c2 awk -v t="$killed_at" '$1 > t' /tmp/ok | wc -l)"
say "  $answers answers to c2's pings in the 2 s after"
((answers >= 10)) || fail "only $answers answers in the 2 s after the plugin's wgnetd was killed (pings every 0.1 s)"
ok "c2's tunnel carried on"
assert_eventually "the keeper started wgnetd again" 10 one_plugin_pid
assert_ne "a new wgnetd" "$pid" "$(plugin_pid)"
pid="$(plugin_pid)"
assert_ok "the keeper logged why" plugin_log_has "keeper: wgnetd (pid " "$mark"
if [[ $BACKEND == engine ]]; then
  # (the plugin's log names the engine by its PID in the plugin's PID namespace)
  engine_nspid="$(awk '$1 == "NSpid:" {print $NF}' "/proc/$engine/status")"
  assert_eventually "the new wgnetd took the engine over" 10 plugin_log_has \
    "took over the engine process (pid $engine_nspid," "$mark"
  assert_eq "the same engine process serves, now under the new wgnetd" "$engine" \
    "$(pgrep -x wgnet-engine | while read -r p; do grep -qF "$plugin_id" "/proc/$p/cgroup" && echo "$p"; done)"
else
  assert_eq "c2 kept its wireguard-go" "$wg_go2" "$(wg_go_pid "$dev2")"
fi
for c in c1 c2; do reaches_hub "$c"; done

# Published ports (Docker 28+), from the plugin's wgnetd: in the host's namespace, on a privileged
# host port (the plugin's CAP_NET_BIND_SERVICE).
major="$(docker_server_version)"
if ((${major%%.*} >= 28)); then
  ! ss -Hltn "sport = :1023" | grep -q . || fail "127.0.0.1:1023 is taken on this host; the scenario needs it"
  name="$(ctr_name web)"
  defer ctr_rm "$name"
  out="$(dk run -d --name "$name" --hostname web --label "wgnet-e2e=$E2E_PREFIX" --network "$(net_name net)" \
    -p 127.0.0.1:1023:80 "$E2E_IMAGE" sh -c 'mkdir -p /www && hostname >/www/index.html &&
      busybox httpd -p 80 -h /www && exec sleep 3600' 2>&1)" || fail "docker run -p 127.0.0.1:1023:80 failed: $out"
  assert_eventually "the plugin publishes 127.0.0.1:1023 (a privileged port) to the container" 10 \
    http_get 127.0.0.1 1023
  assert_eq "what answers is the container's web server" web "$(http_get 127.0.0.1 1023)"
  ctr_rm "$name"
  assert_fails "removed with its container" http_get 127.0.0.1 1023
fi

# Docker's own refusals while a network uses the plugin.
assert_fails "docker plugin disable refuses while the network uses it" dk plugin disable "$PLUGIN"
assert_fails "docker plugin rm refuses while the network uses it" dk plugin rm "$PLUGIN"
out="$(WGNETD="$WGNETD" "$E2E_ROOT/scripts/plugin" --remove 2>&1)" && fail "scripts/plugin --remove succeeded while in use: $out"
assert_contains "scripts/plugin --remove refuses too, and says why" "$out" "in use"
assert_eq "the plugin is still enabled" true "$(dk plugin inspect -f '{{.Enabled}}' "$PLUGIN")"

# --- dockerd killed, restarted without --live-restore --------------------------------------
# calls_since_mark METHOD N: the plugin answered METHOD at least N times since $mark (a log line).
calls_since_mark() {
  local n
  n="$(plugin_log "$mark" | grep -cE "/NetworkDriver\.$1 -> 200" || true)"
  ((n >= $2))
}
calls_since_mark_summary() {
  plugin_log "$mark" | grep -oE '/NetworkDriver\.[A-Za-z]+' | sort | uniq -c | xargs
}
mark="$(wc -l <"$DDIR/dockerd.log")"
dockerd_private_kill
say "dockerd killed; starting it again without --live-restore"
t0=$SECONDS
start_docker
assert_eventually "c1 (--restart always) is running again" 60 running c1 true
say "  (dockerd and c1 back after $((SECONDS - t0)) s)"
assert_eq "c2 (no restart policy) is not running" false "$(dk inspect -f '{{.State.Running}}' "$(ctr_name c2)")"
assert_eventually "Docker sent Leave for both containers that died" 30 calls_since_mark Leave 2
assert_eventually "and DeleteEndpoint" 30 calls_since_mark DeleteEndpoint 2
say "  calls to the plugin since the restart: $(calls_since_mark_summary)"
reaches_hub c1
dev1b="$(ifname_of c1)"
only_device() { [[ "$(served_ifnames)" == "$1" ]]; }
assert_eventually "c2's device is gone; c1 has a new one" 30 only_device "$dev1b"

# --- dockerd killed, restarted with --live-restore -----------------------------------------
dockerd_private_stop "$DDIR"
start_docker --live-restore
assert_eventually "c1 is running again" 60 running c1 true
run c3
run c4
for c in c1 c3 c4; do reaches_hub "$c"; done
dev3="$(ifname_of c3)" dev4="$(ifname_of c4)"
pid3="$(wg_go_pid "$dev3")"
index3="$(ctr_exec c3 cat /sys/class/net/wg0/ifindex)"
ip3="$(ctr_ip c3 net)"
pid4="$(dk inspect -f '{{.State.Pid}}' "$(ctr_name c4)")"
mark="$(wc -l <"$DDIR/dockerd.log")"
dockerd_private_kill
say "dockerd killed (live-restore); killing c4's process (pid $pid4) while dockerd is down"
kill -KILL "$pid4"
assert_ok "while dockerd is down, the hub still reaches c3 through its tunnel" hub_ping "$ip3"
start_docker --live-restore
assert_eq "c3 is still running" true "$(dk inspect -f '{{.State.Running}}' "$(ctr_name c3)")"
assert_ok "c3 pings the hub after dockerd came back" ctr_ping c3 "$HUB_IP"
assert_eq "c3 kept its wg0 (same ifindex)" "$index3" "$(ctr_exec c3 cat /sys/class/net/wg0/ifindex)"
assert_ok "the plugin still serves c3's device" serves "$dev3"
if [[ $BACKEND == external ]]; then
  assert_eq "c3 kept its wireguard-go" "$pid3" "$(wg_go_pid "$dev3")"
fi
assert_eventually "Docker sent Leave for c4, killed while it was down" 30 calls_since_mark Leave 1
assert_eventually "and DeleteEndpoint" 30 calls_since_mark DeleteEndpoint 1
not_served() { ! serves "$1"; }
assert_eventually "c4's device is gone" 30 not_served "$dev4"
say "  calls to the plugin since the restart: $(calls_since_mark_summary)"

# --- the plugin restarted under running containers (disable --force, enable) -----------------
# Docker stops the plugin though a network uses it; as it starts again, wgnetd takes the devices of
# the running containers back: external rebuilds them (their wireguard-go died with the plugin),
# the engine re-attaches to them (same wg0).
index1="$(ctr_exec c1 cat /sys/class/net/wg0/ifindex)"
dev1c="$(ifname_of c1)"  # c1 restarted with the daemon above: a new endpoint
mark="$(wc -l <"$DDIR/dockerd.log")"
assert_ok "docker plugin disable --force stops the plugin while its network is in use" \
  dk plugin disable --force "$PLUGIN"
assert_ok "docker plugin enable starts it again" dk plugin enable "$PLUGIN"
t0=$SECONDS
pings() { ctr_exec "$1" ping -c1 -W1 "$HUB_IP" >/dev/null 2>&1; }
assert_eventually "c1 pings the hub again after the plugin restarted" 30 pings c1
say "  (first answer $((SECONDS - t0)) s after the plugin was enabled)"
assert_ok "c3 pings the hub too" ctr_ping c3 "$HUB_IP"
# With the engine: the plugin re-attached c1's device (logged since the restart), its link watch on.
check_link_watch "after the plugin restarted" "re-attached $dev1c" "$mark"
if [[ $BACKEND == engine ]]; then
  assert_eq "c1 kept its wg0 (same ifindex)" "$index1" "$(ctr_exec c1 cat /sys/class/net/wg0/ifindex)"
fi
assert_eq "the plugin serves c1's and c3's devices" "$(printf '%s\n' "$dev1c" "$dev3" | sort | xargs)" \
  "$(served_ifnames)"

# --- teardown: nothing remains; then the plugin can go ----------------------------------------
dk rm -f "$(ctr_name c1)" "$(ctr_name c2)" "$(ctr_name c3)" "$(ctr_name c4)" >/dev/null
assert_eventually "no device of the plugin remains" 30 only_device ""
assert_empty "no wgnet device or TUN device in the host namespace" "$(e2e_new_leftovers)"
net_rm "$(net_name net)"
assert_ok "scripts/plugin --remove removes the plugin once no network uses it" \
  env WGNETD="$WGNETD" "$E2E_ROOT/scripts/plugin" --remove
assert_fails "docker plugin inspect: gone" dk plugin inspect "$PLUGIN"
say "calls the plugin served: $(plugin_calls | sed 's/ -> .*//' | sort | uniq -c | xargs)"
assert_eq "Docker never sent /Plugin.Activate to the managed plugin" 0 \
  "$(plugin_log | grep -c '/Plugin\.Activate' || true)"
if [[ -n "$host_docker0" ]]; then
  assert_eq "the host's docker0 is still there (same ifindex)" "$host_docker0" \
    "$(docker0_ifindex)"
fi
