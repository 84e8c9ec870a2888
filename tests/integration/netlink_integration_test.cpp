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
  EXPECT_FALSE(backend.exists("wgtest0"));
  EXPECT_TRUE(backend.list("wg").empty());
  EXPECT_NO_THROW(backend.remove("wgtest0"));  // already gone is not an error
}

TEST_F(NetlinkNamespace, KernelBackendRefusesToDeleteOtherKinds) {
  std::string kind = test_kind();
  rtnl::create_link("nltest2", kind);
  wg::KernelBackend backend;
  EXPECT_FALSE(backend.exists("nltest2"));
  EXPECT_THROW(backend.remove("nltest2"), InputError);
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
