// Network options: the product.md table, the article's aliases, and every refusal.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "crypto/encoding.h"
#include "driver/options.h"
#include "driver/peers_file.h"
#include "temp_dir.h"
#include "util/error.h"

using namespace wgnet;
using driver::parse_network_options;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHubKey = "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=";

class Options : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(root / "seeds");
    write("seeds/seed", "0123456789abcdef0123456789abcdef");
    write("seeds/short", "0123456789");
    write("outside", "0123456789abcdef0123456789abcdef");
    ctx.seed_dir = (root / "seeds").string();
  }
  void write(const std::string& rel, const std::string& data) {
    std::ofstream(root / rel) << data;
    ::chmod((root / rel).c_str(), 0600);
  }
  std::map<std::string, std::string> base() {
    return {{"wgnet.endpoint", "198.18.42.2:51820"},
            {"wgnet.endpoint-key", kHubKey},
            {"wgnet.seed-file", "seed"}};
  }
  // The error message of parsing `opts`, or "" when it parsed.
  std::string error_of(const std::map<std::string, std::string>& opts) {
    try {
      parse_network_options(opts, ctx);
      return "";
    } catch (const InputError& e) {
      return e.what();
    }
  }
  wgnet::testing::TempDir tmp{"wgnet-options-test"};
  fs::path root = tmp.path();
  driver::OptionContext ctx;
};

}  // namespace

TEST_F(Options, DefaultsOfTheTable) {
  auto o = parse_network_options(base(), ctx);
  EXPECT_EQ(o.kdf, keys::Kdf::kHkdf);
  EXPECT_EQ(o.keepalive, 25);
  EXPECT_FALSE(o.mtu);  // unset: from the path to the hub (driver/mtu.h)
  EXPECT_FALSE(o.psk);
  EXPECT_EQ(o.backend, "auto");
  ASSERT_EQ(o.allowed_ips.size(), 1u);
  EXPECT_EQ(o.allowed_ips[0].str(), "0.0.0.0/0");
  EXPECT_TRUE(o.additional.empty());
  EXPECT_EQ(o.endpoint->str(), "198.18.42.2:51820");
  EXPECT_FALSE(o.article_names);
}

TEST_F(Options, Ipv6NetworksTunnelBothFamilies) {
  ctx.ipv6 = true;
  auto o = parse_network_options(base(), ctx);
  ASSERT_EQ(o.allowed_ips.size(), 2u);
  EXPECT_EQ(o.allowed_ips[1].str(), "::/0");
}

TEST_F(Options, ArticleAliasesSelectSha3AndItsDefaultAdditional) {
  auto o = parse_network_options({{"io.bestov.wg.peer", "198.18.42.2:10101"},
                                  {"io.bestov.wg.peerkey", kHubKey},
                                  {"io.bestov.wg.seed", "dGVzdHNlZWQK"}},
                                 ctx);
  EXPECT_TRUE(o.article_names);
  EXPECT_EQ(o.kdf, keys::Kdf::kSha3);
  EXPECT_EQ(o.keepalive, 25);
  EXPECT_EQ(std::string(o.additional.begin(), o.additional.end()), "bestov.io");
  ASSERT_TRUE(o.seed);
  EXPECT_EQ(o.seed->size(), 9u);
}

TEST_F(Options, EverySettingParses) {
  auto opts = base();
  opts["wgnet.additional"] = "d2duZXQ=";
  opts["wgnet.kdf"] = "sha3";
  opts["wgnet.keepalive"] = "0";
  opts["wgnet.mtu"] = "1380";
  opts["wgnet.allowed-ips"] = "10.0.0.0/8,192.168.1.7/24";
  opts["wgnet.psk"] = "derived";
  opts["wgnet.backend"] = "external";
  opts["com.docker.network.driver.mtu"] = "1300";
  auto o = parse_network_options(opts, ctx);
  EXPECT_EQ(o.kdf, keys::Kdf::kSha3);
  EXPECT_EQ(o.keepalive, 0);
  EXPECT_EQ(o.mtu, 1380u);  // wgnet.mtu wins over Docker's option
  ASSERT_EQ(o.allowed_ips.size(), 2u);
  EXPECT_EQ(o.allowed_ips[1].str(), "192.168.1.0/24");
  EXPECT_TRUE(o.psk);
  EXPECT_EQ(o.backend, "external");
}

TEST_F(Options, DockerMtuIsHonoured) {
  auto opts = base();
  opts["com.docker.network.driver.mtu"] = "1300";
  EXPECT_EQ(parse_network_options(opts, ctx).mtu, 1300u);
}

TEST_F(Options, RefusalsNameTheOption) {
  auto with = [&](const char* k, const char* v) {
    auto o = base();
    if (v)
      o[k] = v;
    else
      o.erase(k);
    return error_of(o);
  };
  EXPECT_NE(with("wgnet.endpoint", nullptr).find("without wgnet.endpoint"), std::string::npos);
  EXPECT_NE(error_of({{"wgnet.seed-file", "seed"}}).find("wgnet.endpoint is required"),
            std::string::npos);
  EXPECT_NE(with("wgnet.endpoint-key", nullptr).find("wgnet.endpoint-key"), std::string::npos);
  EXPECT_NE(with("wgnet.endpoint-key", "bm90IGEga2V5").find("wgnet.endpoint-key"),
            std::string::npos);
  EXPECT_NE(with("wgnet.endpoint", "198.18.42.2").find("HOST:PORT"), std::string::npos);
  EXPECT_NE(with("wgnet.endpoint", "198.18.42.2:0").find("wgnet.endpoint"), std::string::npos);
  EXPECT_NE(with("wgnet.foo", "1").find("wgnet.foo: unknown option"), std::string::npos);
  EXPECT_NE(with("io.bestov.wg.bar", "1").find("io.bestov.wg.bar"), std::string::npos);
  EXPECT_NE(with("wgnet.seed-file", nullptr).find("wgnet.seed-file is required"),
            std::string::npos);
  EXPECT_NE(with("wgnet.seed-file", (root / "outside").c_str()).find("outside the seed directory"),
            std::string::npos);
  EXPECT_NE(with("wgnet.seed-file", "../outside").find("outside the seed directory"),
            std::string::npos);
  EXPECT_NE(with("wgnet.seed-file", "missing").find("wgnet.seed-file"), std::string::npos);
  EXPECT_NE(with("wgnet.seed-file", "short").find("at least 16"), std::string::npos);
  EXPECT_NE(with("wgnet.kdf", "md5").find("wgnet.kdf"), std::string::npos);
  EXPECT_NE(with("wgnet.keepalive", "-1").find("wgnet.keepalive"), std::string::npos);
  EXPECT_NE(with("wgnet.keepalive", "70000").find("wgnet.keepalive"), std::string::npos);
  EXPECT_NE(with("wgnet.mtu", "100").find("wgnet.mtu"), std::string::npos);
  EXPECT_NE(with("wgnet.allowed-ips", "10.0.0.0/33").find("wgnet.allowed-ips"), std::string::npos);
  EXPECT_NE(with("wgnet.psk", "yes").find("wgnet.psk"), std::string::npos);
  EXPECT_NE(with("wgnet.backend", "bpf").find("wgnet.backend"), std::string::npos);
  EXPECT_NE(with("wgnet.additional", "***").find("wgnet.additional"), std::string::npos);
  EXPECT_NE(with("wgnet.seed", "c2VlZHNlZWRzZWVkc2VlZA==").find("both"), std::string::npos);
  EXPECT_NE(with("io.bestov.wg.peer", "198.18.42.2:1").find("given twice"), std::string::npos);
}

TEST_F(Options, InlineSeedIsNeverEchoed) {
  auto o = base();
  o.erase("wgnet.seed-file");
  o["wgnet.seed"] = "c2hvcnRzZWNyZXQ=";  // 11 bytes: too short for hkdf
  std::string e = error_of(o);
  EXPECT_NE(e.find("wgnet.seed"), std::string::npos);
  EXPECT_EQ(e.find("c2hvcnRzZWNyZXQ="), std::string::npos);
}

TEST_F(Options, PeersFileReplacesTheEndpoint) {
  write("seeds/peers",
        "# two hubs\n[Peer]\nPublicKey = " + std::string(kHubKey) +
            "\nEndpoint = 198.18.42.2:51820\nAllowedIPs = 10.0.0.0/8, 10.1.0.0/16\n"
            "PersistentKeepalive = 15\n\n[Peer]\nPublicKey = "
            "+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=\nAllowedIPs = 172.20.0.0/16\n");
  auto o = parse_network_options({{"wgnet.peers-file", "peers"}, {"wgnet.seed-file", "seed"}}, ctx);
  EXPECT_FALSE(o.endpoint);
  ASSERT_EQ(o.file_peers.size(), 2u);
  EXPECT_EQ(o.file_peers[0].config.allowed_ips.size(), 2u);
  EXPECT_EQ(o.file_peers[0].config.persistent_keepalive, 15);
  EXPECT_FALSE(o.file_peers[1].endpoint);
}

TEST(PeersFile, ErrorsCarryLineNumbers) {
  auto err = [](const std::string& text) {
    try {
      driver::parse_peers_file(text, "f");
      return std::string();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
  };
  EXPECT_NE(err("[Interface]\nPrivateKey = x\n").find("line 1"), std::string::npos);
  EXPECT_NE(err("[Peer]\nAllowedIPs = 10.0.0.0/8\n").find("PublicKey"), std::string::npos);
  EXPECT_NE(err("[Peer]\nPublicKey = ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=\nFoo = 1\n")
                .find("line 3"),
            std::string::npos);
  EXPECT_NE(err("").find("no [Peer]"), std::string::npos);
}

TEST(HubEndpoint, ParsesNamesAndAddresses) {
  EXPECT_EQ(driver::parse_hub_endpoint("hub.example.org:51820")->host, "hub.example.org");
  EXPECT_EQ(driver::parse_hub_endpoint("[fd00::1]:51820")->str(), "[fd00::1]:51820");
  EXPECT_FALSE(driver::parse_hub_endpoint("fd00::1:51820"));
  EXPECT_FALSE(driver::parse_hub_endpoint("hub example:1"));
  EXPECT_FALSE(driver::parse_hub_endpoint("hub:99999"));
}

TEST(PeersFile, BadKeysNameTheLine) {
  try {
    driver::parse_peers_file(
        "[Peer]\nPublicKey = ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=\nAllowedIPs = "
        "10.0.0.0/8\n[Peer]\nPublicKey = bm9wZQ==\n",
        "f");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("PublicKey"), std::string::npos) << e.what();
  }
}
