// The driver's logic against an in-memory backend: what Docker sees (Join replies, errors) and
// what the device gets (key, peer, MTU). The real backends are exercised by the e2e tests.
#include "driver/driver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "crypto/encoding.h"
#include "util/error.h"

using namespace wgnet;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHubKey = "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=";

struct MemoryBackend : wg::Backend {
  struct Device {
    wg::DeviceConfig config;
    uint32_t mtu;
  };
  std::map<std::string, Device> devices;
  int creates = 0;
  int configures = 0;
  std::string name() const override { return "external"; }
  void create(const std::string& ifname, const wg::DeviceConfig& c, uint32_t mtu) override {
    if (devices.count(ifname)) throw SystemError("exists");
    devices[ifname] = {c, mtu};
    creates++;
  }
  void configure(const std::string& ifname, const wg::DeviceConfig& c, uint32_t mtu) override {
    devices.at(ifname) = {c, mtu};
    configures++;
  }
  void remove(const std::string& ifname) override { devices.erase(ifname); }
  bool exists(const std::string& ifname) override { return devices.count(ifname) > 0; }
  wg::DeviceStatus status(const std::string&) override { return {}; }
  bool adopt(const std::string& ifname) override {
    adopted.insert(ifname);
    return true;
  }
  std::set<std::string> adopted;
  std::vector<std::string> list(const std::string& prefix) override {
    std::vector<std::string> out;
    for (auto& [n, d] : devices)
      if (n.rfind(prefix, 0) == 0) out.push_back(n);
    return out;
  }
};

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wgnet-driver-test-XXXXXX";
    root = mkdtemp(tmpl);
    fs::create_directory(root / "seeds");
    std::ofstream(root / "seeds" / "seed") << "an example seed of thirty-two by";
    ::chmod((root / "seeds" / "seed").c_str(), 0600);
    start();
  }
  void TearDown() override { fs::remove_all(root); }
  // (Re)starts the daemon's pieces on the same state directory, as a restart would.
  void start() {
    auto mem = std::make_unique<MemoryBackend>();
    if (backend) mem->devices = backend->devices;  // devices outlive the daemon
    drv.reset();
    backends.reset();
    state.reset();
    backend = mem.get();
    backends = std::make_unique<wg::Backends>(wg::BackendOptions{});
    backends->add("external", std::move(mem));
    state = std::make_unique<driver::StateStore>((root / "state").string());
    drv = std::make_unique<driver::WgDriver>(
        *state, *backends, driver::DriverConfig{(root / "seeds").string(), "external"});
    drv->restore();
  }
  driver::CreateNetworkRequest network(std::map<std::string, std::string> extra = {},
                                       bool v6 = false) {
    driver::CreateNetworkRequest r;
    r.network_id = "net1";
    r.generic = {{"wgnet.endpoint", "198.18.42.2:51820"},
                 {"wgnet.endpoint-key", kHubKey},
                 {"wgnet.seed-file", "seed"},
                 {"wgnet.additional", "d2duZXQ="}};
    for (auto& [k, v] : extra) r.generic[k] = v;
    r.ipv4 = {{"10.0.42.0/24", "10.0.42.254/24"}};
    if (v6) r.ipv6 = {{"fd00::/64", ""}};
    return r;
  }
  driver::CreateEndpointRequest endpoint(const std::string& id, const std::string& addr,
                                         const std::string& addr6 = "") {
    return {"net1", id, addr, addr6, ""};
  }

  fs::path root;
  MemoryBackend* backend = nullptr;
  std::unique_ptr<wg::Backends> backends;
  std::unique_ptr<driver::StateStore> state;
  std::unique_ptr<driver::WgDriver> drv;
};

}  // namespace

TEST_F(DriverTest, EndpointDeviceIsCompleteBeforeJoin) {
  drv->create_network(network({{"wgnet.psk", "derived"}, {"wgnet.mtu", "1380"}}));
  drv->create_endpoint(endpoint("0123456789abcdef", "10.0.42.1/24"));
  ASSERT_EQ(backend->devices.size(), 1u);
  auto& [name, dev] = *backend->devices.begin();
  EXPECT_EQ(name, "wgnet-01234567");
  EXPECT_EQ(dev.mtu, 1380u);
  // keys.md vector: hkdf, A = "wgnet", 10.0.42.1.
  EXPECT_EQ(crypto::key_to_base64(*dev.config.private_key),
            "UPf3+OVueTsrbUIKjap8onwEGkPsRp5waK6TJd0ciGA=");
  ASSERT_EQ(dev.config.peers.size(), 1u);
  const auto& hub = dev.config.peers[0];
  EXPECT_EQ(crypto::key_to_base64(hub.public_key), kHubKey);
  EXPECT_EQ(hub.endpoint->str(), "198.18.42.2:51820");
  EXPECT_EQ(hub.persistent_keepalive, 25);
  EXPECT_EQ(crypto::key_to_base64(*hub.preshared_key),
            "utrXyRq5mCxlMTKphNiAIgonItjkaY9k9RKQq0RY/KY=");
  ASSERT_EQ(hub.allowed_ips.size(), 1u);
  EXPECT_EQ(hub.allowed_ips[0].str(), "0.0.0.0/0");

  auto j = drv->join({"net1", "0123456789abcdef", "/var/run/docker/netns/x"});
  EXPECT_EQ(j.src_name, "wgnet-01234567");
  EXPECT_EQ(j.dst_prefix, "wg");
  EXPECT_TRUE(j.disable_gateway_service);
  ASSERT_EQ(j.static_routes.size(), 1u);
  EXPECT_EQ(j.static_routes[0].destination, "0.0.0.0/0");
  EXPECT_EQ(j.static_routes[0].route_type, 1);
}

TEST_F(DriverTest, DualStackRoutesBothFamiliesAndSkipsThePoolRoute) {
  drv->create_network(network({{"wgnet.allowed-ips", "0.0.0.0/0,10.0.42.0/24,::/0"}}, true));
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24", "fd00::2/64"));
  auto j = drv->join({"net1", "e1aaaaaaaaaa", "/x"});
  ASSERT_EQ(j.static_routes.size(), 2u);
  EXPECT_EQ(j.static_routes[0].destination, "0.0.0.0/0");
  EXPECT_EQ(j.static_routes[1].destination, "::/0");
}

TEST_F(DriverTest, MacAddressIsRefusedAndNothingIsMade) {
  drv->create_network(network());
  auto r = endpoint("e1aaaaaaaaaa", "10.0.42.2/24");
  r.mac_address = "02:42:ac:11:00:02";
  EXPECT_THROW(drv->create_endpoint(r), InputError);
  EXPECT_TRUE(backend->devices.empty());
  EXPECT_TRUE(state->endpoints().empty());
}

TEST_F(DriverTest, CreateCallsAreIdempotent) {
  drv->create_network(network());
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  EXPECT_EQ(backend->creates, 1);
  EXPECT_EQ(state->networks().size(), 1u);
  EXPECT_THROW(drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.3/24")), InputError);
}

TEST_F(DriverTest, UnknownIdsAreNotErrorsForTeardown) {
  EXPECT_NO_THROW(drv->leave({"nope", "nope"}));
  EXPECT_NO_THROW(drv->delete_endpoint({"nope", "nope"}));
  EXPECT_NO_THROW(drv->delete_network("nope"));
  EXPECT_THROW(drv->join({"nope", "nope", ""}), InputError);
}

TEST_F(DriverTest, InvalidNetworkIsRefusedWhole) {
  EXPECT_THROW(drv->create_network(network({{"wgnet.foo", "1"}})), InputError);
  EXPECT_THROW(drv->create_network(network({{"wgnet.seed-file", "/etc/passwd"}})), InputError);
  EXPECT_TRUE(state->networks().empty());
  EXPECT_THROW(drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24")), InputError);
}

TEST_F(DriverTest, NamesAreUniqueAndShort) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("abcdef0011111111", "10.0.42.2/24"));
  drv->create_endpoint(endpoint("abcdef0022222222", "10.0.42.3/24"));
  std::set<std::string> names;
  for (auto& [n, d] : backend->devices) {
    EXPECT_LE(n.size(), 15u);
    names.insert(n);
  }
  EXPECT_EQ(names.size(), 2u);
}

TEST_F(DriverTest, RestartKeepsNetworksAndEndpointsAndRemovesOrphans) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  std::ofstream(root / "netns-e1");  // the container's sandbox, alive across the restart
  drv->join({"net1", "e1aaaaaaaaaa", (root / "netns-e1").string()});
  backend->devices["wgnet-orphan"] = {};  // a device whose endpoint never got recorded
  start();
  EXPECT_FALSE(backend->devices.count("wgnet-orphan"));
  EXPECT_TRUE(backend->devices.count("wgnet-e1aaaaaa"));
  EXPECT_TRUE(backend->adopted.count("wgnet-e1aaaaaa"));  // watched again after the restart
  // A new container joins the restored network; the old one leaves and is deleted.
  drv->create_endpoint(endpoint("e2bbbbbbbbbb", "10.0.42.3/24"));
  drv->leave({"net1", "e1aaaaaaaaaa"});
  drv->delete_endpoint({"net1", "e1aaaaaaaaaa"});
  EXPECT_FALSE(backend->devices.count("wgnet-e1aaaaaa"));
  EXPECT_TRUE(backend->devices.count("wgnet-e2bbbbbb"));
  drv->delete_endpoint({"net1", "e2bbbbbbbbbb"});
  drv->delete_network("net1");
  EXPECT_TRUE(backend->devices.empty());
  EXPECT_TRUE(state->networks().empty());
  EXPECT_TRUE(state->endpoints().empty());
}

TEST_F(DriverTest, MissingDeviceIsRebuiltAtJoin) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  backend->devices.clear();
  drv->join({"net1", "e1aaaaaaaaaa", "/x"});
  EXPECT_TRUE(backend->devices.count("wgnet-e1aaaaaa"));
}

TEST_F(DriverTest, EndpointWhoseContainerVanishedWhileDownIsRemovedAtRestart) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", (root / "netns-gone").string()});  // no such sandbox
  drv->create_endpoint(endpoint("e2bbbbbbbbbb", "10.0.42.3/24"));       // created, never joined
  start();
  EXPECT_FALSE(backend->devices.count("wgnet-e1aaaaaa"));
  EXPECT_TRUE(backend->devices.count("wgnet-e2bbbbbb"));
  ASSERT_EQ(state->endpoints().size(), 1u);
  EXPECT_EQ(state->endpoints()[0].endpoint_id, "e2bbbbbbbbbb");
}

TEST_F(DriverTest, JoinReappliesTheWholeConfiguration) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  // As if wgnetd had died between creating and configuring the device.
  backend->devices["wgnet-e1aaaaaa"] = {};
  start();
  drv->join({"net1", "e1aaaaaaaaaa", "/x"});
  EXPECT_EQ(backend->configures, 1);
  const auto& dev = backend->devices.at("wgnet-e1aaaaaa");
  EXPECT_TRUE(dev.config.private_key.has_value());
  EXPECT_EQ(dev.config.peers.size(), 1u);
  EXPECT_EQ(dev.mtu, 1420u);
}

TEST_F(DriverTest, AddressesMustBeInTheNetwork) {
  drv->create_network(network());
  EXPECT_THROW(drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.9.9.2/24")), InputError);
  EXPECT_THROW(drv->create_endpoint(endpoint("e1aaaaaaaaaa", "fd00::2/64")), InputError);
  EXPECT_TRUE(backend->devices.empty());
}

TEST_F(DriverTest, ConcurrentDuplicateCreateMakesOneDevice) {
  drv->create_network(network());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; i++)
    threads.emplace_back([&] { drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24")); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(backend->creates, 1);
  EXPECT_EQ(state->endpoints().size(), 1u);
}
