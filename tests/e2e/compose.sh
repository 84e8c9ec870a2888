#!/usr/bin/env bash
# e2e.compose: examples/compose/docker-compose.yml as a user runs it, with Compose v2 (`docker
# compose`, the engine's own from scripts/install-docker) where the engine has it, else Debian 12's
# docker-compose v1 (WGNET_DOCKER=20): `up` creates the wgnet network from the file's driver_opts
# and ipam and starts the service, which pings the hub (and the hub it) and resolves a name at a
# resolver behind the hub (the file's `dns:`); `down` removes the container and the network, leaving nothing of wgnet behind.
# The driver is this scenario's socket wgnetd (WGNET_DRIVER); the file's default is the managed
# plugin. Usage: compose.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init compose 43 "$@"
if "$DOCKER" compose version >/dev/null 2>&1; then
  COMPOSE=("$DOCKER" compose)
else
  command -v docker-compose >/dev/null || fail "neither 'docker compose' nor docker-compose found; run scripts/install-deps"
  COMPOSE=(docker-compose)
fi
say "compose: $("${COMPOSE[@]}" version 2>&1 | head -1)"

build_image
wgnetd_start
SEED="$(make_seed_file seed)"
HUB_IP=10.43.0.254
hub_up hub 51820 "$HUB_IP/24" --seed-file "$SEED" --subnet 10.43.0.0/24 --range 10.43.0.1-10.43.0.10
ip netns exec "$HUB_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
  --listen-address="$HUB_IP" --except-interface=lo --user=root --group=root --pid-file= \
  --host-record="db.wgnet-e2e.test,10.43.0.200" >"$E2E_TMP/dnsmasq.log" 2>&1 &
defer kill_pid "$!"

# What a user puts in .env beside the file (here: the environment).
export WGNET_DRIVER="$E2E_DRIVER" WGNET_ENDPOINT="$HUB_ENDPOINT" WGNET_ENDPOINT_KEY="$HUB_PUB" \
  WGNET_SEED_FILE=seed WGNET_SUBNET=10.43.0.0/24 WGNET_HUB_IP="$HUB_IP" WGNET_IMAGE="$E2E_IMAGE"
compose() {
  timeout 180 "${COMPOSE[@]}" --project-directory "$E2E_ROOT/examples/compose" \
    -f "$E2E_ROOT/examples/compose/docker-compose.yml" -p "$E2E_PREFIX" "$@"
}
compose_down() { compose down --timeout 1 >/dev/null 2>&1 || true; }
compose_down   # what a killed run left
defer compose_down

t0=$SECONDS
out="$(compose up -d 2>&1)" || fail "docker-compose up failed: $out"
ok "docker-compose up -d ($((SECONDS - t0)) s)"
net="${E2E_PREFIX}_tunnel"
assert_eq "the network's driver is wgnet's" "$E2E_DRIVER" "$(dk network inspect -f '{{.Driver}}' "$net")"
assert_contains "the file's driver_opts reached it" \
  "$(dk network inspect -f '{{json .Options}}' "$net")" "\"wgnet.endpoint\":\"$HUB_ENDPOINT\""
# Compose names the container PROJECT_app_1 (v1) or PROJECT-app-1 (v2): ask it.
app="$(compose ps -q app)"
[[ -n "$app" ]] || fail "compose ps -q app: no container"
ip="$(dk inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$app")"
assert_ok "the service ($ip) pings the hub" retry 3 compose exec -T app ping -c1 -W2 "$HUB_IP"
assert_ok "the hub pings the service" hub_ping "$ip"
assert_eq "inside the service: lo and wg0 only" "lo wg0" \
  "$(compose exec -T app ip -o link | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | xargs)"
assert_contains "the service resolves a name at the resolver behind the hub" \
  "$(compose exec -T app busybox nslookup db.wgnet-e2e.test 2>&1)" "10.43.0.200"

t0=$SECONDS
assert_ok "docker-compose down" compose down --timeout 1
say "  (down in $((SECONDS - t0)) s)"
assert_fails "the network is gone" dk network inspect "$net"
assert_empty "nothing of wgnet remains on the host" "$(e2e_new_leftovers)"
