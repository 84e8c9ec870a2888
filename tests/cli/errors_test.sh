#!/usr/bin/env bash
# Bad input: one line on stderr naming the argument, a non-zero exit, nothing on stdout.
set -uo pipefail
wgnet="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
H=(--seed YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk=)

expect_error() {  # NAME PATTERN -- ARGS... [< stdin via $STDIN]
  local name="$1" pattern="$2"; shift 3
  local out err rc
  out="$(printf '%s' "${STDIN:-}" | "$wgnet" "$@" 2>"$tmp/err")"; rc=$?
  err="$(cat "$tmp/err")"
  if ((rc == 0)); then echo "FAIL $name: exit 0"; fail=1; return; fi
  if [[ -n "$out" ]]; then echo "FAIL $name: printed on stdout: $out"; fail=1; return; fi
  if [[ "$(wc -l <"$tmp/err")" -ne 1 ]]; then echo "FAIL $name: not one line: $err"; fail=1; return; fi
  if ! grep -q -- "$pattern" <<<"$err"; then echo "FAIL $name: '$err' lacks '$pattern'"; fail=1; return; fi
  echo "ok   $name: $err"
}

expect_error "malformed seed" "--seed" -- keys derive --seed 'not*base64' 10.0.0.1
expect_error "malformed additional" "--additional" -- keys derive "${H[@]}" --additional 'a=b' 10.0.0.1
expect_error "short hkdf seed" "at least 16" -- keys derive --seed dGVzdHNlZWQK 10.0.0.1
expect_error "unknown kdf" "--kdf" -- keys derive --kdf keccak "${H[@]}" 10.0.0.1
expect_error "no seed" "--seed" -- keys derive 10.0.0.1
expect_error "unreadable seed file" "--seed-file" -- keys derive --seed-file /nonexistent/seed 10.0.0.1
expect_error "address not an IP" "ADDRESS" -- keys derive "${H[@]}" host.example
expect_error "address missing" "ADDRESS" -- keys derive "${H[@]}"
STDIN="dGVzdHNlZWQK" expect_error "pub: key of wrong length" "32-byte" -- keys pub
STDIN="!!" expect_error "pub: not base64" "base64" -- keys pub
expect_error "range outside subnet" "--range" -- hub config "${H[@]}" --subnet 10.0.42.0/24 --range 10.0.42.1-10.0.43.5
expect_error "range malformed" "--range" -- hub config "${H[@]}" --subnet 10.0.42.0/24 --range 10.0.42.1
expect_error "subnet too large" "2^20" -- hub config "${H[@]}" --subnet 10.0.0.0/8
expect_error "subnet malformed" "--subnet" -- hub config "${H[@]}" --subnet 10.0.0.0/33
expect_error "bad format" "--format" -- hub config "${H[@]}" --subnet 10.0.0.0/24 --format yaml
expect_error "bad psk mode" "--psk" -- hub config "${H[@]}" --subnet 10.0.0.0/24 --psk yes
expect_error "bad listen port" "--listen-port" -- hub config "${H[@]}" --subnet 10.0.0.0/24 --listen-port 70000
expect_error "psk with a short seed" "16" -- hub config --kdf sha3 --seed dGVzdHNlZWQK --subnet 10.0.0.0/30 --psk derived
echo 'short' >"$tmp/bad.key"; chmod 600 "$tmp/bad.key"
expect_error "bad hub private key file" "--private-key-file" -- hub config "${H[@]}" --subnet 10.0.0.0/30 --private-key-file "$tmp/bad.key"

# Secrets are never echoed in errors.
"$wgnet" keys derive --kdf keccak --seed SECRETSECRETSECRETSECRET 10.0.0.1 2>"$tmp/err" >/dev/null
grep -q SECRETSECRET "$tmp/err" && { echo "FAIL error echoes the seed"; fail=1; } || echo "ok   errors do not echo the seed"

# A seed file readable by others: a warning on stderr, the key still printed.
printf 'an example seed of thirty-two by' >"$tmp/seed"; chmod 644 "$tmp/seed"
key="$("$wgnet" keys derive --seed-file "$tmp/seed" 10.0.42.1 2>"$tmp/err")"
if [[ "$key" == "iHeZlViknbAHLSVUe/RwrO0PFo5G4ZA7qjruCNvttVE=" ]] && grep -q "readable by group or others" "$tmp/err"; then
  echo "ok   group-readable seed warns"
else
  echo "FAIL group-readable seed: key '$key', stderr '$(cat "$tmp/err")'"; fail=1
fi
exit $fail
