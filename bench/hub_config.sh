#!/usr/bin/env bash
# bench/hub_config.sh [WGNET_BINARY]
#
# Measures `wgnet hub config` for a /16 (65,534 peers) against the article's
# workflow (one key-script process per address, `python3 keyscript | wg pubkey`),
# both in the same run, and prints a Markdown table of medians and ratios.
#
#   WGNET_BINARY   default: build/src/cli/wgnet of this repository
#
# Environment:
#   RUNS=5         timed runs per wgnet command (median reported), plus 1 warm-up
#   SAMPLE=100     addresses timed in the article's loop (median per address)
#   PYTHON=python3 interpreter for bench/article_keyscript.py; a pyenv-style shim is
#                  resolved to the real interpreter so its start-up is not counted
#   NO_HYPERFINE=1 time with a date +%s.%N loop even if hyperfine is installed
#
# Progress goes to stderr, the report to stdout. Everything is written to a
# temporary directory that is removed on exit. Needs: bash >= 5, wg
# (wireguard-tools), python3; hyperfine optional. The speed target (spec
# keys.md "Speed", testing.md "Measuring, not timing"): <= 1 s for a /16 on 2 cores.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
WGNET=${1:-$repo/build/src/cli/wgnet}
RUNS=${RUNS:-5}
SAMPLE=${SAMPLE:-100}
KEYSCRIPT=$here/article_keyscript.py

SUBNET=10.0.0.0/16
PEERS=65534
# keys.md vectors: scheme sha3 (the article's) ...
SHA3_SEED=dGVzdHNlZWQK
SHA3_ADD=dGVzdGFkZGl0aW9uYWwK
# ... and scheme hkdf (wgnet's default; the seed must be >= 16 bytes)
HKDF_SEED=YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk=
HKDF_ADD=d2duZXQ=

log() { printf '%s\n' "$*" >&2; }
die() { printf 'hub_config.sh: %s\n' "$*" >&2; exit 1; }

[[ ${BASH_VERSINFO[0]} -ge 5 ]] || die "needs bash >= 5 (EPOCHREALTIME)"
[[ -x $WGNET ]] || die "wgnet binary not found or not executable: $WGNET"
command -v wg >/dev/null || die "wg not found (Debian package wireguard-tools)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $SAMPLE =~ ^[1-9][0-9]*$ && $SAMPLE -le 65534 ]] || die "SAMPLE must be 1..65534"
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || die "$PY not found"
PY=$("$PY" -c 'import sys; print(sys.executable)')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wgnet-bench.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the binary must stay the same during the whole measurement (shared checkouts get rebuilt)
bin_sum=$(sha256sum <"$WGNET" | cut -c1-64)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')

# --- 0. correctness first: the baseline and wgnet must produce the same keys ----

check_eq() { # what got expected
	[[ $2 == "$3" ]] || die "$1: got '$2', expected '$3'"
}

log "checking keys against the keys.md vectors ..."
# seed additional address private public
while read -r s a addr priv pub; do
	got=$("$PY" "$KEYSCRIPT" "$s" "$a" "$addr")
	check_eq "article_keyscript.py $addr private" "$got" "$priv"
	check_eq "article_keyscript.py $addr | wg pubkey" "$(printf '%s\n' "$got" | wg pubkey)" "$pub"
	got=$("$WGNET" keys derive --kdf sha3 --seed "$s" --additional "$a" "$addr")
	check_eq "wgnet keys derive --kdf sha3 $addr" "$got" "$priv"
done <<'EOF'
dGVzdHNlZWQK dGVzdGFkZGl0aW9uYWwK 192.168.5.2 IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE= +Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=
dGVzdHNlZWQK dGVzdGFkZGl0aW9uYWwK 10.0.42.1 cBGd/MD6XTPtypcM/X1qIEDUJSzHyMVRWw50uxkFuE8= /l/BV1z68dXFqz3rgBtCpJK+p1K4EQYCANYaOR7JU1o=
dGVzdHNlZWQK dGVzdGFkZGl0aW9uYWwK 10.0.42.2 wA3R0B/r/WWAlvNbvsYLYX73rYMmeGsCkrgwnRLyNkY= uM/VYEGWrF1mz3lUXfne54rVyBVBxGwcYdQ4ruyo9CY=
dGVzdHNlZWQK YmVzdG92Lmlv 192.168.5.2 WNKz1h/rFKezrLIfdccfrFDFGsZ2mRcxcU0a8VUStVs= bU3rddZR+2plYDLLgpXlm9RUYX0rR0OTGovqv0wTqys=
EOF
# the key script's default additional value is the article's (base64 of bestov.io)
check_eq "article_keyscript.py default additional" \
	"$("$PY" "$KEYSCRIPT" dGVzdHNlZWQK 192.168.5.2)" "WNKz1h/rFKezrLIfdccfrFDFGsZ2mRcxcU0a8VUStVs="

# --- 1. wgnet hub config for the /16 --------------------------------------------

# name|arguments after `hub config` (no spaces inside an argument)
cases=(
	"sha3, all cores|--kdf sha3 --seed $SHA3_SEED --additional $SHA3_ADD --subnet $SUBNET --format wg"
	"sha3, --threads 1|--kdf sha3 --seed $SHA3_SEED --additional $SHA3_ADD --subnet $SUBNET --format wg --threads 1"
	"hkdf, all cores|--kdf hkdf --seed $HKDF_SEED --additional $HKDF_ADD --subnet $SUBNET --format wg"
	"hkdf, --threads 1|--kdf hkdf --seed $HKDF_SEED --additional $HKDF_ADD --subnet $SUBNET --format wg --threads 1"
	"hkdf + --psk derived, all cores|--kdf hkdf --seed $HKDF_SEED --additional $HKDF_ADD --subnet $SUBNET --format wg --psk derived"
	"hkdf + --psk derived, --threads 1|--kdf hkdf --seed $HKDF_SEED --additional $HKDF_ADD --subnet $SUBNET --format wg --psk derived --threads 1"
)

# One run to a file per case: check the output and keep its single wall time.
count() { grep -c -- "$1" "$2" || true; }
declare -A file_time
log "checking the /16 output of each case (one run to a file each) ..."
for c in "${cases[@]}"; do
	name=${c%%|*}
	read -r -a args <<<"${c#*|}"
	out=$tmp/peers.conf
	t0=$EPOCHREALTIME
	"$WGNET" hub config "${args[@]}" >"$out"
	t1=$EPOCHREALTIME
	file_time[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	n=$(count '^\[Peer\]$' "$out")
	[[ $n -eq $PEERS ]] || die "$name: $n [Peer] sections, expected $PEERS"
	n=$(count '^PublicKey = .\{43\}=$' "$out")
	[[ $n -eq $PEERS ]] || die "$name: $n PublicKey lines, expected $PEERS"
	n=$(count '^AllowedIPs = 10\.0\.[0-9]*\.[0-9]*/32$' "$out")
	[[ $n -eq $PEERS ]] || die "$name: $n AllowedIPs lines, expected $PEERS"
	n=$(count '^PresharedKey = ' "$out")
	case $name in
	*psk*) [[ $n -eq $PEERS ]] || die "$name: $n PresharedKey lines, expected $PEERS" ;;
	*) [[ $n -eq 0 ]] || die "$name: $n PresharedKey lines, expected none" ;;
	esac
	# the keys.md vector peer must be in there, with the vector's keys
	case $name in
	sha3*) want=$'[Peer]\nPublicKey = /l/BV1z68dXFqz3rgBtCpJK+p1K4EQYCANYaOR7JU1o=\nAllowedIPs = 10.0.42.1/32' ;;
	*psk*) want=$'[Peer]\nPublicKey = wMGAdAr6ds8CnMRitASZ4PHWlTAXaPmupvF7lURjNQY=\nPresharedKey = utrXyRq5mCxlMTKphNiAIgonItjkaY9k9RKQq0RY/KY=\nAllowedIPs = 10.0.42.1/32' ;;
	*) want=$'[Peer]\nPublicKey = wMGAdAr6ds8CnMRitASZ4PHWlTAXaPmupvF7lURjNQY=\nAllowedIPs = 10.0.42.1/32' ;;
	esac
	awk -v RS= -v want="$want" '$0 == want { found = 1 } END { exit !found }' "$out" ||
		die "$name: peer 10.0.42.1 missing or with keys other than keys.md's"
	# all cores and --threads 1 must print exactly the same bytes
	case $name in
	*"all cores") cp -- "$out" "$tmp/all-cores.conf" ;;
	*"--threads 1") cmp -s -- "$out" "$tmp/all-cores.conf" || die "$name: output differs from all cores" ;;
	esac
	log "  $name: $PEERS peers OK (${file_time[$name]} s to a file)"
done
rm -f -- "$tmp/peers.conf" "$tmp/all-cores.conf"

median() { # numbers on stdin, one a line -> median
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A med lo hi
if command -v hyperfine >/dev/null && [[ -z ${NO_HYPERFINE:-} ]]; then
	timer="hyperfine $(hyperfine --version | awk '{ print $2 }') (--shell=none, 1 warm-up, $RUNS runs, output to /dev/null)"
	hf=(hyperfine --shell=none --warmup 1 --runs "$RUNS" --output=null --style basic
		--export-json "$tmp/hf.json")
	for c in "${cases[@]}"; do
		hf+=(--command-name "${c%%|*}" "$(printf '%q' "$WGNET") hub config ${c#*|}")
	done
	log "timing wgnet with hyperfine ..."
	"${hf[@]}" >&2
	while IFS=$'\t' read -r name m l h; do
		med[$name]=$m lo[$name]=$l hi[$name]=$h
	done < <("$PY" -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%s\t%.4f\t%.4f\t%.4f" % (r["command"], r["median"], r["min"], r["max"]))
' "$tmp/hf.json")
else
	timer="date +%s.%N around each run (1 warm-up, $RUNS runs, output to /dev/null)"
	log "timing wgnet with date +%s.%N ..."
	for c in "${cases[@]}"; do
		name=${c%%|*}
		read -r -a args <<<"${c#*|}"
		"$WGNET" hub config "${args[@]}" >/dev/null
		: >"$tmp/times"
		for ((i = 0; i < RUNS; i++)); do
			t0=$(date +%s.%N)
			"$WGNET" hub config "${args[@]}" >/dev/null
			t1=$(date +%s.%N)
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }' >>"$tmp/times"
		done
		med[$name]=$(median <"$tmp/times")
		lo[$name]=$(sort -g "$tmp/times" | head -1)
		hi[$name]=$(sort -g "$tmp/times" | tail -1)
		log "  $name: median ${med[$name]} s"
	done
fi

# --- 2. the article's workflow: one key-script process per address ------------

addr_of() { printf '10.0.%d.%d' $(($1 >> 8)) $(($1 & 255)); }
last=$(addr_of "$SAMPLE")
log "timing the article's loop over $SAMPLE addresses (10.0.0.1-$last) ..."
base=$tmp/article.conf
: >"$base"
: >"$tmp/per-addr"
loop0=$EPOCHREALTIME
for ((i = 1; i <= SAMPLE; i++)); do
	addr=$(addr_of "$i")
	t0=$EPOCHREALTIME
	pub=$("$PY" "$KEYSCRIPT" "$SHA3_SEED" "$SHA3_ADD" "$addr" | wg pubkey)
	printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' "$pub" "$addr" >>"$base"
	t1=$EPOCHREALTIME
	echo "$t0 $t1" >>"$tmp/per-addr"
done
loop1=$EPOCHREALTIME
# the loop's configuration must be byte for byte wgnet's for the same addresses
"$WGNET" hub config --kdf sha3 --seed "$SHA3_SEED" --additional "$SHA3_ADD" \
	--subnet "$SUBNET" --range "10.0.0.1-$last" --format wg >"$tmp/wgnet-range.conf"
cmp -s -- "$base" "$tmp/wgnet-range.conf" ||
	die "the article loop's peers differ from wgnet hub config --kdf sha3 --range 10.0.0.1-$last"
log "  the loop's $SAMPLE [Peer] blocks equal wgnet's, byte for byte"

per=$(awk '{ printf "%.6f\n", $2 - $1 }' "$tmp/per-addr")
b_med=$(median <<<"$per")
b_lo=$(sort -g <<<"$per" | head -1)
b_hi=$(sort -g <<<"$per" | tail -1)
b_mean=$(awk -v a="$loop0" -v b="$loop1" -v n="$SAMPLE" 'BEGIN { printf "%.6f", (b - a) / n }')
b_extra=$(awk -v m="$b_med" -v n="$PEERS" 'BEGIN { printf "%.0f", m * n }')

[[ $(sha256sum <"$WGNET" | cut -c1-64) == "$bin_sum" ]] ||
	die "$WGNET changed during the measurement (rebuilt?): run again"

# --- 3. report -------------------------------------------------------------------

fmt_s() { awk -v x="$1" 'BEGIN { printf "%.3f s", x }'; }
fmt_per_peer() { awk -v x="$1" -v n="$PEERS" 'BEGIN { printf "%.1f µs", x / n * 1e6 }'; }
fmt_hms() { awk -v s="$1" 'BEGIN { h = int(s / 3600); m = int((s - h * 3600) / 60); x = s - h * 3600 - m * 60
	if (h) printf "%d h %02d min", h, m; else if (m) printf "%d min %02d s", m, x; else printf "%.0f s", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; printf (r >= 100 ? "%.0f" : "%.2f"), r }'; }

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] &&
	[[ -n $(git --no-optional-locks -C "$repo" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	commit="$commit (with uncommitted changes)"
fi
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)

main="sha3, all cores"
echo "### Hub configuration for a /16 ($SUBNET, $PEERS peers, --format wg)"
echo
echo "| what | runs | median | min – max | per peer |"
echo "|---|---|---|---|---|"
for c in "${cases[@]}"; do
	name=${c%%|*}
	echo "| \`wgnet hub config\`, $name | $RUNS | **$(fmt_s "${med[$name]}")** | $(fmt_s "${lo[$name]}") – $(fmt_s "${hi[$name]}") | $(fmt_per_peer "${med[$name]}") |"
done
echo "| article loop (\`python3 article_keyscript.py … \\| wg pubkey\`, append [Peer]), one address | $SAMPLE addresses | **$(fmt_s "$b_med")** | $(fmt_s "$b_lo") – $(fmt_s "$b_hi") | (mean $(fmt_s "$b_mean")) |"
echo "| article loop, **extrapolated** to $PEERS addresses (median per address × $PEERS, from $SAMPLE addresses) | – | **$(fmt_hms "$b_extra")** ($b_extra s) | – | – |"
echo
echo "- Ratio, article loop (extrapolated) / wgnet sha3 on all cores: **$(ratio "$b_extra" "${med[$main]}")×**"
echo "- Speed-up from all cores (median --threads 1 / median all cores): sha3 $(ratio "${med["sha3, --threads 1"]}" "${med[$main]}")×, hkdf $(ratio "${med["hkdf, --threads 1"]}" "${med["hkdf, all cores"]}")×, hkdf + psk $(ratio "${med["hkdf + --psk derived, --threads 1"]}" "${med["hkdf + --psk derived, all cores"]}")×"
verdict() { awk -v x="$1" 'BEGIN { if (x <= 1.0) print "met"; else print "**not met**" }'; }
echo "- Target ≤ 1 s for a /16 on this machine: sha3 $(fmt_s "${med[$main]}") — $(verdict "${med[$main]}"); hkdf $(fmt_s "${med["hkdf, all cores"]}") — $(verdict "${med["hkdf, all cores"]}"); hkdf + psk $(fmt_s "${med["hkdf + --psk derived, all cores"]}") — $(verdict "${med["hkdf + --psk derived, all cores"]}")"
echo "- Single runs to a file (output checked: $PEERS peers, keys.md vector peer 10.0.42.1, identical bytes for all cores and --threads 1): $(for c in "${cases[@]}"; do n=${c%%|*}; printf '%s %s s; ' "$n" "${file_time[$n]}"; done | sed 's/; $//')"
echo "- Baseline checked: the loop's $SAMPLE [Peer] blocks equal \`wgnet hub config --kdf sha3 --range 10.0.0.1-$last\` byte for byte; both match the keys.md vectors"
echo "- Timing: wgnet with $timer; article loop timed per address with bash \$EPOCHREALTIME"
echo "- Machine: $(nproc) cores (nproc), ${cpu:-unknown CPU}; $(uname -sr); load average (1, 5, 15 min) $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') at the end"
echo "- Tools: wgnet $("$WGNET" --version 2>/dev/null || echo '?') at commit $commit ($WGNET, sha256 ${bin_sum:0:12}…, built $(date -u -r "$WGNET" '+%Y-%m-%d %H:%M UTC')); $("$PY" --version 2>&1) ($PY); $(wg --version | awk '{ print $1, $2 }')"
echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
