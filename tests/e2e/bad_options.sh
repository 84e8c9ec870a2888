#!/usr/bin/env bash
# e2e.bad_options: `docker network create` with a wrong option fails with a message naming the
# option, and nothing is half-created: no docker network, no wgnet link, no wireguard-go, no UAPI
# socket, no change to wgnetd's state database. A correct network is accepted afterwards.
# Usage: bad_options.sh [WGNET [WGNETD]]
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init bad_options 15 "$@"

wgnetd_start
seed="$(make_seed_file seed)"
head -c 8 /dev/urandom >"$WGNETD_SEEDS/short"
chmod 600 "$WGNETD_SEEDS/short"
mkdir -m 700 "$E2E_TMP/outside"
head -c 32 /dev/urandom >"$E2E_TMP/outside/seed"
chmod 600 "$E2E_TMP/outside/seed"
ln -s "$E2E_TMP/outside/seed" "$WGNETD_SEEDS/link-out"
pub="$(wg genkey | wg pubkey)"
endpoint="198.18.$E2E_IDX.2:51820"   # never contacted: no network is made with it but the last

state_dump() {
  local db
  for db in "$WGNETD_STATE"/*.db; do
    [[ -e "$db" ]] || continue
    echo "== $db"
    sqlite3 -readonly "$db" .dump
  done
  find "$WGNETD_STATE" -not -name '*-wal' -not -name '*-shm' | sort
}
state_before="$(state_dump)"
assert_ne "wgnetd has a state database in $WGNETD_STATE" "" "$(compgen -G "$WGNETD_STATE/*.db" || true)"

n=0
# expect_refused CASE OPTION [docker network create -o options]: the error names OPTION (as a
# word: wgnet.endpoint-key does not count as wgnet.endpoint).
expect_refused() {
  local case="$1" option="$2" re
  shift 2
  n=$((n + 1))
  net_create_fails "$case" --subnet "10.15.$n.0/24" "$@"
  re="(^|[^-.a-z])${option//./\\.}($|[^-a-z])"
  [[ "$NET_CREATE_ERROR" =~ $re ]] || fail "$case: expected the error to name $option, it says: $NET_CREATE_ERROR"
  ok "$case: the error names $option"
}

expect_refused no-hub wgnet.endpoint -o wgnet.seed-file="$seed"
expect_refused missing-endpoint wgnet.endpoint -o wgnet.endpoint-key="$pub" -o wgnet.seed-file="$seed"
expect_refused unknown-key wgnet.foo -o wgnet.endpoint="$endpoint" -o wgnet.endpoint-key="$pub" \
  -o wgnet.seed-file="$seed" -o wgnet.foo=bar
expect_refused bad-endpoint-key wgnet.endpoint-key -o wgnet.endpoint="$endpoint" \
  -o wgnet.endpoint-key=not-a-key -o wgnet.seed-file="$seed"
expect_refused seed-outside wgnet.seed-file -o wgnet.endpoint="$endpoint" -o wgnet.endpoint-key="$pub" \
  -o wgnet.seed-file="$E2E_TMP/outside/seed"
expect_refused seed-symlink-out wgnet.seed-file -o wgnet.endpoint="$endpoint" -o wgnet.endpoint-key="$pub" \
  -o wgnet.seed-file="$WGNETD_SEEDS/link-out"
expect_refused short-seed wgnet.seed-file -o wgnet.endpoint="$endpoint" -o wgnet.endpoint-key="$pub" \
  -o wgnet.seed-file="$WGNETD_SEEDS/short"

assert_empty "no wgnet link, TUN device, UAPI socket or wireguard-go process appeared" "$(e2e_new_leftovers)"
assert_eq "wgnetd's state is unchanged" "$state_before" "$(state_dump)"
assert_ok "wgnetd still answers" plugin_activate "$WGNETD_SOCK"

# The control: the same options, correct, are accepted (so the refusals above were about them).
net_create good --subnet 10.15.99.0/24 -o wgnet.endpoint="$endpoint" -o wgnet.endpoint-key="$pub" \
  -o wgnet.seed-file="$seed"
assert_contains "the correct network exists" "$(dk network ls --format '{{.Name}}')" "$(net_name good)"
net_rm "$(net_name good)"
