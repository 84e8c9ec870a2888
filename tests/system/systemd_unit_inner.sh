#!/usr/bin/env bash
# Inside the container of systemd_unit.sh (a systemd service there, its output in
# /wgnet-test-out/log): starts wgnetd.service (the shipped unit, UNIT, and this build's wgnetd),
# checks that systemd's sandbox is in effect, drives wgnetd over its plugin socket as Docker would
# (an engine network and an external one, an endpoint each, a container namespace made after
# wgnetd started, a port below 1024 published into it) and stops it. Writes PASS to
# /wgnet-test-out/result when every check held. Everything here is the container's own: its
# network namespace, its overlay of /, its processes.
set -euo pipefail
UNIT="$1"
OUT=/wgnet-test-out
SOCK=/run/docker/plugins/wgnet.sock
SEED=/etc/wgnet/seed
say() { printf "%s %s\n" "$(date +%T.%N | cut -c1-12)" "$*" >&2; }
ok() { say "ok: $*"; }
fail() {
  say "FAIL: $*"
  exit 1
}

# What this script made, undone on any exit.
sandbox="" listener_pid="" networks=() endpoints=()
cleanup() {
  local rc=$? i
  set +e
  [[ -n "$listener_pid" ]] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  if ((rc != 0)); then
    say "--- systemctl status wgnetd ---"
    systemctl status --no-pager --lines=0 wgnetd
    say "--- journal of wgnetd ---"
    journalctl --no-pager -o cat -u wgnetd | tail -n 40
  fi
  if systemctl -q is-active wgnetd; then
    for i in "${endpoints[@]}"; do call /NetworkDriver.DeleteEndpoint "$i" >/dev/null; done
    for i in "${networks[@]}"; do call /NetworkDriver.DeleteNetwork "{\"NetworkID\":\"$i\"}" >/dev/null; done
    systemctl stop wgnetd
  fi
  [[ -n "$sandbox" ]] && umount "$sandbox" && rm -f "$sandbox"
  exit "$rc"
}
trap cleanup EXIT

# POSTs BODY to wgnetd's PATH as dockerd does; prints the answer.
call() {
  curl -sS --max-time 30 --unix-socket "$SOCK" -H 'Content-Type: application/json' \
    -H 'Accept: application/vnd.docker.plugins.v1.2+json' --data-binary "$2" "http://plugin$1"
}
# Like call, and the answer must carry no "Err".
call_ok() {
  local answer
  answer="$(call "$1" "$2")" || fail "$1: no answer from wgnetd"
  [[ "$answer" != *'"Err"'* ]] || fail "$1: $answer"
  printf '%s' "$answer"
}
hex_id() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
# Capability names by number (linux/capability.h), to read CapBnd.
CAPS=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable
  net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio
  sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time
  sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog
  wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore)
cap_names() {  # HEX mask -> sorted names
  local mask=$((16#$1)) i
  for i in "${!CAPS[@]}"; do (((mask >> i) & 1)) && echo "cap_${CAPS[i]}"; done | sort
}

say "wgnetd.service: $(grep -c '' "$UNIT") lines; systemd $(systemctl --version | awk 'NR == 1 {print $2}')"
# A real systemd host: / is shared, so mounts made later (Docker's namespaces) reach services.
[[ "$(findmnt -no PROPAGATION /run)" == shared ]] || fail "/run is not a shared mount here"

# A clean slate in this container's overlay (the host's own directories stay as they are).
rm -rf /var/lib/wgnet /etc/wgnet
install -d -m 0700 /etc/wgnet
head -c 32 /dev/urandom >"$SEED"
chmod 600 "$SEED"

# --- start ---
systemctl start wgnetd || fail "systemctl start wgnetd"
[[ "$(systemctl is-active wgnetd)" == active ]] || fail "wgnetd.service is not active"
pid="$(systemctl show -p MainPID --value wgnetd)"
((pid > 0)) || fail "wgnetd.service has no main process"
# Type=simple: active as soon as systemd forked; the socket tells that wgnetd runs.
for _ in $(seq 1 100); do [[ -S "$SOCK" ]] && break; sleep 0.1; done
[[ "$(readlink /proc/"$pid"/exe)" == /usr/local/sbin/wgnetd ]] || fail "main process is $(readlink /proc/"$pid"/exe)"
ok "systemctl start wgnetd: active, main PID $pid"
answer="$(call_ok /Plugin.Activate '')"
[[ "$answer" == *NetworkDriver* ]] || fail "/Plugin.Activate: $answer"
ok "/Plugin.Activate: $answer"

# --- the sandbox is in effect ---
status="$(cat /proc/"$pid"/status)"
grep -qP '^NoNewPrivs:\t1$' <<<"$status" || fail "NoNewPrivs: $(grep NoNewPrivs <<<"$status")"
grep -qP '^Seccomp:\t2$' <<<"$status" || fail "Seccomp: $(grep Seccomp: <<<"$status")"
capbnd="$(awk '$1 == "CapBnd:" {print $2}' <<<"$status")"
capeff="$(awk '$1 == "CapEff:" {print $2}' <<<"$status")"
want="$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | tr 'A-Z' 'a-z' | sed '/^$/d' | sort)"
[[ -n "$want" ]] || fail "no CapabilityBoundingSet= in $UNIT"
[[ "$(cap_names "$capbnd")" == "$want" ]] ||
  fail "CapBnd $capbnd is {$(cap_names "$capbnd" | xargs)}, the unit says {$(xargs <<<"$want")}"
[[ "$capeff" == "$capbnd" ]] || fail "CapEff $capeff differs from CapBnd $capbnd"
ok "NoNewPrivs 1, Seccomp 2 (filter), CapBnd = CapEff = $capbnd = {$(xargs <<<"$want")}"
# Seccomp 2 comes with any filter (RestrictNamespaces= makes one too): the unit's system call
# allow-list must be what systemd loaded: setns in it, and of @privileged only what the engine
# process needs to enter its sandbox (chroot, setresuid, capset), not setuid, mount or reboot.
filter=" $(systemctl show -p SystemCallFilter --value wgnetd) "
for call in setns chroot setresuid capset seccomp; do
  [[ "$filter" != " ~"* && "$filter" == *" $call "* ]] || fail "$call is not in wgnetd's system call allow-list: $filter"
done
for call in setuid mount reboot pivot_root; do
  [[ "$filter" != *" $call "* ]] || fail "$call is in wgnetd's system call allow-list: $filter"
done
ok "system call allow-list of $(wc -w <<<"$filter") calls (setns, chroot, setresuid, capset, seccomp in; setuid, mount, reboot, pivot_root out)"
[[ "$(readlink /proc/"$pid"/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ]] || fail "no mount namespace of its own"
for path in /usr /etc /etc/wgnet /var/lib /home /root /run /run/docker /run/lock; do
  if nsenter -t "$pid" -m -- bash -c ": >$path/.wgnet-write-probe" 2>/dev/null; then
    nsenter -t "$pid" -m -- rm -f "$path/.wgnet-write-probe"
    fail "$path is writable in wgnetd's mount namespace"
  fi
done
for path in /home /root; do
  [[ -z "$(nsenter -t "$pid" -m -- ls -A "$path")" ]] || fail "$path is not empty for wgnetd"
done
for path in /var/lib/wgnet /run/wgnet /run/docker/plugins /run/wireguard; do
  nsenter -t "$pid" -m -- findmnt -no OPTIONS -T "$path" | grep -qw rw || fail "$path is not writable for wgnetd"
done
ok "in its mount namespace: /home, /root empty; / read-only but for /var/lib/wgnet /run/wgnet /run/docker/plugins /run/wireguard"

# --- an engine network and endpoint, as dockerd creates them ---
# The hub is an address of 198.18.0.0/15 that no route here leads to: nothing leaves.
! ip route get 198.18.77.2 >/dev/null 2>&1 || fail "198.18.77.2 has a route here: $(ip route get 198.18.77.2)"
hub_key="$(wg genkey | wg pubkey)"
network_body() {  # ID POOL BACKEND
  printf '{"NetworkID":"%s","Options":{"com.docker.network.enable_ipv6":false,"com.docker.network.generic":{"wgnet.endpoint":"198.18.77.2:51820","wgnet.endpoint-key":"%s","wgnet.seed-file":"seed","wgnet.backend":"%s"}},"IPv4Data":[{"AddressSpace":"LocalDefault","Pool":"%s.0/24","Gateway":"%s.254/24"}],"IPv6Data":[]}' \
    "$1" "$hub_key" "$3" "$2" "$2"
}
endpoint_body() {  # NETWORK ENDPOINT ADDRESS
  printf '{"NetworkID":"%s","EndpointID":"%s","Interface":{"Address":"%s/24","AddressIPv6":"","MacAddress":""},"Options":{}}' "$1" "$2" "$3"
}
ids() { printf '{"NetworkID":"%s","EndpointID":"%s"}' "$1" "$2"; }
# Checks the device IFNAME serves ADDRESS's key (derived from the seed) with the hub as its peer.
check_device() {
  local ifname="$1" address="$2" key
  [[ -S /run/wireguard/$ifname.sock ]] || fail "no UAPI socket /run/wireguard/$ifname.sock"
  key="$(wgnet keys derive --seed-file "$SEED" "$address" | wgnet keys pub)"
  [[ "$(wg show "$ifname" public-key)" == "$key" ]] || fail "wg show $ifname: public key is not $key"
  [[ "$(wg show "$ifname" peers)" == "$hub_key" ]] || fail "wg show $ifname: peers are not the hub"
}

net1="$(hex_id)" ep1="$(hex_id)"
call_ok /NetworkDriver.CreateNetwork "$(network_body "$net1" 10.77.0 engine)" >/dev/null
networks+=("$net1")
call_ok /NetworkDriver.CreateEndpoint "$(endpoint_body "$net1" "$ep1" 10.77.0.2)" >/dev/null
endpoints+=("$(ids "$net1" "$ep1")")
info="$(call_ok /NetworkDriver.EndpointOperInfo "$(ids "$net1" "$ep1")")"
if1="$(sed -n 's/.*"wgnet.interface":"\([^"]*\)".*/\1/p' <<<"$info")"
[[ "$info" == *'"wgnet.backend":"engine"'* && -n "$if1" ]] || fail "EndpointOperInfo: $info"
ip -d link show "$if1" | grep -q 'tun type tun' || fail "$if1 is not a TUN device: $(ip -d link show "$if1")"
owner="$(id -u wgnet-engine 2>/dev/null || echo 65534)"
[[ "$(cat /sys/class/net/"$if1"/owner)" == "$owner" ]] || fail "$if1 belongs to $(cat /sys/class/net/"$if1"/owner), not $owner"
check_device "$if1" 10.77.0.2
ok "engine endpoint: TUN $if1 (owner $owner), wg show: its derived key, the hub as peer"
# The engine runs in a process of its own (wgnetd's default), sandboxed inside the unit's sandbox.
engine="$(pgrep -P "$pid" -x wgnet-engine || true)"
[[ -n "$engine" ]] || fail "no wgnet-engine process under wgnetd (pid $pid)"
engine_status="$(cat /proc/"$engine"/status)"
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
  grep -qP "^$set:\t0000000000000000$" <<<"$engine_status" || fail "engine (pid $engine) $(grep "^$set:" <<<"$engine_status")"
done
grep -qP '^NoNewPrivs:\t1$' <<<"$engine_status" || fail "engine (pid $engine): $(grep NoNewPrivs <<<"$engine_status")"
grep -qP '^Seccomp:\t2$' <<<"$engine_status" || fail "engine (pid $engine): $(grep Seccomp: <<<"$engine_status")"
engine_uid="$(awk '$1 == "Uid:" {print $2}' <<<"$engine_status")"
[[ "$engine_uid" == "$owner" ]] || fail "engine (pid $engine) runs as uid $engine_uid, not $owner"
[[ "$(readlink /proc/"$engine"/root)" == */var/lib/wgnet/engine-root ]] ||
  fail "engine (pid $engine) root is $(readlink /proc/"$engine"/root), not /var/lib/wgnet/engine-root"
ok "engine process $engine: uid $engine_uid, no capability in any set, NoNewPrivs 1, Seccomp 2, root /var/lib/wgnet/engine-root"

# --- a container's namespace, mounted after wgnetd started (as Docker does) ---
mkdir -p /run/docker/netns
sandbox="/run/docker/netns/$(hex_id | cut -c1-12)"
: >"$sandbox"
unshare --net="$sandbox" true
join="$(call_ok /NetworkDriver.Join "{\"NetworkID\":\"$net1\",\"EndpointID\":\"$ep1\",\"SandboxKey\":\"$sandbox\",\"Options\":{}}")"
[[ "$join" == *"\"SrcName\":\"$if1\""* ]] || fail "Join: $join"
# What dockerd does with the answer: the device into the sandbox as wg0, its address, up.
ip link set dev "$if1" netns "$sandbox"
nsenter --net="$sandbox" bash -ec "ip link set lo up; ip link set $if1 name wg0
  ip addr add 10.77.0.2/24 dev wg0; ip link set wg0 up"
check_device "$if1" 10.77.0.2
ok "Join: $if1 is wg0 in $sandbox, still served"
# A port below 1024 published into that namespace: wgnetd opens it (its mount must have reached
# wgnetd's mount namespace), enters it (CAP_SYS_ADMIN) and binds port 80 (CAP_NET_BIND_SERVICE).
nsenter --net="$sandbox" ncat -l -k 10.77.0.2 8080 --sh-exec 'echo relayed-from-the-container' &
listener_pid=$!
for _ in $(seq 1 50); do nsenter --net="$sandbox" ss -Htln | grep -q 10.77.0.2:8080 && break; sleep 0.1; done
call_ok /NetworkDriver.ProgramExternalConnectivity "{\"NetworkID\":\"$net1\",\"EndpointID\":\"$ep1\",\"Options\":{\"com.docker.network.endpoint.exposedports\":[{\"Proto\":6,\"Port\":8080}],\"com.docker.network.portmap\":[{\"Proto\":6,\"IP\":\"\",\"Port\":8080,\"HostIP\":\"127.0.0.1\",\"HostPort\":80,\"HostPortEnd\":80}]}}" >/dev/null
reply="$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/80 && head -n1 <&3')" || true
[[ "$reply" == relayed-from-the-container ]] || fail "127.0.0.1:80 did not relay to 10.77.0.2:8080 in $sandbox (got '$reply')"
ok "ProgramExternalConnectivity: 127.0.0.1:80 relays into $sandbox (mounted after wgnetd started)"
kill "$listener_pid" && wait "$listener_pid" 2>/dev/null || true
listener_pid=""
# The engine's link watch hears every namespace (CAP_NET_BROADCAST), else it logs it.
if journalctl --no-pager -o cat -u wgnetd | grep -i -E 'no link watch|operation not permitted|permission denied'; then
  fail "wgnetd logged a refused operation (above)"
fi
ok "wgnetd's log has no refused operation (link watch included)"

# --- an external network: wireguard-go, a child of wgnetd inside the same sandbox ---
net2="$(hex_id)" ep2="$(hex_id)"
call_ok /NetworkDriver.CreateNetwork "$(network_body "$net2" 10.78.0 external)" >/dev/null
networks+=("$net2")
call_ok /NetworkDriver.CreateEndpoint "$(endpoint_body "$net2" "$ep2" 10.78.0.2)" >/dev/null
endpoints+=("$(ids "$net2" "$ep2")")
info="$(call_ok /NetworkDriver.EndpointOperInfo "$(ids "$net2" "$ep2")")"
if2="$(sed -n 's/.*"wgnet.interface":"\([^"]*\)".*/\1/p' <<<"$info")"
[[ "$info" == *'"wgnet.backend":"external"'* && -n "$if2" ]] || fail "EndpointOperInfo: $info"
check_device "$if2" 10.78.0.2
wgo="$(pgrep -f -x "wireguard-go -f $if2" || true)"
[[ -n "$wgo" ]] || fail "no wireguard-go for $if2"
grep -qP '^NoNewPrivs:\t1$' /proc/"$wgo"/status && grep -qP '^Seccomp:\t2$' /proc/"$wgo"/status ||
  fail "wireguard-go (pid $wgo) is not under the unit's sandbox"
ok "external endpoint: wireguard-go (pid $wgo, sandboxed too) serves $if2"

# --- and everything goes again ---
call_ok /NetworkDriver.RevokeExternalConnectivity "$(ids "$net1" "$ep1")" >/dev/null
if timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' 2>/dev/null; then fail "port 80 still open after Revoke"; fi
# dockerd takes the device back out of the sandbox before Leave.
nsenter --net="$sandbox" bash -ec "ip link set wg0 down; ip link set wg0 name $if1; ip link set $if1 netns 1"
call_ok /NetworkDriver.Leave "$(ids "$net1" "$ep1")" >/dev/null
for i in 1 2; do
  net="net$i" ep="ep$i" ifn="if$i"
  call_ok /NetworkDriver.DeleteEndpoint "$(ids "${!net}" "${!ep}")" >/dev/null
  call_ok /NetworkDriver.DeleteNetwork "{\"NetworkID\":\"${!net}\"}" >/dev/null
  ! ip link show "${!ifn}" >/dev/null 2>&1 || fail "${!ifn} still exists after DeleteEndpoint"
  [[ ! -e /run/wireguard/${!ifn}.sock ]] || fail "/run/wireguard/${!ifn}.sock still exists"
done
endpoints=() networks=()
for _ in $(seq 1 50); do kill -0 "$wgo" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$wgo" 2>/dev/null || fail "wireguard-go (pid $wgo) still runs after DeleteEndpoint"
ok "Revoke, Leave, DeleteEndpoint, DeleteNetwork: devices, UAPI sockets and wireguard-go gone"

systemctl stop wgnetd || fail "systemctl stop wgnetd"
[[ "$(systemctl is-active wgnetd || true)" == inactive ]] || fail "wgnetd.service is $(systemctl is-active wgnetd) after stop"
[[ ! -e "$SOCK" ]] || fail "$SOCK is still there after stop"
ok "systemctl stop wgnetd: inactive, socket removed"
echo PASS >"$OUT/result"
say "PASS"
