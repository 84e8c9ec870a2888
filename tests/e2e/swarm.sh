#!/usr/bin/env bash
# e2e.swarm: a wgnet network across the hosts of a Docker swarm. Two dockerd "hosts" on this
# machine, each in network and mount namespaces of its own (own /run/docker, data root, containerd,
# managed plugin with its own copy of the seed file), joined in one swarm over a LAN (a bridge in the
# hub's namespace, 198.18.41.64/26); the hub (wireguard-go) sits on that LAN too, its peers generated
# once for the whole subnet. The plugin runs with WGNETD_SCOPE=global, so the swarm's manager
# allocates addresses for the whole cluster (AllocateNetwork, then CreateNetwork on each node).
#  - a service with two replicas on each node: all four addresses differ (so do their keys); every
#    task pings the hub and a task on the other node through the hub;
#  - scaled to six: the new tasks reach the hub, whose configuration did not change;
#  - `docker service rm`: nothing of it remains on either node (devices, wireguard-go processes).
# The host's dockerd is not touched. Usage: swarm.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init swarm 41 "$@"

PLUGIN=wgnet/wgnet:latest
SUBNET=10.41.0.0/24
HUB_IP=10.41.0.254
LAN_PREFIX=198.18.41
LAN_HUB="$LAN_PREFIX.65"   # the hub's address on the LAN; node N is $LAN_PREFIX.(65+N)
NODES=(1 2)
node_ns() { echo "$E2E_PREFIX-node$1"; }
node_dir() { echo "/var/lib/wgnet-e2e/$E2E_PREFIX-node$1"; }
node_run() { echo "/run/wgnet-e2e/$E2E_PREFIX-node$1"; }
node_addr() { echo "$LAN_PREFIX.$((65 + $1))"; }
# ndk N ARGS...: docker against node N's dockerd.
ndk() {
  local n="$1"
  shift
  DOCKER_HOST="unix://$(node_run "$n")/docker.sock" timeout 180 "$DOCKER" "$@"
}

quietly() { "$@" >/dev/null 2>&1 || true; }

# On failure, also what each node's dockerd (and plugin, whose log is dockerd's) said last.
eval "lib_$(declare -f e2e_diagnostics)"
e2e_diagnostics() {
  lib_e2e_diagnostics
  local n
  for n in "${NODES[@]}"; do
    if [[ -f "$(node_dir "$n")/dockerd.log" ]]; then
      echo "----- node $n: service tasks"
      ndk "$n" service ps --no-trunc sw 2>&1 | head -20
      echo "----- node $n: last 60 lines of $(node_dir "$n")/dockerd.log"
      tail -60 "$(node_dir "$n")/dockerd.log"
    fi
  done >&2
}

# node_remove N: everything of node N: its dockerd, containerd, plugin, containers, namespaces.
node_remove() {
  local n="$1" pid
  # Out of the swarm first: a swarm node's dockerd takes long to stop.
  if [[ -S "$(node_run "$n")/docker.sock" ]]; then ndk "$n" swarm leave --force >/dev/null 2>&1 || true; fi
  DOCKER_HOST="unix://$(node_run "$n")/docker.sock" dockerd_private_remove "$(node_dir "$n")" "$(node_run "$n")"
  if ip netns list | grep -qw "$(node_ns "$n")"; then
    for pid in $(ip netns pids "$(node_ns "$n")"); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$(node_ns "$n")"
  fi
}
for n in "${NODES[@]}"; do node_remove "$n"; done   # what a killed run left
defer rm -f "$E2E_RUN_DIR/$E2E_PREFIX-swarm.lock"

build_plugin_dir() { WGNETD="$WGNETD" "$E2E_ROOT/scripts/plugin" --build-only --dir "$E2E_TMP/plugin" >/dev/null; }
assert_ok "scripts/plugin --build-only assembles the plugin" build_plugin_dir

# ---------------------------------------------------------------------------------------------
# The hub, and the LAN (a bridge in the hub's namespace) the nodes and the hub share.
SEED_MASTER="$E2E_TMP/seed"
head -c 32 /dev/urandom >"$SEED_MASTER"
chmod 600 "$SEED_MASTER"
hub_up hub 51820 "$HUB_IP/24" --seed-file "$SEED_MASTER" --subnet "$SUBNET"
ip netns exec "$HUB_NS" sysctl -qw net.ipv4.ip_forward=1   # tasks reach each other through it
ip -n "$HUB_NS" link add lan type bridge
ip -n "$HUB_NS" addr add "$LAN_HUB/26" dev lan
ip -n "$HUB_NS" link set lan up
hub_peers_before="$(hub_wg show wg-hub peers | wc -l)"

# The plugin's wgnetd logs its backend into its node's dockerd log.
backend_line() { grep -qF "default backend: ${WGNETD_BACKEND:-engine}" "$(node_dir "$1")/dockerd.log"; }
for n in "${NODES[@]}"; do
  ns="$(node_ns "$n")"
  defer node_remove "$n"
  ip netns add "$ns"
  ip -n "$HUB_NS" link add "node$n" type veth peer name eth0 netns "$ns"
  ip -n "$HUB_NS" link set "node$n" master lan up
  ip -n "$ns" addr add "$(node_addr "$n")/26" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  route="$(ip -n "$ns" route get "$LAN_HUB")"
  [[ "$route" == *" dev eth0 "* ]] || fail "node $n: ip route get $LAN_HUB: expected dev eth0, saw: $route"
  ok "node $n ($(node_addr "$n")): ip route get $LAN_HUB goes through its own veth"

  # Its own copy of the seed, where its plugin's seed mount comes from.
  mkdir -m 700 "$E2E_TMP/node$n-seeds" "$E2E_TMP/node$n-state"
  cp "$SEED_MASTER" "$E2E_TMP/node$n-seeds/seed"
  private_host_create "$(node_run "$n")" "$ns"
  dockerd_private_start "$(node_dir "$n")" "$(node_run "$n")" || fail "node $n: dockerd did not start"
  say "node $n: dockerd (pid $PRIVATE_DOCKERD_PID) in netns $ns on $DOCKER_HOST"
  out="$(WGNETD="$WGNETD" "$E2E_ROOT/scripts/plugin" --dir "$E2E_TMP/plugin" seeds.source="$E2E_TMP/node$n-seeds" \
    state.source="$E2E_TMP/node$n-state" WGNETD_SCOPE=global WGNETD_BACKEND="${WGNETD_BACKEND:-engine}" WGNETD_LOG_LEVEL=debug 2>&1)" ||
    fail "node $n: scripts/plugin failed: $out"
  ok "node $n: $PLUGIN installed and enabled (WGNETD_SCOPE=global)"
  assert_eventually "node $n: the plugin's wgnetd uses the ${WGNETD_BACKEND:-engine} backend" 10 backend_line "$n"
  build_image
done
unset DOCKER_HOST

# ---------------------------------------------------------------------------------------------
# The swarm
t0=$SECONDS
assert_ok "node 1: docker swarm init" ndk 1 swarm init --advertise-addr "$(node_addr 1)" \
  --listen-addr "$(node_addr 1):2377"
token="$(ndk 1 swarm join-token -q worker)"
assert_ok "node 2: docker swarm join" ndk 2 swarm join --token "$token" \
  --advertise-addr "$(node_addr 2)" "$(node_addr 1):2377"
nodes_ready() { [[ "$(ndk 1 node ls --format '{{.Status}}' | grep -c Ready)" == 2 ]]; }
assert_eventually "both nodes are Ready" 60 nodes_ready
say "  (swarm up in $((SECONDS - t0)) s)"

NET=$E2E_PREFIX-net
defer quietly ndk 1 network rm "$NET"
say "docker network create -d $PLUGIN --scope swarm --subnet $SUBNET --gateway $HUB_IP ... $NET"
out="$(ndk 1 network create -d "$PLUGIN" --scope swarm --subnet "$SUBNET" --gateway "$HUB_IP" \
  -o wgnet.endpoint="$LAN_HUB:$HUB_PORT" -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file=seed "$NET" 2>&1)" ||
  fail "docker network create --scope swarm failed: $out"
assert_eq "the network is swarm-scoped" swarm "$(ndk 1 network inspect -f '{{.Scope}}' "$NET")"
# A mistake in the options: swarm allocates asynchronously, so `docker network create` returns an
# ID, but the manager's AllocateNetwork refuses it: the network stays unallocated (no driver), no
# node ever gets it, and the manager's log says why.
bad_id="$(ndk 1 network create -d "$PLUGIN" --scope swarm --subnet 10.41.1.0/24 -o wgnet.endpoint="$LAN_HUB:$HUB_PORT" \
  -o wgnet.endpoint-key="$HUB_PUB" -o wgnet.seed-file=missing "$E2E_PREFIX-bad")"
defer quietly ndk 1 network rm "$E2E_PREFIX-bad"
refused() { grep -F "Failed allocation for network $bad_id" "$(node_dir 1)/dockerd.log" | grep -qF "wgnet.seed-file 'missing'"; }
assert_eventually "the manager refuses a network whose seed file is missing (its log says why)" 20 refused
assert_eq "and leaves it without a driver" "" "$(ndk 1 network inspect -f '{{.Driver}}' "$E2E_PREFIX-bad")"
ndk 1 network rm "$E2E_PREFIX-bad" >/dev/null

SVC=sw
defer quietly ndk 1 service rm "$SVC"
t0=$SECONDS
assert_ok "docker service create: 4 replicas, at most 2 per node" ndk 1 service create --detach \
  --name "$SVC" --network "$NET" --replicas 4 --replicas-max-per-node 2 --no-resolve-image --stop-grace-period 1s \
  --endpoint-mode dnsrr \
  --label "wgnet-e2e=$E2E_PREFIX" "$E2E_IMAGE" sleep 3600

# tasks_on N: "CONTAINER IP" of each running task of the service on node N.
tasks_on() {
  local c
  for c in $(ndk "$1" ps -q --filter "label=com.docker.swarm.service.name=$SVC"); do
    echo "$c $(ndk "$1" inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$c")"
  done
}
running_tasks() { ndk 1 service ps "$SVC" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true; }
tasks_running() { [[ "$(running_tasks)" == "$1" ]]; }
assert_eventually "4 tasks running" 120 tasks_running 4
say "  (service converged in $((SECONDS - t0)) s)"

# check_tasks PER_NODE: each node runs PER_NODE tasks with distinct addresses in the subnet; each
# pings the hub, and a task on the other node through the hub.
check_tasks() {
  local per="$1" n other c ip addrs all="" peer
  for n in "${NODES[@]}"; do
    addrs="$(tasks_on "$n")"
    assert_eq "node $n runs $per tasks" "$per" "$(grep -c . <<<"$addrs")"
    all+="$addrs"$'\n'
  done
  assert_eq "$((2 * per)) distinct addresses (so distinct keys) across the swarm" "$((2 * per))" \
    "$(awk 'NF {print $2}' <<<"$all" | sort -u | grep -c '^10\.41\.0\.')"
  for n in "${NODES[@]}"; do
    other=$((3 - n))
    peer="$(tasks_on "$other" | awk 'NR == 1 {print $2}')"
    while read -r c ip; do
      [[ -n "$c" ]] || continue
      assert_ok "node $n, task $ip: pings the hub" retry 3 ndk "$n" exec "$c" ping -c1 -W2 "$HUB_IP"
      assert_ok "node $n, task $ip: pings $peer on node $other through the hub" \
        retry 3 ndk "$n" exec "$c" ping -c1 -W2 "$peer"
    done <<<"$(tasks_on "$n")"
  done
}
check_tasks 2
key="$("$WGNET" keys derive --seed-file "$SEED_MASTER" "$(tasks_on 2 | awk 'NR == 1 {print $2}')" | "$WGNET" keys pub)"
assert_ne "the hub has a handshake with a node-2 task's key derived from the seed" "" \
  "$(hub_peer_field "$key" latest-handshakes | grep -v '^0$' || true)"

# Service discovery (--endpoint-mode dnsrr): the service's name resolves to its tasks' addresses.
first="$(tasks_on 1 | awk 'NR == 1 {print $1}')"
resolved="$(ndk 1 exec "$first" busybox nslookup "$SVC" 2>&1 | awk '/^Address/ {print $NF}' | grep '^10\.41\.0\.' | sort | xargs)"
assert_eq "a task resolves the service's name to the 4 tasks' addresses" \
  "$( (tasks_on 1; tasks_on 2) | awk '{print $2}' | sort | xargs)" "$resolved"

# Scale up: the hub already knows every address of the subnet.
t0=$SECONDS
assert_ok "docker service update: 6 replicas, at most 3 per node" ndk 1 service update --detach \
  --replicas 6 --replicas-max-per-node 3 "$SVC"
assert_eventually "6 tasks running" 120 tasks_running 6
say "  (scaled in $((SECONDS - t0)) s)"
check_tasks 3
assert_eq "the hub's peers did not change" "$hub_peers_before" "$(hub_wg show wg-hub peers | wc -l)"

for n in "${NODES[@]}"; do
  calls="$(grep -oE '/NetworkDriver\.[A-Za-z]+ -> 200' "$(node_dir "$n")/dockerd.log" | sed 's/ -> 200//' | sort | uniq -c | xargs)"
  say "node $n: calls its plugin answered: $calls"
done
assert_eq "node 1 (the manager) allocated the network" 1 \
  "$(grep -c 'network [0-9a-z]* allocated for swarm' "$(node_dir 1)/dockerd.log")"
assert_eq "node 2 (a worker) did not" 0 \
  "$(grep -c 'AllocateNetwork' "$(node_dir 2)/dockerd.log")"
assert_eq "node 2 created it when its first task came" 1 \
  "$(grep -c '/NetworkDriver.CreateNetwork -> 200' "$(node_dir 2)/dockerd.log")"

# docker service rm: nothing remains on either node.
assert_ok "docker service rm" ndk 1 service rm "$SVC"
no_tasks() { [[ -z "$(ndk 1 ps -aq --filter "label=com.docker.swarm.service.name=$SVC")$(ndk 2 ps -aq --filter "label=com.docker.swarm.service.name=$SVC")" ]]; }
assert_eventually "no task container on either node" 60 no_tasks
no_devices() {
  local n
  [[ -z "$(wgnet_wg_go_procs)" ]] || return 1
  for n in "${NODES[@]}"; do
    [[ -z "$(ip -n "$(node_ns "$n")" -o link show | awk -F': ' '{print $2}' | grep '^wgnet-' || true)" ]] || return 1
    # shellcheck disable=SC2016 # for the inner sh
    [[ -z "$(ip netns exec "$(node_ns "$n")" sh -c 'for d in /sys/class/net/*; do [ -e "$d/tun_flags" ] && echo "$d"; done' || true)" ]] || return 1
  done
}
assert_eventually "no wgnet device, TUN device or wireguard-go left on either node" 30 no_devices
deleted_on() { grep -q '/NetworkDriver.DeleteNetwork -> 200' "$(node_dir "$1")/dockerd.log"; }
assert_eventually "node 2 deleted the network when its last task went" 30 deleted_on 2
assert_ok "docker network rm (manager)" ndk 1 network rm "$NET"
assert_eventually "node 1 deleted it too" 30 deleted_on 1
freed() { grep -q '/NetworkDriver.FreeNetwork -> 200' "$(node_dir 1)/dockerd.log"; }
assert_eventually "and, being the manager, freed it (FreeNetwork)" 30 freed
