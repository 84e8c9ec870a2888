// wgnet-cni's IPAM delegation against Debian's host-local (1.1.1): a 1.1.0 configuration is sent
// in 1.0.0, which it speaks; addresses come from the range and never repeat; DEL frees them and
// repeats harmlessly; host-local's own errors come back with its code and its name; a type not in
// CNI_PATH is refused naming the directories. Its reservations live in a temporary dataDir.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "../unit/temp_dir.h"
#include "cni/error.h"
#include "cni/plugin/ipam.h"

namespace wgnet::cni {
namespace {

using nlohmann::json;

constexpr const char* kPluginDir = "/usr/lib/cni";

class HostLocal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access((std::string(kPluginDir) + "/host-local").c_str(), X_OK) != 0)
      GTEST_SKIP() << "host-local not installed (containernetworking-plugins)";
  }
  json config(const std::string& version, const std::string& subnet) {
    return json{
        {"cniVersion", version},
        {"name", "wgnet-ipam-test"},
        {"type", "wgnet"},
        {"ipam",
         {{"type", "host-local"},
          {"dataDir", dir_.path().string()},
          {"ranges",
           json::array({json::array({{{"subnet", subnet}, {"gateway", "198.18.200.254"}}})})}}}};
  }
  std::vector<std::string> env(const std::string& container) {
    return {"CNI_COMMAND=ADD", "CNI_CONTAINERID=" + container, "CNI_NETNS=/proc/self/ns/net",
            "CNI_IFNAME=eth0", std::string("CNI_PATH=") + kPluginDir};
  }
  Ipam ipam(const std::string& container, const std::string& version = "1.1.0",
            const std::string& subnet = "198.18.200.0/24") {
    return Ipam(find_plugin("host-local", {"/nonexistent", kPluginDir}), config(version, subnet),
                env(container), runner_);
  }
  testing::TempDir dir_{"wgnet-cni-ipam"};
  ExecRunner runner_;
};

TEST_F(HostLocal, AllocatesFromTheRangeInAVersionItSpeaks) {
  const Result a = ipam("c1").add();
  const Result b = ipam("c2").add();
  ASSERT_EQ(a.ips.size(), 1u);
  ASSERT_EQ(b.ips.size(), 1u);
  const Cidr range = *Cidr::parse("198.18.200.0/24");
  EXPECT_TRUE(range.contains(a.ips[0].address.address()));
  EXPECT_EQ(a.ips[0].address.prefix(), 24);
  EXPECT_NE(a.ips[0].address, b.ips[0].address);
  EXPECT_NE(a.ips[0].address.address().str(), "198.18.200.254");  // the gateway is kept back
  // 0.4.0, which host-local also speaks, is used as it is.
  EXPECT_EQ(ipam("c3", "0.4.0").add().ips.size(), 1u);
}

TEST_F(HostLocal, DelFreesTheAddressAndRepeatsHarmlessly) {
  const Result a = ipam("c1").add();
  const auto reservation = dir_.path() / "wgnet-ipam-test" / a.ips[0].address.address().str();
  EXPECT_TRUE(std::filesystem::exists(reservation));
  ipam("c1").del();
  EXPECT_FALSE(std::filesystem::exists(reservation));
  EXPECT_NO_THROW(ipam("c1").del());
  EXPECT_NO_THROW(ipam("never-added").del());
}

TEST_F(HostLocal, ItsErrorsComeBackWithItsCodeAndName) {
  // A /30 with the gateway outside it: two usable addresses.
  ipam("c1", "1.1.0", "198.18.201.0/30").add();
  ipam("c2", "1.1.0", "198.18.201.0/30").add();
  try {
    ipam("c3", "1.1.0", "198.18.201.0/30").add();
    FAIL() << "a third address from a /30";
  } catch (const Error& e) {
    EXPECT_GE(e.code(), 1);
    EXPECT_NE(e.details().find("ipam host-local"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no IP addresses available"), std::string::npos)
        << e.what();
  }
}

TEST_F(HostLocal, ATypeNotInCniPathIsNamed) {
  try {
    find_plugin("no-such-ipam", {"/usr/lib/cni", "/opt/cni/bin"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kInvalidConfig);
    EXPECT_NE(e.details().find("no-such-ipam"), std::string::npos);
    EXPECT_NE(e.details().find("/usr/lib/cni:/opt/cni/bin"), std::string::npos);
  }
}

}  // namespace
}  // namespace wgnet::cni
