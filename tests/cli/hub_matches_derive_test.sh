#!/usr/bin/env bash
# 100 random addresses of a generated /16 hub config equal `keys derive | keys pub` (and psk).
set -euo pipefail
wgnet="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
head -c 32 /dev/urandom >"$tmp/seed"; chmod 600 "$tmp/seed"
add="$(head -c 12 /dev/urandom | base64)"
"$wgnet" hub config --seed-file "$tmp/seed" --additional "$add" --subnet 10.77.0.0/16 --psk derived \
  --format json >"$tmp/hub.json"
python3 - "$tmp/hub.json" >"$tmp/sample" <<'PY'
import json, random, sys
peers = json.load(open(sys.argv[1]))
assert len(peers) == 65534, len(peers)
for p in random.sample(peers, 100):
    print(p["address"], p["public_key"], p["preshared_key"])
PY
n=0
while read -r addr pub psk; do
  got_pub="$("$wgnet" keys derive --seed-file "$tmp/seed" --additional "$add" "$addr" | "$wgnet" keys pub)"
  got_psk="$("$wgnet" keys psk --seed-file "$tmp/seed" --additional "$add" "$addr")"
  [[ "$got_pub" == "$pub" ]] || { echo "FAIL $addr: hub has $pub, derive gives $got_pub"; exit 1; }
  [[ "$got_psk" == "$psk" ]] || { echo "FAIL $addr: psk differs"; exit 1; }
  n=$((n + 1))
done <"$tmp/sample"
[[ $n -eq 100 ]] || { echo "FAIL checked $n addresses, expected 100"; exit 1; }
echo "ok   100 random addresses of a /16 match keys derive | keys pub and keys psk"
