#!/usr/bin/env python3
# Writes the seed corpora of tests/fuzz/corpus/<target>/ from real inputs: Docker's requests
# (docs/spec shapes, tests/unit/driver_api_test.cpp), option sets, peers files, netlink messages
# as the kernel and wgnet write them (tests/unit/netlink_wireguard_test.cpp), UAPI exchanges
# (tests/unit/wgconf_uapi_codec_test.cpp, engine_uapi_test.cpp), IPv4/IPv6 TCP/UDP packets
# with virtio-net headers and the frames of wgnetd's control protocol with its engine
# (tests/unit/engine_control_*_test.cpp), CNI configurations, results and admin API v1 bodies
# (tests/unit/cni_*_test.cpp). Deterministic; files found by fuzzing (crash-*, named
# regressions) are left alone.
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


HUB_KEY = "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk="
KEY1 = "b897ab1abe9e8432ca29b97c471afee85322ae193af560bd937a291cc1499a55"
KEY2 = "5c0bd43a3f1d9a5f7d1d18bd52e8cf2d6a0a3d61c9c0a3ab3cb46e0c1a7f4a10"
KEY3 = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
ZERO = "0" * 64
NID = "3f7a6d0c5b2e41d8a9c1e2f3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b"
EID = "9c1e2f3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b3f7a6d0c5b2e41d8a"

# ---- api: "PATH\nBODY" ----
def api():
    def req(name, method, body):
        text = body if isinstance(body, str) else json.dumps(body)
        write("api", name, "/" + method + "\n" + text)

    req("activate", "Plugin.Activate", "")
    req("capabilities", "NetworkDriver.GetCapabilities", "")
    req("create_network", "NetworkDriver.CreateNetwork", {
        "NetworkID": NID,
        "Options": {"com.docker.network.enable_ipv6": False,
                    "com.docker.network.generic": {"wgnet.endpoint": "198.18.42.2:51820",
                                                   "wgnet.endpoint-key": HUB_KEY,
                                                   "wgnet.seed-file": "seed"}},
        "IPv4Data": [{"AddressSpace": "LocalDefault", "Pool": "10.1.0.0/24",
                      "Gateway": "10.1.0.1/24", "AuxAddresses": {}}],
        "IPv6Data": []})
    req("create_network_ipv6", "NetworkDriver.CreateNetwork", {
        "NetworkID": "n1",
        "Options": {"com.docker.network.enable_ipv6": True,
                    "com.docker.network.generic": {"wgnet.endpoint": "[fd00::1]:51820",
                                                   "wgnet.keepalive": 5, "wgnet.psk": "derived"}},
        "IPv4Data": [{"AddressSpace": "LocalDefault", "Pool": "10.1.0.0/24",
                      "Gateway": "10.1.0.1/24"}],
        "IPv6Data": [{"AddressSpace": "LocalDefault", "Pool": "fd00::/64"}]})
    req("create_network_article", "NetworkDriver.CreateNetwork", {
        "NetworkID": "n2",
        "Options": {"com.docker.network.generic": {"io.bestov.wg.peer": "198.18.42.2:10101",
                                                   "io.bestov.wg.peerkey": HUB_KEY,
                                                   "io.bestov.wg.seed": "dGVzdHNlZWQK"}},
        "IPv4Data": [{"Pool": "192.168.5.0/24", "Gateway": None}]})
    req("create_endpoint", "NetworkDriver.CreateEndpoint", {
        "NetworkID": NID, "EndpointID": EID,
        "Interface": {"Address": "10.1.0.2/24", "AddressIPv6": "", "MacAddress": ""},
        "Options": {"com.docker.network.endpoint.exposedports": [],
                    "com.docker.network.portmap": []}})
    req("create_endpoint_ipv6", "NetworkDriver.CreateEndpoint", {
        "NetworkID": "n1", "EndpointID": "e1",
        "Interface": {"Address": "10.1.0.2/24", "AddressIPv6": "fd00::2/64"}})
    req("oper_info", "NetworkDriver.EndpointOperInfo", {"NetworkID": NID, "EndpointID": EID})
    req("join", "NetworkDriver.Join", {"NetworkID": NID, "EndpointID": EID,
                                       "SandboxKey": "/var/run/docker/netns/6e5e3d0c2f4b",
                                       "Options": {}})
    req("leave", "NetworkDriver.Leave", {"NetworkID": NID, "EndpointID": EID})
    req("delete_endpoint", "NetworkDriver.DeleteEndpoint", {"NetworkID": NID, "EndpointID": EID})
    req("delete_network", "NetworkDriver.DeleteNetwork", {"NetworkID": NID})
    req("discover_new", "NetworkDriver.DiscoverNew", {"DiscoveryType": 1, "DiscoveryData": {}})
    req("program_external", "NetworkDriver.ProgramExternalConnectivity",
        {"NetworkID": NID, "EndpointID": EID, "Options": {}})
    # Docker 28.5.2 for -p 127.0.0.1:18092:8080 -p 18100-18101:9000-9001/udp; 29 for a v6 range.
    req("program_external_28", "NetworkDriver.ProgramExternalConnectivity", {
        "NetworkID": NID, "EndpointID": EID,
        "Options": {"com.docker.network.driver.private.no_proxy_6to4": False,
                    "com.docker.network.endpoint.exposedports": [
                        {"Proto": 17, "Port": 9001}, {"Proto": 17, "Port": 9000},
                        {"Proto": 6, "Port": 8080}],
                    "com.docker.network.portmap": [
                        {"Proto": 17, "IP": "", "Port": 9001, "HostIP": "", "HostPort": 18101,
                         "HostPortEnd": 18101},
                        {"Proto": 17, "IP": "", "Port": 9000, "HostIP": "", "HostPort": 18100,
                         "HostPortEnd": 18100},
                        {"Proto": 6, "IP": "", "Port": 8080, "HostIP": "127.0.0.1",
                         "HostPort": 18092, "HostPortEnd": 18092}]}})
    req("program_external_29", "NetworkDriver.ProgramExternalConnectivity", {
        "NetworkID": NID, "EndpointID": EID,
        "Options": {"com.docker.network.portmap": [
            {"Proto": 6, "IP": "", "Port": 80, "HostIP": "::1", "HostPort": 8000,
             "HostPortEnd": 8010}]}})
    req("revoke_external", "NetworkDriver.RevokeExternalConnectivity",
        {"NetworkID": NID, "EndpointID": EID})
    req("allocate_network", "NetworkDriver.AllocateNetwork", {"NetworkID": NID, "Options": {}})
    req("refused_id", "NetworkDriver.DeleteNetwork", {"NetworkID": "x-unknown"})
    req("malformed", "NetworkDriver.CreateNetwork",
        '{"NetworkID":"n1","Options":{"com.docker.network.generic":{"wgnet.seed":"c2VjcmV0c2VlZDEy')
    req("control_char", "NetworkDriver.CreateEndpoint",
        '{"NetworkID":"n1","EndpointID":"e1","Interface":{"Address":"10.1.0.5\\u0000junk/24"}}')


# ---- options: "key=value" lines, "@ipv6", "@check" ----
def options():
    base = ["wgnet.endpoint=198.18.42.2:51820", "wgnet.endpoint-key=" + HUB_KEY,
            "wgnet.seed-file=seed"]
    sets = {
        "minimal": base,
        "checked": base + ["@check"],
        "full": base + ["wgnet.additional=djE=", "wgnet.kdf=hkdf", "wgnet.keepalive=25",
                        "wgnet.mtu=1420", "wgnet.allowed-ips=10.0.0.0/8,fd00::/8",
                        "wgnet.psk=derived", "wgnet.backend=external", "@ipv6", "@check"],
        "article": ["io.bestov.wg.peer=198.18.42.2:10101", "io.bestov.wg.peerkey=" + HUB_KEY,
                    "io.bestov.wg.seed=dGVzdHNlZWQK", "io.bestov.wg.additional=dGVzdGFkZGl0aW9uYWwK",
                    "@check"],
        "inline_seed": ["wgnet.endpoint=hub.example:51820", "wgnet.endpoint-key=" + HUB_KEY,
                        "wgnet.seed=MDEyMzQ1Njc4OWFiY2RlZg==", "wgnet.kdf=sha3"],
        "peers_file": ["wgnet.peers-file=peers", "wgnet.seed-file=seed", "@check"],
        "docker_mtu": base + ["com.docker.network.driver.mtu=1280", "@ipv6"],
        "short_seed": base[:2] + ["wgnet.seed-file=short", "wgnet.psk=derived", "@check"],
        "outside": base[:2] + ["wgnet.seed-file=../../etc/passwd"],
        "ipv6_endpoint": ["wgnet.endpoint=[fd00::1]:51820", "wgnet.endpoint-key=" + HUB_KEY,
                          "wgnet.seed-file=seed", "wgnet.keepalive=0"],
    }
    for name, lines in sets.items():
        write("options", name, "\n".join(lines) + "\n")


# ---- peers_file ----
def peers_file():
    write("peers_file", "one_hub",
          "[Peer]\nPublicKey = " + HUB_KEY + "\nEndpoint = 198.18.42.2:51820\n"
          "AllowedIPs = 10.0.0.0/8, fd00::/8\nPersistentKeepalive = 25\n")
    write("peers_file", "mesh",
          "# two hubs and a mesh peer\n[Peer]\nPublicKey = " + HUB_KEY + "\n"
          "PresharedKey = uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=\n"
          "Endpoint = hub1.example:51820\nAllowedIPs = 10.0.0.0/16\n\n"
          "[Peer]\npublickey = +Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=\n"
          "endpoint = [2001:db8::1]:51821\nallowedips = 10.1.0.0/16\nAllowedIPs = fd00::/64\n"
          "persistentkeepalive = off\n\r\n[Peer]\nPublicKey = IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE=\n"
          "AllowedIPs = 192.168.5.7/32\n")
    write("peers_file", "interface_refused",
          "[Interface]\nPrivateKey = uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=\n")
    write("peers_file", "bad_allowed",
          "[Peer]\nPublicKey = " + HUB_KEY + "\nAllowedIPs = 10.0.0.5/024\n")


# ---- address: one text for every parser ----
def address():
    for i, t in enumerate(["192.168.5.2", "10.0.42.0/24", "fd00::2", "fd00::/64", "::ffff:1.2.3.4",
                           "198.18.42.2:51820", "[fd00::1]:51820", "hub.example:51820",
                           "10.0.0.0/8, fd00::/8", "0.0.0.0/0,::/0", HUB_KEY, KEY1,
                           "dGVzdHNlZWQK", "", "10.0.0.5\0junk/24", "1.2.3.4/-0",
                           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"]):
        write("address", "text%02d" % i, t)


# ---- netlink: replies and messages as the kernel and wgnet write them ----
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 1, 2, 4
NESTED = 0x8000


def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("<HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def nest(t, *parts):
    return attr(t | NESTED, b"".join(parts))


def msg(t, flags, body, seq=0, pid=0):
    return struct.pack("<IHHII", 16 + len(body), t, flags, seq, pid) + body


def genl(cmd):
    return struct.pack("<BBH", cmd, 1, 0)


def u16(t, v):
    return attr(t, struct.pack("<H", v))


def u32(t, v):
    return attr(t, struct.pack("<I", v))


def u64(t, v):
    return attr(t, struct.pack("<Q", v))


def sockaddr_in(addr, port):
    return struct.pack("<H", 2) + struct.pack(">H", port) + bytes(addr) + b"\0" * 8


def sockaddr_in6(addr, port):
    return struct.pack("<H", 10) + struct.pack(">H", port) + b"\0" * 4 + bytes(addr) + b"\0" * 4


def allowed(family, addr, mask):
    return nest(0, u16(1, family), attr(2, bytes(addr)), attr(3, bytes([mask])))


def netlink():
    fam = 0x15
    dev = genl(0) + u32(1, 7) + attr(2, b"wg0\0")  # WG_CMD_GET_DEVICE, IFINDEX, IFNAME
    key = lambda b: bytes([b]) * 32
    m1 = msg(fam, NLM_F_MULTI, dev + attr(3, key(0x11)) + attr(4, key(0x12)) + u16(6, 51820) +
             u32(7, 0) + nest(8,
                 nest(0, attr(1, key(0xaa)), attr(2, key(0)), attr(4, sockaddr_in([192, 0, 2, 1], 51821)),
                      attr(6, struct.pack("<qq", 1700000000, 123456789)), u64(7, 1000), u64(8, 2000),
                      u16(5, 25), nest(9, allowed(2, [10, 0, 0, 2], 32)), u32(10, 1)),
                 nest(0, attr(1, key(0xbb)),
                      attr(4, sockaddr_in6([0xfd] + [0] * 14 + [9], 443)),
                      nest(9, allowed(10, [0xfd] + [0] * 15, 64))))
             , seq=1)
    m2 = msg(fam, NLM_F_MULTI, dev + nest(8,
                 nest(0, attr(1, key(0xbb)), nest(9, allowed(2, [10, 9, 0, 0], 16))),
                 nest(0, attr(1, key(0xcc)))), seq=1)
    done = msg(3, NLM_F_MULTI, struct.pack("<i", 0), seq=1)
    write("netlink", "wg_get_dump", m1 + m2 + done)
    write("netlink", "wg_get_dump_first", m1)
    # WG_CMD_SET_DEVICE, byte for byte as tests/unit/netlink_wireguard_test.cpp expects.
    write("netlink", "wg_set_ipv4_peer", msg(fam, NLM_F_REQUEST | NLM_F_ACK,
          genl(1) + attr(2, b"wg0\0") + attr(3, key(0x11)) + u16(6, 51820) + u32(7, 0) +
          u32(5, 1) + nest(8, nest(0, attr(1, key(0x22)), u32(3, 2), attr(2, key(0)),
                                   attr(4, sockaddr_in([192, 0, 2, 1], 51820)), u16(5, 25),
                                   nest(9, allowed(2, [10, 0, 0, 0], 24),
                                        allowed(10, [0xfd] + [0] * 15, 64))))))
    write("netlink", "wg_set_ipv6_peer", msg(fam, NLM_F_REQUEST | NLM_F_ACK,
          genl(1) + attr(2, b"wg1\0") + u32(7, 0x42) +
          nest(8, nest(0, attr(1, key(0x33)), u32(3, 2), attr(2, key(0x44)),
                       attr(4, sockaddr_in6([0x20, 1, 0x0d, 0xb8] + [0] * 11 + [1], 51821)),
                       u16(5, 0), nest(9)))))
    # rtnetlink: an RTM_NEWLINK reply (ifinfomsg, name, MTU, alias, txqueuelen, linkinfo kind).
    ifinfo = struct.pack("<BBHiII", 0, 0, 65534, 12, 0x1043, 0)
    link = msg(16, NLM_F_MULTI, ifinfo + attr(3, b"wgnet-1a2b3c4d\0") + u32(4, 1420) +
               u32(13, 500) + attr(20, b"wgnet:1a2b3c4d\0") + nest(18, attr(1, b"wireguard\0")),
               seq=2)
    write("netlink", "rtnl_newlink", link + msg(3, NLM_F_MULTI, struct.pack("<i", 0), seq=2))
    # genl controller: CTRL_CMD_NEWFAMILY with the family id and name.
    write("netlink", "genl_family", msg(0x10, 0, genl(1) + attr(2, b"wireguard\0") + u16(1, fam)))
    # An error ack (nlmsgerr: error, then the request's header).
    write("netlink", "nlmsg_error", msg(2, 0, struct.pack("<i", -17) + msg(16, 5, b"")[:16]))


# ---- uapi: set bodies (server) and get replies (client) ----
def uapi():
    sets = {
        "set_device": "private_key=" + KEY1 + "\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n\n",
        "set_peer": "public_key=" + KEY2 + "\nupdate_only=true\npreshared_key=" + ZERO +
                    "\nendpoint=[fd00::1]:51820\npersistent_keepalive_interval=25\n"
                    "replace_allowed_ips=true\nallowed_ip=10.0.0.0/8\nallowed_ip=-fd00::/64\n"
                    "protocol_version=1\n\n",
        "set_remove": "public_key=" + KEY2 + "\nremove=true\n\n",
        "set_wg_setconf": "private_key=" + KEY1 + "\nlisten_port=10101\nfwmark=0\nreplace_peers=true\n"
                          "public_key=" + KEY3 + "\nendpoint=198.18.42.2:51820\n"
                          "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
                          "allowed_ip=0.0.0.0/0\nallowed_ip=::/0\n\n",
        "set_eproto": "listen_port=1\nwhat\nfwmark=1\n\n",
    }
    for name, text in sets.items():
        write("uapi", name, text)
    write("uapi", "get_reply",
          "private_key=" + KEY1 + "\nlisten_port=10101\npublic_key=" +
          "6434fae07f7db7f98ae51140c5c651c762932b83cdf1c54fe79cd68641575a09\n"
          "preshared_key=" + ZERO + "\nprotocol_version=1\nendpoint=198.18.42.2:10101\n"
          "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\ntx_bytes=148\n"
          "rx_bytes=92\npersistent_keepalive_interval=25\nallowed_ip=0.0.0.0/0\nerrno=0\n\n")
    write("uapi", "get_two_peers",
          "private_key=" + KEY1 + "\nlisten_port=51820\nfwmark=7\npublic_key=" + KEY2 +
          "\npreshared_key=" + KEY3 + "\nprotocol_version=1\nendpoint=[fd00::1]:51820\n"
          "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
          "persistent_keepalive_interval=0\nallowed_ip=fd00::/64\npublic_key=" + KEY3 +
          "\npreshared_key=" + ZERO + "\nprotocol_version=1\nlast_handshake_time_sec=0\n"
          "last_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
          "errno=0\n\n")
    write("uapi", "get_error", "errno=-22\n\n")


# ---- hub: SUBNET, RANGE, SKIP, FORMAT, FLAGS lines ----
def hub():
    cases = {
        "article": ["192.168.5.0/30", "", "192.168.5.1", "wg-quick", ""],
        "slash24_psk": ["10.0.42.0/24", "10.0.42.1-10.0.42.20", "10.0.42.254", "wg", "p"],
        "json": ["10.0.42.0/28", "", "", "json", "ps"],
        "interface": ["10.0.42.0/29", "", "10.0.42.6", "wg-quick", "i"],
        "ipv6_top": ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120", "",
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "wg", ""],
        "ipv6_range": ["fd00::/64", "fd00::1-fd00::8", "", "json", "e"],
        "too_big": ["10.0.0.0/8", "", "", "wg", ""],
    }
    for name, lines in cases.items():
        write("hub", name, "\n".join(lines) + "\n")


# ---- offload: IPv4/IPv6 TCP/UDP packets ----
def csum(data, initial=0):
    if len(data) % 2:
        data += b"\0"
    s = initial + sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def packet(v6, tcp, payload, seq=1000, ident=7, flags=0x10, src_last=1):
    th_len = 20 if tcp else 8
    total = (40 if v6 else 20) + th_len + len(payload)
    if v6:
        src = bytes([0xfd] + [0] * 14 + [src_last])
        dst = bytes([0xfd] + [0] * 14 + [2])
        ip = struct.pack(">IHBB", 0x60000000, th_len + len(payload), 6 if tcp else 17, 64) + src + dst
    else:
        src, dst = bytes([10, 0, 0, src_last]), bytes([10, 0, 0, 2])
        ip = struct.pack(">BBHHHBBH", 0x45, 0, total, ident, 0x4000, 64, 6 if tcp else 17, 0) + src + dst
        ip = ip[:10] + struct.pack(">H", ~csum(ip) & 0xFFFF) + ip[12:]
    tlen = th_len + len(payload)
    pseudo = csum(src + dst + struct.pack(">BBH", 0, 6 if tcp else 17, tlen))
    if tcp:
        th = struct.pack(">HHIIBBHHH", 40000, 5201, seq, 555, 5 << 4, flags, 512, 0, 0)
        c = ~csum(th + payload, pseudo) & 0xFFFF
        th = th[:16] + struct.pack(">H", c) + th[18:]
    else:
        th = struct.pack(">HHHH", 40000, 5201, tlen, 0)
        c = ~csum(th + payload, pseudo) & 0xFFFF
        th = th[:6] + struct.pack(">H", c or 0xFFFF)
    return ip + th + payload, pseudo


def super_packet(v6, tcp, payload_len, gso_size):
    payload = bytes((i * 7) & 0xFF for i in range(payload_len))
    pkt, pseudo = packet(v6, tcp, payload, flags=0x18)
    iph = 40 if v6 else 20
    field = iph + (16 if tcp else 6)
    # The kernel leaves the pseudo-header sum (of the whole length) in the checksum field.
    pkt = pkt[:field] + struct.pack(">H", pseudo & 0xFFFF) + pkt[field + 2:]
    gso_type = (4 if v6 else 1) if tcp else 5
    hdr = struct.pack("<BBHHHH", 1, gso_type, iph + (20 if tcp else 8), gso_size, iph,
                      16 if tcp else 6)
    return hdr + pkt


def offload():
    # 's', outputs, first, mode, then the virtio header and the packet.
    for v6 in (False, True):
        for tcp in (False, True):
            name = ("v6" if v6 else "v4") + ("_tcp" if tcp else "_udp")
            write("offload", "split_" + name, b"s\x3f\x00\x00" + super_packet(v6, tcp, 4000, 1400))
            write("offload", "split_inplace_" + name,
                  b"s\x3f\x00\x01" + super_packet(v6, tcp, 3000, 1000))
            write("offload", "split_small_out_" + name,
                  b"s\x3f\x01\x02\x20" + super_packet(v6, tcp, 600, 200))
    plain, _ = packet(False, False, b"hello")
    write("offload", "split_none", b"s\x00\x00\x00" + struct.pack("<BBHHHH", 0, 0, 0, 0, 0, 0) + plain)
    write("offload", "split_none_csum",
          b"s\x00\x00\x00" + struct.pack("<BBHHHH", 1, 0, 0, 0, 20, 6) + plain)
    # 'c', udp flag, then (u16 length, bytes, u8 gap after it / 64: 0 = adjacent) per packet.
    def run(v6, tcp, n, size, src_last=1, last_short=True):
        out = []
        for k in range(n):
            length = size // 2 if (last_short and k == n - 1) else size
            pay = bytes((1000 + k * size + i) & 0xFF for i in range(length))
            flags = 0x18 if k == n - 1 else 0x10
            p, _ = packet(v6, tcp, pay, seq=1000 + k * size, ident=7 + k, flags=flags,
                          src_last=src_last)
            out.append(p)
        return out

    def coalesce_input(udp, packets):
        b = b"c" + bytes([1 if udp else 0])
        for p in packets:
            b += struct.pack("<H", len(p)) + p + bytes([0])
        return b

    for v6 in (False, True):
        for tcp in (False, True):
            name = ("v6" if v6 else "v4") + ("_tcp" if tcp else "_udp")
            write("offload", "coalesce_" + name, coalesce_input(True, run(v6, tcp, 6, 700)))
    a, b = run(False, True, 4, 500, 1), run(False, True, 4, 500, 3)
    write("offload", "coalesce_two_flows",
          coalesce_input(False, [x for pair in zip(a, b) for x in pair]))


# ---- engine: steps (op, then its arguments) driving devices A and B ----
def engine():
    def chunk(b):
        return struct.pack("<H", len(b)) + b

    def inner_v4(src=1, dst=2, payload=b"ping"):
        p, _ = packet(False, False, payload, src_last=src)
        return p[:16] + bytes([10, 0, 0, dst]) + p[20:]

    v4 = inner_v4()
    v6, _ = packet(True, True, b"hello over ipv6", src_last=1)
    steps = {
        "data_v4": b"\x02" + chunk(v4),
        "data_v6": b"\x02" + chunk(v6),
        "data_from_outside_allowed_ips": b"\x02" + chunk(inner_v4(src=9)),
        "data_then_damage": b"\x02" + chunk(v4) + b"\x02" + chunk(v4) + b"\x03\x02\x20\x00\x01",
        "data_then_cut": b"\x02" + chunk(v4) + b"\x02" + chunk(v4) + b"\x83\x02\x10\x00",
        "data_then_replay": b"\x02" + chunk(v4) + b"\x02" + chunk(v4) + b"\x04\x02\x04\x02",
        "handshake_replayed_from_stranger": b"\x02" + chunk(v4) + b"\x43\x00\x00\x00\x00",
        "rekey_after_time": b"\x02" + chunk(v4) + b"\x05\xb0\x04" + b"\x02" + chunk(v4),
        "reject_after_time": b"\x02" + chunk(v4) + b"\x05\x30\x07" + b"\x02" + chunk(v4),
        "keepalive": b"\x02" + chunk(v4) + b"\x05\x64\x00\x05\x64\x00",
        "uapi_set": b"\x06" + chunk(("public_key=" + "%064x" % 0x1234 +
                                    "\nallowed_ip=10.9.0.0/16\npersistent_keepalive_interval=1\n\n"
                                    ).encode()) + b"\x02" + chunk(v4),
        "garbage_initiation": b"\x00" + chunk(b"\x01\x00\x00\x00" + bytes(144)),
        "garbage_response": b"\x01" + chunk(b"\x02\x00\x00\x00" + bytes(88)),
        "garbage_cookie_reply": b"\x00" + chunk(b"\x03\x00\x00\x00" + bytes(60)),
        "garbage_transport": b"\x00" + chunk(b"\x04\x00\x00\x00" + bytes(28)),
        "initiation_with_mac1": b"\x07" + chunk(b"\x01" + bytes(range(147))),
        "response_with_mac1": b"\x87" + chunk(b"\x02" + bytes(91)),
        "initiation_flood": b"\x88" + chunk(b"\x01" + bytes(147)) + b"\xc8" + b"\x02" + chunk(v4),
    }
    for name, data in steps.items():
        write("engine", name, data)


# ---- control: frames between wgnetd and its engine (engine/control, fuzz_control.cpp) ----
# A step is an op byte (bits 0-1: descriptors with the frame) and a 16-bit length-prefixed frame:
# "WGE1", u16 type, u16 flags (1: more follows), u32 id, u32 length, body (little-endian).
def control():
    def frame(t, body, ident=1, more=False):
        body = body.encode() if isinstance(body, str) else body
        return b"WGE1" + struct.pack("<HHII", t, 1 if more else 0, ident, len(body)) + body

    def step(fr, fds=0):
        return bytes([fds]) + struct.pack("<H", len(fr)) + fr

    reply = 0x8000
    hello, add, configure, uapi_set, get, info, set_mtu, remove, export, shutdown = range(1, 11)
    lost, export_device = 0x4001, 0x4002
    config = ("private_key=" + KEY1 + "\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n"
              "public_key=" + KEY2 + "\npreshared_key=" + KEY3 + "\nendpoint=198.18.42.2:51820\n"
              "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
              "allowed_ip=10.1.0.0/24\nallowed_ip=fd00::/64\n\n")
    binding = "port=51820\ngro=true\ngso=true\nipv6=%s\n"
    add_body = ("name=wg0\nmtu=1420\nvnet_hdr=true\ntso=true\nuso=false\n" + binding % "true" +
                "\n" + config)
    steps = {
        "hello": step(frame(hello, "protocol=1\nbuild=0.9.0\n")),
        "add_device": step(frame(add, add_body), 3),
        "add_device_v4": step(frame(add, add_body.replace("ipv6=true", "ipv6=false")), 2),
        "add_device_in_two_frames": step(frame(add, add_body[:100], 2, more=True), 3) +
                                    step(frame(add, add_body[100:], 2)),
        "configure": step(frame(configure, "name=wg0\n\n" + config)),
        "configure_rebind": step(frame(configure, "name=wg0\n" + binding % "false" + "\n" + config),
                                 1),
        "configure_keep_peers": step(frame(configure, "name=wg0\n\nfwmark=7\n"
                                           "public_key=" + KEY2 + "\n\n")),
        "uapi_set": step(frame(uapi_set, "name=wg0\n\npublic_key=" + KEY2 +
                               "\nremove=true\n\n")),
        "uapi_set_rebind": step(frame(uapi_set, "name=wg0\n" + binding % "true" +
                                      "\nlisten_port=10101\n\n"), 2),
        "get": step(frame(get, "name=wg0\n")),
        "info": step(frame(info, "name=wg0\n")),
        "set_mtu": step(frame(set_mtu, "name=wg0\nmtu=1280\n")),
        "remove_device": step(frame(remove, "name=wg0\n")),
        "export": step(frame(export, "")),
        "shutdown": step(frame(shutdown, "")),
        "unknown_request": step(frame(99, "what=1\n")),
        "reply": step(frame(add | reply, "errno=0\n")),
        "reply_error": step(frame(configure | reply, "errno=-22\nmessage=bad config\n")),
        "reply_enosys": step(frame(99 | reply, "errno=-38\nmessage=unknown request type 99\n")),
        "hello_reply": step(frame(hello | reply, "errno=0\nprotocol=1\npid=4242\nbuild=0.9.0\n"
                                  "devices=2\n")),
        "get_reply": step(frame(get | reply, "errno=0\n\nprivate_key=" + KEY1 +
                                "\nlisten_port=51820\npublic_key=" + KEY2 +
                                "\nrx_bytes=10\ntx_bytes=20\nallowed_ip=10.1.0.0/24\nerrno=0\n\n")),
        "info_reply": step(frame(info | reply, "errno=0\nifname=wg0\nifindex=7\nmtu=1420\n"
                                 "listen_port=51820\nlost=false\n\ntun.reads=5\nudp.rx=9\n")),
        "export_device": step(frame(export_device, "name=wg0\nmtu=1420\nvnet_hdr=true\ntso=true\n"
                                    "uso=true\n" + binding % "false" + "lost=false\n", 7), 2),
        "export_reply": step(frame(export | reply, "errno=0\ndevices=1\n", 7)),
        "device_lost": step(frame(lost, "name=wg0\nwhy=link deleted\n", 0)),
        "a_conversation": step(frame(hello, "protocol=1\nbuild=x\n", 1)) +
                          step(frame(hello | reply, "errno=0\nprotocol=1\npid=1\nbuild=x\n"
                                     "devices=0\n", 1)) +
                          step(frame(get, "name=wg0\n", 2)) +
                          step(frame(get | reply, "errno=-19\nmessage=no device wg0\n", 2)),
    }
    for name, data in steps.items():
        write("control", name, data)


# ---- cni: one op byte (tests/fuzz/fuzz_cni.cpp), then a CNI configuration, result or API body ----
def cni():
    conf = {"cniVersion": "1.1.0", "name": "wgnet", "type": "wgnet",
            "wgnet.endpoint": "198.18.42.2:51820", "wgnet.endpoint-key": HUB_KEY,
            "wgnet.seed-file": "seed",
            "ipam": {"type": "host-local", "dataDir": "/run/cni/wgnet",
                     "ranges": [[{"subnet": "10.0.42.0/24", "gateway": "10.0.42.254"}]]}}
    result = {"cniVersion": "1.0.0",
              "interfaces": [{"name": "eth0", "mac": "00:00:00:00:00:00",
                              "sandbox": "/run/netns/cni-1"}],
              "ips": [{"address": "10.0.42.7/24", "interface": 0}],
              "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}
    prev = dict(conf, cniVersion="1.0.0", prevResult=result)
    gc = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}]})
    key = {"container_id": "c1", "ifname": "eth0"}
    seeds = {
        "netconf_add": (0, conf), "netconf_check": (2 * 12, prev), "netconf_gc": (5 * 12, gc),
        "netconf_version": (4 * 12, {"cniVersion": "1.0.0"}),
        "result_040": (1, dict(result, cniVersion="0.4.0",
                               ips=[{"version": "4", "address": "10.0.42.7/24", "interface": 0}])),
        "result_100": (1 + 12, result),
        "result_110": (1 + 24, dict(result, cniVersion="1.1.0",
                                    interfaces=[dict(result["interfaces"][0], mtu=1420)])),
        "add_request": (2, dict(key, network="wgnet", netns="/run/netns/cni-1",
                                options={"wgnet.endpoint": "198.18.42.2:51820",
                                         "wgnet.seed-file": "seed"},
                                addresses=["10.0.42.7/24", "fd00:42::7/64"])),
        "add_response": (3, {"interface": {"name": "eth0", "host_name": "wgnet-1a2b3c4d",
                                           "public_key": HUB_KEY, "mtu": 1420},
                             "routes": ["0.0.0.0/0"], "network_id": "cni-wgnet-0123456789ab"}),
        "del_request": (4, dict(key, network="wgnet", netns="")),
        "del_response": (5, {"removed": True}),
        "check_request": (6, dict(key, network="wgnet", netns="/run/netns/cni-1",
                                  addresses=["10.0.42.7/24"])),
        "gc_request": (7, {"network": "wgnet", "valid": [key, {"container_id": "c2",
                                                                "ifname": "eth1"}]}),
        "gc_response": (8, {"removed": [dict(key, addresses=["10.0.42.9/24"])]}),
        "status_request": (9, {"network": "wgnet", "options": {"wgnet.kdf": "hkdf"}}),
        "error": (10, {"error": {"kind": "check-failed", "message": "no eth0",
                                 "what": "interface"}}),
        "info": (11, {"api": [1], "wgnetd": "0.9.0", "backends": ["kernel", "engine"],
                      "default_backend": "engine"}),
    }
    for name, (op, body) in seeds.items():
        write("cni", name, bytes([op]) + json.dumps(body).encode())


if __name__ == "__main__":
    only = sys.argv[1:]
    for name, fn in [("api", api), ("options", options), ("peers_file", peers_file),
                     ("address", address), ("netlink", netlink), ("uapi", uapi), ("hub", hub),
                     ("offload", offload), ("engine", engine), ("control", control),
                     ("cni", cni)]:
        if not only or name in only:
            fn()
