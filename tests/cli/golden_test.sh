#!/usr/bin/env bash
# Runs `wgnet` on the spec's vectors and the article's example; compares with golden files.
set -euo pipefail
wgnet="$1" golden="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0

check() {  # NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected '$2', got '$3'"; fail=1; fi
}

A=(--seed dGVzdHNlZWQK --additional dGVzdGFkZGl0aW9uYWwK)
check "sha3 192.168.5.2" "IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE=" \
  "$("$wgnet" keys derive --kdf sha3 "${A[@]}" 192.168.5.2)"
check "sha3 10.0.42.1/24 (prefix ignored)" "cBGd/MD6XTPtypcM/X1qIEDUJSzHyMVRWw50uxkFuE8=" \
  "$("$wgnet" keys derive --kdf sha3 "${A[@]}" 10.0.42.1/24)"
check "sha3 default additional bestov.io" "WNKz1h/rFKezrLIfdccfrFDFGsZ2mRcxcU0a8VUStVs=" \
  "$("$wgnet" keys derive --kdf sha3 --seed dGVzdHNlZWQK --additional YmVzdG92Lmlv 192.168.5.2)"
check "pub of the article's container key" "+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=" \
  "$(echo IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE= | "$wgnet" keys pub)"
check "pub of the article's hub key" "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=" \
  "$(echo uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU= | "$wgnet" keys pub)"

H=(--seed YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk= --additional d2duZXQ=)
check "hkdf 10.0.42.1" "UPf3+OVueTsrbUIKjap8onwEGkPsRp5waK6TJd0ciGA=" "$("$wgnet" keys derive "${H[@]}" 10.0.42.1)"
check "hkdf fd00::2" "qMxZn1OAOXsUqNHr5Vamt0Qxuw0UEuE30rmE6u9nIkc=" "$("$wgnet" keys derive --kdf hkdf "${H[@]}" fd00::2)"
check "hkdf psk 10.0.42.1" "utrXyRq5mCxlMTKphNiAIgonItjkaY9k9RKQq0RY/KY=" "$("$wgnet" keys psk "${H[@]}" 10.0.42.1)"
check "hkdf psk fd00::2" "fWM/9HbKGDeG4Ujg71nUXYfctpKTmqOct7E6hbbm2sU=" "$("$wgnet" keys psk "${H[@]}" fd00::2)"
check "hkdf empty additional" "iHeZlViknbAHLSVUe/RwrO0PFo5G4ZA7qjruCNvttVE=" \
  "$("$wgnet" keys derive --seed YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk= 10.0.42.1)"

# Seed file: the same bytes as --seed give the same key.
printf 'an example seed of thirty-two by' >"$tmp/seed"; chmod 600 "$tmp/seed"
check "hkdf from --seed-file" "UPf3+OVueTsrbUIKjap8onwEGkPsRp5waK6TJd0ciGA=" \
  "$("$wgnet" keys derive --seed-file "$tmp/seed" --additional d2duZXQ= 10.0.42.1)"

# Hub configs, byte for byte.
echo uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU= >"$tmp/hub.key"; chmod 600 "$tmp/hub.key"
"$wgnet" hub config --kdf sha3 "${A[@]}" --subnet 192.168.5.0/30 --address 192.168.5.1/30 \
  --listen-port 10101 --private-key-file "$tmp/hub.key" >"$tmp/article.conf"
diff -u "$golden/article-wg-out.conf" "$tmp/article.conf" && echo "ok   article hub config" || fail=1
"$wgnet" hub config "${H[@]}" --subnet 10.0.42.0/29 --address 10.0.42.6/29 --psk derived --format wg \
  >"$tmp/hkdf.conf"
diff -u "$golden/hkdf-psk-wg.conf" "$tmp/hkdf.conf" && echo "ok   hkdf wg config with psk" || fail=1
"$wgnet" hub config "${H[@]}" --subnet fd00::/126 --format json >"$tmp/v6.json"
diff -u "$golden/v6.json" "$tmp/v6.json" && echo "ok   ipv6 json" || fail=1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==3 and d[1]["address"]=="fd00::2" and d[1]["public_key"]=="XrjeorTupwaXuKJ6CWapbHTjSZoseRUuSstVo/lgtXY="' \
  "$tmp/v6.json" && echo "ok   json parses, fd00::2 matches the vector" || fail=1

# `wg setconf` accepts the wg format (the parser of wireguard-tools, offline).
if command -v wg >/dev/null; then
  sed -n '/^\[Peer\]/,$p' "$tmp/hkdf.conf" | grep -c '^PresharedKey' | grep -qx 5 && echo "ok   5 peers with psk (/29 less network, broadcast, hub)" || fail=1
fi
exit $fail
