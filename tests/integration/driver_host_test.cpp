// The driver's LinuxHost against the real kernel: sandbox liveness (a namespace mounted on a file,
// as Docker's SandboxKey, versus the empty file left after unmounting), putting a link into a
// sandbox with addresses and routes, name resolution. The test process runs in network and mount
// namespaces of its own, so neither the host's links nor its mounts are touched. Needs root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "driver/host_linux.h"
#include "netlink/rtnl.h"
#include "private_netns.h"
#include "sandboxes.h"
#include "util/error.h"
#include "util/netns.h"

using namespace wgnet;
namespace fs = std::filesystem;
namespace rtnl = netlink::rtnl;

namespace {

class LinuxHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    ASSERT_NO_FATAL_FAILURE(sandboxes_.init("wgnet-host-test"));
    ASSERT_NO_FATAL_FAILURE(itest::enter_private_netns());
  }
  std::string make_sandbox(const std::string& name) { return sandboxes_.make(name); }

  itest::Sandboxes sandboxes_;
  driver::LinuxHost host_;
};

}  // namespace

TEST_F(LinuxHostTest, ASandboxIsAliveOnlyWhileANamespaceIsMountedOnIt) {
  auto sandbox = make_sandbox("sb1");
  EXPECT_TRUE(host_.sandbox_exists(sandbox));
  // Docker unmounts the namespace of a dead container; the file may stay behind, empty.
  ASSERT_EQ(::umount2(sandbox.c_str(), MNT_DETACH), 0);
  EXPECT_TRUE(fs::exists(sandbox));
  EXPECT_FALSE(host_.sandbox_exists(sandbox)) << "an empty file counted as a live container";
  fs::remove(sandbox);
  EXPECT_FALSE(host_.sandbox_exists(sandbox));
  EXPECT_FALSE(host_.sandbox_exists(""));
}

TEST_F(LinuxHostTest, PlacesALinkInASandboxAsDockerWould) {
  auto sandbox = make_sandbox("sb2");
  rtnl::create_link("wgnet-hosttest", "veth");  // this kernel may have no dummy links
  ASSERT_TRUE(host_.link_exists("wgnet-hosttest"));
  // wg0 is taken in the sandbox already: the device becomes wg1.
  netns::run_in(sandbox, [] { rtnl::create_link("wg0", "veth"); });
  auto name = host_.place_in_sandbox("wgnet-hosttest", sandbox, "wg",
                                     {*Cidr::parse("10.77.0.2/24"), *Cidr::parse("fd77::2/64")},
                                     {*Cidr::parse("0.0.0.0/0"), *Cidr::parse("10.99.0.0/16")});
  EXPECT_EQ(name, "wg1");
  EXPECT_FALSE(host_.link_exists("wgnet-hosttest")) << "the link is still in the host namespace";
  netns::run_in(sandbox, [] {
    auto link = rtnl::find_link("wg1");
    ASSERT_TRUE(link);
    EXPECT_TRUE(link->up);
  });
  std::string out;
  netns::run_in(sandbox, [&] {
    FILE* p = ::popen("ip -o addr show dev wg1; ip route show dev wg1", "r");
    char buf[512];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    if (p) ::pclose(p);
  });
  EXPECT_NE(out.find("10.77.0.2/24"), std::string::npos) << out;
  EXPECT_NE(out.find("fd77::2/64"), std::string::npos) << out;
  EXPECT_NE(out.find("default"), std::string::npos) << out;
  EXPECT_NE(out.find("10.99.0.0/16"), std::string::npos) << out;
}

TEST_F(LinuxHostTest, ResolvesNumbersAndNamesAndRefusesWithTheOptionName) {
  EXPECT_EQ(host_.resolve("198.18.1.2", std::chrono::seconds(1), "x").str(), "198.18.1.2");
  EXPECT_EQ(host_.resolve("fd00::1", std::chrono::seconds(1), "x").str(), "fd00::1");
  auto local = host_.resolve("localhost", std::chrono::seconds(5), "x");
  EXPECT_TRUE(local.str() == "127.0.0.1" || local.str() == "::1") << local.str();
  try {
    host_.resolve("no-such-host.invalid", std::chrono::seconds(5), "wgnet.endpoint");
    ADD_FAILURE() << "resolved a .invalid name";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("wgnet.endpoint: ", 0), 0u) << e.what();
  }
}
