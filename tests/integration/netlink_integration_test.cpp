// rtnetlink and the kernel backend against the real kernel, inside a private network namespace
// this process enters first (unshare), so no link of the host is ever touched. Needs root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "netlink/genl.h"
#include "netlink/rtnl.h"
#include "netlink/socket.h"
#include "private_netns.h"
#include "util/error.h"
#include "wg/kernel.h"

using namespace wgnet;
using namespace wgnet::netlink;

namespace {

std::optional<rtnl::Link> listed(const std::string& name) {
  for (auto& l : rtnl::list_links())
    if (l.name == name) return l;
  return std::nullopt;
}

class NetlinkNamespace : public ::testing::Test {
 protected:
  // Once per process (ctest runs each test in its own): later tests reuse the namespace.
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    ASSERT_NO_FATAL_FAILURE(wgnet::itest::enter_private_netns());
  }

  // dummy when this kernel has it, else veth (whose peer the kernel names itself).
  static std::string test_kind() {
    try {
      rtnl::create_link("kindprobe", "dummy");
      rtnl::delete_link("kindprobe");
      return "dummy";
    } catch (const NetlinkError& e) {
      if (e.error_number() != EOPNOTSUPP) throw;
      return "veth";
    }
  }
};

}  // namespace

TEST_F(NetlinkNamespace, FreshNamespaceHasOnlyLoopback) {
  auto links = rtnl::list_links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].name, "lo");
  EXPECT_EQ(links[0].index, 1);
  EXPECT_TRUE(links[0].kind.empty());
  EXPECT_FALSE(links[0].up);
}

TEST_F(NetlinkNamespace, LinkLifecycle) {
  std::string kind = test_kind();
  rtnl::create_link("nltest0", kind);
  rtnl::set_mtu("nltest0", 1400);
  rtnl::set_up("nltest0", true);

  auto link = listed("nltest0");
  ASSERT_TRUE(link) << "nltest0 not listed";
  EXPECT_EQ(link->kind, kind);
  EXPECT_EQ(link->mtu, 1400u);
  EXPECT_TRUE(link->up);
  EXPECT_EQ(rtnl::ifindex("nltest0"), link->index);
  auto found = rtnl::find_link("nltest0");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->kind, kind);
  EXPECT_EQ(found->mtu, 1400u);

  rtnl::set_up("nltest0", false);
  EXPECT_FALSE(listed("nltest0")->up);

  try {
    rtnl::create_link("nltest0", kind);
    ADD_FAILURE() << "creating an existing link succeeded";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.error_number(), EEXIST) << e.what();
  }

  EXPECT_TRUE(rtnl::delete_link("nltest0"));
  EXPECT_FALSE(rtnl::delete_link("nltest0"));
  EXPECT_FALSE(rtnl::ifindex("nltest0"));
  EXPECT_FALSE(listed("nltest0"));
  // veth's peer went with it: only lo is left.
  EXPECT_EQ(rtnl::list_links().size(), 1u);
}

TEST_F(NetlinkNamespace, MissingLinks) {
  EXPECT_FALSE(rtnl::ifindex("nosuchlink0"));
  EXPECT_FALSE(rtnl::find_link("nosuchlink0"));
  try {
    rtnl::set_mtu("nosuchlink0", 1400);
    ADD_FAILURE() << "set_mtu on a missing link succeeded";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.error_number(), ENODEV) << e.what();
    EXPECT_NE(std::string(e.what()).find("nosuchlink0"), std::string::npos) << e.what();
  }
}

TEST_F(NetlinkNamespace, UnknownKindIsEopnotsupp) {
  try {
    rtnl::create_link("nltest1", "no-such-kind");
    ADD_FAILURE() << "created a link of an unknown kind";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.error_number(), EOPNOTSUPP) << e.what();
  }
  EXPECT_FALSE(listed("nltest1"));
}

TEST_F(NetlinkNamespace, GenericFamilies) {
  Socket sock(NETLINK_GENERIC);
  auto ctrl = genl::family_id(sock, "nlctrl");
  ASSERT_TRUE(ctrl);
  EXPECT_EQ(*ctrl, 0x10);  // GENL_ID_CTRL
  EXPECT_FALSE(genl::family_id(sock, "no-such-family"));
}

// This machine's kernel has no WireGuard module: the backend must say so and leave nothing.
TEST_F(NetlinkNamespace, KernelWireguardUnavailableHere) {
  std::string why;
  bool available = wg::kernel_wireguard_available(&why);
  if (available) GTEST_SKIP() << "this kernel has WireGuard; the test is for kernels without it";
  EXPECT_NE(why.find("module"), std::string::npos) << why;
  EXPECT_EQ(rtnl::list_links().size(), 1u) << "the probe left a link behind";
}

TEST_F(NetlinkNamespace, KernelBackendCreateFailsCleanly) {
  if (wg::kernel_wireguard_available(nullptr)) GTEST_SKIP() << "this kernel has WireGuard";
  wg::KernelBackend backend;
  EXPECT_EQ(backend.name(), "kernel");
  wg::DeviceConfig config;
  try {
    backend.create("wgtest0", config, 1420);
    ADD_FAILURE() << "created a WireGuard link without the module";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.error_number(), EOPNOTSUPP);
    std::string what = e.what();
    EXPECT_NE(what.find("wgtest0"), std::string::npos) << what;
    EXPECT_NE(what.find("WireGuard"), std::string::npos) << what;
  }
  EXPECT_FALSE(rtnl::ifindex("wgtest0"));
  EXPECT_EQ(rtnl::list_links().size(), 1u);
  EXPECT_FALSE(backend.exists({"wgtest0", "", ""}));
  EXPECT_NO_THROW(backend.remove({"wgtest0", "", ""}));  // already gone is not an error
}

TEST_F(NetlinkNamespace, KernelBackendRefusesToDeleteOtherKinds) {
  std::string kind = test_kind();
  rtnl::create_link("nltest2", kind);
  wg::KernelBackend backend;
  EXPECT_FALSE(backend.exists({"nltest2", "", ""}));
  EXPECT_THROW(backend.remove({"nltest2", "", ""}), InputError);
  EXPECT_TRUE(rtnl::ifindex("nltest2"));
  EXPECT_TRUE(rtnl::delete_link("nltest2"));
}

namespace {
std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  return out;
}
}  // namespace

// What wgnetd does to put a rebuilt device back into a container: addresses, connected
// routes, and a move into another namespace under a new name.
TEST_F(NetlinkNamespace, AddressesRoutesAndMove) {
  std::string kind = test_kind();
  rtnl::create_link("nlt1", kind);
  rtnl::add_address("nlt1", *Cidr::parse("10.66.0.1/24"));
  rtnl::add_address("nlt1", *Cidr::parse("fd66::1/64"));
  rtnl::add_address("nlt1", *Cidr::parse("10.66.0.1/24"));  // again: replaced, not an error
  rtnl::set_up("nlt1", true);
  rtnl::add_route("nlt1", *Cidr::parse("10.67.0.0/16"));
  rtnl::add_route("nlt1", *Cidr::parse("0.0.0.0/0"));
  std::string addrs = run("ip -o addr show dev nlt1");
  EXPECT_NE(addrs.find("inet 10.66.0.1/24"), std::string::npos) << addrs;
  EXPECT_NE(addrs.find("inet6 fd66::1/64"), std::string::npos) << addrs;
  std::string routes = run("ip route show dev nlt1");
  EXPECT_NE(routes.find("10.67.0.0/16 scope link"), std::string::npos) << routes;
  EXPECT_NE(routes.find("default scope link"), std::string::npos) << routes;
  EXPECT_THROW(rtnl::add_address("nosuch0", *Cidr::parse("10.0.0.1/8")), SystemError);

  // Another namespace, as a container's: the link moves there and is renamed on the way.
  std::string ns = "wgnet-nltest-" + std::to_string(getpid());
  ASSERT_EQ(run("ip netns add " + ns), "");
  std::string path = "/run/netns/" + ns;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  rtnl::move_link("nlt1", fd, "wg7");
  ::close(fd);
  EXPECT_FALSE(rtnl::ifindex("nlt1"));
  std::string inside = run("ip netns exec " + ns + " ip -o link show wg7");
  EXPECT_NE(inside.find("wg7"), std::string::npos) << inside;
  run("ip netns del " + ns);
  rtnl::delete_link("nlt1");
  for (auto& l : rtnl::list_links())
    if (l.name != "lo") rtnl::delete_link(l.name);  // a veth peer left behind
}

// The path MTU the driver sizes tunnels by: the output link's MTU, or the route's own when it has
// one.
TEST_F(NetlinkNamespace, PathMtuOfARoute) {
  std::string kind = test_kind();
  rtnl::create_link("nlt2", kind);
  rtnl::set_mtu("nlt2", 1400);
  rtnl::add_address("nlt2", *Cidr::parse("198.18.250.1/30"));
  rtnl::set_up("nlt2", true);
  EXPECT_EQ(rtnl::path_mtu(*IpAddress::parse("198.18.250.2")), 1400u);  // the link's
  EXPECT_EQ(rtnl::find_link_by_index(*rtnl::ifindex("nlt2"))->name, "nlt2");
  EXPECT_FALSE(rtnl::find_link_by_index(999999));
  run("ip route add 198.18.251.0/24 dev nlt2 mtu 1300");
  EXPECT_EQ(rtnl::path_mtu(*IpAddress::parse("198.18.251.9")), 1300u);
  EXPECT_FALSE(rtnl::path_mtu(*IpAddress::parse("203.0.113.1")));  // no route in this namespace
  rtnl::delete_link("nlt2");
  for (auto& l : rtnl::list_links())
    if (l.name != "lo") rtnl::delete_link(l.name);  // a veth peer left behind
}

// ---------------------------------------------------------------------------------------------
// The kernel backend against the real WireGuard module: create, configure, dump, and
// configurations large enough to span several netlink messages both ways. Skipped where the
// kernel has no WireGuard (these machines); tests/vm runs them in a VM booting Debian's kernel,
// with WGNET_REQUIRE_KERNEL_WIREGUARD=1 so that a missing module fails instead of skipping.

#include <linux/wireguard.h>

#include <map>
#include <set>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "netlink/wireguard.h"

namespace {

namespace wgnl = wgnet::netlink::wireguard;

class KernelWireguard : public NetlinkNamespace {
 protected:
  void SetUp() override {
    NetlinkNamespace::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string why;
    if (wg::kernel_wireguard_available(&why)) return;
    if (std::getenv("WGNET_REQUIRE_KERNEL_WIREGUARD"))
      FAIL() << "WireGuard module required: " << why;
    GTEST_SKIP() << "no WireGuard in this kernel (" << why << "); scripts/vm runs this in a VM";
  }
  void TearDown() override {
    for (auto& l : rtnl::list_links())
      if (l.kind == "wireguard") rtnl::delete_link(l.name);
  }
};

crypto::Key key_of(uint32_t n, uint8_t tag) {
  std::array<uint8_t, 32> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(n >> (8 * (i % 4))) ^ tag;
  b[31] = tag;
  return crypto::Key(std::span<const uint8_t, 32>(b));
}
crypto::Key private_key(uint32_t n) {
  crypto::Key k = key_of(n, 0x5a);
  crypto::clamp(k);
  return k;
}
Cidr cidr(const std::string& text) { return *Cidr::parse(text); }
IpAddress v4(uint32_t host_order) { return IpAddress::v4(host_order); }

// Applies `config` to `ifname` as the backend does, message by message; returns how many.
size_t apply(const std::string& ifname, const wg::DeviceConfig& config) {
  auto family = wgnl::open_family("test: configure " + ifname);
  auto messages = wgnl::encode_set_device(ifname, family.id, config);
  for (auto& m : messages) family.socket.request(m, "test: configure " + ifname);
  return messages.size();
}

struct Dump {
  wg::DeviceStatus status;
  size_t messages = 0;  // netlink messages carrying device data
};
Dump dump(const std::string& ifname) {
  auto family = wgnl::open_family("test: read " + ifname);
  auto request = wgnl::encode_get_device(ifname, family.id);
  auto raw = family.socket.dump(request, "test: read " + ifname);
  Dump d;
  size_t off = 0;
  while (off + NLMSG_HDRLEN <= raw.size()) {
    nlmsghdr h{};
    std::memcpy(&h, raw.data() + off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN) break;
    if (h.nlmsg_type >= NLMSG_MIN_TYPE) ++d.messages;
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  d.status = wgnl::decode_get_device(raw);
  return d;
}

std::string b64(const crypto::Key& k) { return crypto::key_to_base64(k); }

// What the kernel holds, peer by peer: {public key: sorted allowed IPs}.
std::map<std::string, std::set<std::string>> allowed_by_peer(const wg::DeviceStatus& s) {
  std::map<std::string, std::set<std::string>> m;
  for (const auto& p : s.peers)
    for (const auto& c : p.allowed_ips) m[b64(p.public_key)].insert(c.str());
  for (const auto& p : s.peers) m[b64(p.public_key)];  // peers without allowed IPs too
  return m;
}
std::map<std::string, std::set<std::string>> allowed_by_peer(const wg::DeviceConfig& c) {
  std::map<std::string, std::set<std::string>> m;
  for (const auto& p : c.peers) {
    auto& s = m[b64(p.public_key)];
    for (const auto& a : p.allowed_ips) s.insert(a.str());
  }
  return m;
}

// `wg show IFNAME dump`, wireguard-tools' own reading of the device (an independent decoder);
// empty when wg is not installed.
std::string wg_dump(const std::string& ifname) {
  if (run("command -v wg").empty()) return "";
  return run("wg show " + ifname + " dump");
}

wg::DeviceConfig small_config() {
  wg::DeviceConfig c;
  c.private_key = private_key(1);
  c.listen_port = 51820;
  c.fwmark = 0x42;
  wg::PeerConfig a;
  a.public_key = crypto::public_key(private_key(2));
  a.preshared_key = key_of(7, 0x33);
  a.endpoint = wg::Endpoint::parse("198.18.7.2:51821");
  a.persistent_keepalive = 25;
  a.allowed_ips = {cidr("10.77.0.0/24"), cidr("fd77::/64")};
  wg::PeerConfig b;
  b.public_key = crypto::public_key(private_key(3));
  b.endpoint = wg::Endpoint::parse("[fd18::3]:51822");
  b.allowed_ips = {cidr("10.78.1.5/32")};
  c.peers = {a, b};
  return c;
}

}  // namespace

TEST_F(KernelWireguard, CreateConfigureDump) {
  wg::KernelBackend backend;
  wg::DeviceConfig config = small_config();
  backend.create("wgk0", config, 1380);

  auto link = listed("wgk0");
  ASSERT_TRUE(link);
  EXPECT_EQ(link->kind, "wireguard");
  EXPECT_EQ(link->mtu, 1380u);

  Dump d = dump("wgk0");
  EXPECT_EQ(d.messages, 1u);
  ASSERT_TRUE(d.status.public_key);
  EXPECT_EQ(b64(*d.status.public_key), b64(crypto::public_key(*config.private_key)));
  EXPECT_EQ(d.status.listen_port, 51820);
  ASSERT_EQ(d.status.peers.size(), 2u);
  const wg::PeerStatus& a = d.status.peers[0];  // the kernel keeps peers in the order added
  EXPECT_EQ(b64(a.public_key), b64(config.peers[0].public_key));
  ASSERT_TRUE(a.endpoint);
  EXPECT_EQ(a.endpoint->str(), "198.18.7.2:51821");
  EXPECT_EQ(a.persistent_keepalive, 25);
  EXPECT_EQ(a.last_handshake_sec, 0);
  EXPECT_EQ(a.rx_bytes, 0u);
  const wg::PeerStatus& b = d.status.peers[1];
  ASSERT_TRUE(b.endpoint);
  EXPECT_EQ(b.endpoint->str(), "[fd18::3]:51822");
  EXPECT_EQ(b.persistent_keepalive, 0);
  EXPECT_EQ(allowed_by_peer(d.status), allowed_by_peer(config));

  // wireguard-tools reads the same device: keys, preshared key, port, fwmark, endpoints.
  std::string tools = wg_dump("wgk0");
  if (!tools.empty()) {
    EXPECT_NE(
        tools.find(b64(*config.private_key) + "\t" + b64(*d.status.public_key) + "\t51820\t0x42"),
        std::string::npos)
        << tools;
    EXPECT_NE(tools.find(b64(config.peers[0].public_key) + "\t" +
                         b64(*config.peers[0].preshared_key) + "\t198.18.7.2:51821\t"),
              std::string::npos)
        << tools;
    EXPECT_NE(
        tools.find(b64(config.peers[1].public_key) + "\t(none)\t[fd18::3]:51822\t10.78.1.5/32"),
        std::string::npos)
        << tools;
  }

  // Configured again with other peers: replace_peers leaves only those.
  wg::DeviceConfig other;
  other.private_key = config.private_key;
  other.listen_port = 51830;
  wg::PeerConfig c;
  c.public_key = crypto::public_key(private_key(4));
  c.allowed_ips = {cidr("10.79.0.0/16")};
  other.peers = {c};
  EXPECT_EQ(apply("wgk0", other), 1u);
  d = dump("wgk0");
  EXPECT_EQ(d.status.listen_port, 51830);
  EXPECT_EQ(allowed_by_peer(d.status), allowed_by_peer(other));

  // Without replace_peers, peers are added to what is there.
  wg::DeviceConfig more;
  more.replace_peers = false;
  more.peers = {config.peers[1]};
  apply("wgk0", more);
  d = dump("wgk0");
  ASSERT_EQ(d.status.peers.size(), 2u);
  EXPECT_EQ(d.status.listen_port, 51830);
  EXPECT_TRUE(rtnl::delete_link("wgk0"));
}

// 400 peers with two allowed IPs each, and one peer with 1500: several SET messages on the way
// in (a peer continued across messages), several dump messages on the way out; the kernel ends
// up with exactly the configuration, and applying it again changes nothing.
TEST_F(KernelWireguard, LargeConfigurationSpansMessagesBothWays) {
  wg::DeviceConfig config;
  config.private_key = private_key(10);
  config.listen_port = 51900;
  for (uint32_t i = 0; i < 400; ++i) {
    wg::PeerConfig p;
    p.public_key = crypto::public_key(private_key(1000 + i));
    p.endpoint = wg::Endpoint{v4(0xc6120000u + i), static_cast<uint16_t>(20000 + i)};  // 198.18/15
    p.persistent_keepalive = static_cast<uint16_t>(i % 3 == 0 ? 25 : 0);
    p.allowed_ips = {wgnet::Cidr(v4(0x0a500000u + i), 32),
                     cidr("fd80::" + std::to_string(i) + "/128")};
    config.peers.push_back(p);
  }
  wg::PeerConfig hub;
  hub.public_key = crypto::public_key(private_key(9));
  for (uint32_t i = 0; i < 1500; ++i) hub.allowed_ips.emplace_back(v4(0x0a600000u + 4 * i), 30);
  config.peers.push_back(hub);

  auto family = wgnl::open_family("test");
  size_t expected_messages = wgnl::encode_set_device("wgk1", family.id, config).size();
  ASSERT_GT(expected_messages, 10u) << "the configuration should need many SET messages";

  wg::KernelBackend backend;
  backend.create("wgk1", config, 1420);
  Dump d = dump("wgk1");
  EXPECT_GT(d.messages, 1u) << "the dump should span several messages";
  EXPECT_EQ(d.status.listen_port, 51900);
  ASSERT_EQ(d.status.peers.size(), 401u);
  EXPECT_EQ(allowed_by_peer(d.status), allowed_by_peer(config));
  EXPECT_EQ(d.status.peers[400].allowed_ips.size(), 1500u) << "the continued peer merged";
  for (size_t i = 0; i < 400; ++i) {
    ASSERT_TRUE(d.status.peers[i].endpoint) << i;
    EXPECT_EQ(*d.status.peers[i].endpoint, *config.peers[i].endpoint) << i;
    EXPECT_EQ(d.status.peers[i].persistent_keepalive, config.peers[i].persistent_keepalive) << i;
  }

  std::string tools = wg_dump("wgk1");
  if (!tools.empty()) {
    size_t lines = static_cast<size_t>(std::count(tools.begin(), tools.end(), '\n'));
    EXPECT_EQ(lines, 1u + 401u) << "wg show wgk1 dump: one device line and one per peer";
    std::string hub_line = b64(hub.public_key) + "\t(none)\t(none)\t";
    EXPECT_NE(tools.find(hub_line), std::string::npos);
  }

  // Applying the same configuration again (replace_peers, replace allowed IPs) is idempotent.
  EXPECT_EQ(apply("wgk1", config), expected_messages);
  Dump again = dump("wgk1");
  EXPECT_EQ(allowed_by_peer(again.status), allowed_by_peer(config));
  EXPECT_EQ(again.status.peers.size(), 401u);

  // And a smaller one replaces it entirely.
  wg::DeviceConfig small = small_config();
  small.listen_port = 51900;
  apply("wgk1", small);
  EXPECT_EQ(allowed_by_peer(dump("wgk1").status), allowed_by_peer(small));
  EXPECT_TRUE(rtnl::delete_link("wgk1"));
}

// Creating over an existing WireGuard link fails and leaves that link as it was; a bad
// configuration (a peer with an IPv4 prefix longer than 32) leaves nothing behind.
TEST_F(KernelWireguard, CreateFailuresLeaveNothingBehind) {
  wg::KernelBackend backend;
  wg::DeviceConfig config = small_config();
  backend.create("wgk2", config, 1420);
  try {
    backend.create("wgk2", small_config(), 1300);
    ADD_FAILURE() << "created wgk2 twice";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.error_number(), EEXIST) << e.what();
  }
  EXPECT_EQ(listed("wgk2")->mtu, 1420u);
  EXPECT_EQ(dump("wgk2").status.peers.size(), 2u);

  wg::DeviceConfig bad = small_config();
  bad.peers[0].allowed_ips = {wgnet::Cidr(v4(0x0a000001u), 33)};
  EXPECT_ANY_THROW(backend.create("wgk3", bad, 1420));
  EXPECT_FALSE(rtnl::ifindex("wgk3"));
  EXPECT_TRUE(rtnl::delete_link("wgk2"));
}
