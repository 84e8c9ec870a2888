// The driver's logic against an in-memory host and backend: what Docker sees (Join replies,
// errors), what the device gets (key, peer, MTU), restarts, damaged state, lost devices and
// containers that vanish. Nothing real is touched; the real backends run in integration and e2e.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "crypto/encoding.h"
#include "driver/driver.h"
#include "fake_host.h"
#include "keys/derive.h"
#include "temp_dir.h"
#include "util/error.h"

using namespace wgnet;
using wgnet::testing::FakeHost;
using wgnet::testing::MemoryBackend;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHubKey = "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=";
constexpr const char* kSandbox = "/var/run/docker/netns/c1";

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(root / "seeds");
    std::ofstream(root / "seeds" / "seed") << "an example seed of thirty-two by";
    ::chmod((root / "seeds" / "seed").c_str(), 0600);
    host.sandboxes.insert(kSandbox);
    start();
  }
  void TearDown() override { drv.reset(); }
  // (Re)starts the daemon's pieces on the same state directory, as a restart would; devices
  // outlive the daemon.
  void start() {
    auto mem = std::make_unique<MemoryBackend>();
    if (backend) {
      mem->devices = backend->devices;
      mem->dead = backend->dead;
    }
    drv.reset();
    backends.reset();
    state.reset();
    backend = mem.get();
    backends = std::make_unique<wg::Backends>(wg::BackendOptions{});
    backends->add("external", std::move(mem));
    state = std::make_unique<driver::StateStore>((root / "state").string());
    driver::DriverConfig config;
    config.seed_dir = (root / "seeds").string();
    config.default_backend = "external";
    config.sweep_interval = std::chrono::milliseconds(0);  // tests sweep by hand
    drv = std::make_unique<driver::WgDriver>(*state, *backends, host, ports, config);
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
  // Runs SQL on the state database behind the driver's back (a damaged or old state).
  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((root / "state" / "state.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
    std::string why = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << why;
  }

  wgnet::testing::TempDir tmp{"wgnet-driver-test"};
  fs::path root = tmp.path();
  FakeHost host;
  wgnet::testing::FakePublisher ports;
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

  auto j = drv->join({"net1", "0123456789abcdef", kSandbox});
  EXPECT_EQ(j.src_name, "wgnet-01234567");
  EXPECT_EQ(j.dst_prefix, "wg");
  EXPECT_TRUE(j.disable_gateway_service);
  ASSERT_EQ(j.static_routes.size(), 1u);
  EXPECT_EQ(j.static_routes[0].destination, "0.0.0.0/0");
  EXPECT_EQ(j.static_routes[0].route_type, 1);
  // The backend's handle is stored with the endpoint, for the next wgnetd.
  ASSERT_EQ(state->endpoints().size(), 1u);
  EXPECT_EQ(state->endpoints()[0].handle, "handle-1");
}

TEST_F(DriverTest, DualStackRoutesBothFamiliesAndSkipsThePoolRoute) {
  drv->create_network(network({{"wgnet.allowed-ips", "0.0.0.0/0,10.0.42.0/24,::/0"}}, true));
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24", "fd00::2/64"));
  auto j = drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
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

TEST_F(DriverTest, UnknownIdsLeaveNothingBehind) {
  // Each unknown ID used to add an entry to a lock table that never shrank.
  drv->create_network(network());
  for (int i = 0; i < 20000; i++) {
    std::string id = "unknown" + std::to_string(i);
    drv->leave({"net1", id});
    drv->delete_endpoint({"net1", id});
    EXPECT_TRUE(drv->endpoint_info({"net1", id}).empty());
  }
  EXPECT_TRUE(drv->endpoints().empty());
  // A failed create leaves no entry either.
  EXPECT_THROW(drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.9.9.9/24")), InputError);
  EXPECT_TRUE(drv->endpoints().empty());
}

TEST_F(DriverTest, InvalidNetworkIsRefusedWhole) {
  EXPECT_THROW(drv->create_network(network({{"wgnet.foo", "1"}})), InputError);
  EXPECT_THROW(drv->create_network(network({{"wgnet.seed-file", "/etc/passwd"}})), InputError);
  EXPECT_TRUE(state->networks().empty());
  EXPECT_THROW(drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24")), InputError);
}

// Swarm's manager: the options are checked as each node's CreateNetwork will check them, and
// passed on unchanged; nothing is recorded (CreateNetwork comes later, on each node).
TEST_F(DriverTest, AllocateNetworkValidatesAndPassesOptionsOn) {
  driver::AllocateNetworkRequest r;
  r.network_id = "swarm1";
  r.options = network().generic;
  r.ipv4 = {{"10.0.42.0/24", "10.0.42.254/24"}};
  EXPECT_EQ(drv->allocate_network(r), r.options);
  EXPECT_TRUE(state->networks().empty());
  r.options["wgnet.seed-file"] = "missing";
  EXPECT_THROW(drv->allocate_network(r), InputError);
  r.options = {{"wgnet.endpoint", "198.18.42.2:51820"}};
  EXPECT_THROW(drv->allocate_network(r), InputError);
  EXPECT_EQ(drv->scope(), "local");
}

TEST_F(DriverTest, NamesAreUniqueShortAndAvoidHostLinks) {
  host.links.insert("wgnet-abcdef00");  // someone else's link with our first choice
  drv->create_network(network());
  drv->create_endpoint(endpoint("abcdef0011111111", "10.0.42.2/24"));
  drv->create_endpoint(endpoint("abcdef0022222222", "10.0.42.3/24"));
  std::set<std::string> names;
  for (auto& [n, d] : backend->devices) {
    EXPECT_LE(n.size(), 15u);
    EXPECT_NE(n, "wgnet-abcdef00");
    names.insert(n);
  }
  EXPECT_EQ(names.size(), 2u);
}

TEST_F(DriverTest, RestartKeepsNetworksAndEndpointsAndTouchesOnlyItsOwnDevices) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  // A device this wgnetd's state does not record: another wgnetd's, or the operator's.
  backend->devices["wgnet-other000"] = {};
  start();
  EXPECT_TRUE(backend->devices.count("wgnet-other000")) << "start-up removed a foreign device";
  EXPECT_EQ(backend->removes, 0);
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
  EXPECT_EQ(backend->devices.size(), 1u);  // only the foreign one
  EXPECT_TRUE(state->networks().empty());
  EXPECT_TRUE(state->endpoints().empty());
}

TEST_F(DriverTest, MissingDeviceIsRebuiltAtJoin) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  backend->devices.clear();
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  EXPECT_TRUE(backend->devices.count("wgnet-e1aaaaaa"));
  EXPECT_EQ(state->endpoints()[0].handle, "handle-2");
}

TEST_F(DriverTest, EndpointWhoseContainerVanishedWhileDownIsRemovedAtRestart) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", "/var/run/docker/netns/gone"});  // no such sandbox
  drv->create_endpoint(endpoint("e2bbbbbbbbbb", "10.0.42.3/24"));     // created, never joined
  drv->create_endpoint(endpoint("e3cccccccccc", "10.0.42.4/24"));
  drv->join({"net1", "e3cccccccccc", kSandbox});
  host.links.insert("wgnet-e3cccccc");  // Docker moved it back to the host: container gone
  start();
  EXPECT_FALSE(backend->devices.count("wgnet-e1aaaaaa"));
  EXPECT_FALSE(backend->devices.count("wgnet-e3cccccc"));
  EXPECT_TRUE(backend->devices.count("wgnet-e2bbbbbb"));
  ASSERT_EQ(state->endpoints().size(), 1u);
  EXPECT_EQ(state->endpoints()[0].endpoint_id, "e2bbbbbbbbbb");
}

TEST_F(DriverTest, DeviceThatDiedWhileDownIsRebuiltIntoItsContainerAtRestart) {
  drv->create_network(network({{"wgnet.allowed-ips", "0.0.0.0/0"}}));
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  backend->dead.insert("wgnet-e1aaaaaa");
  start();
  ASSERT_EQ(host.placements.size(), 1u);
  EXPECT_EQ(host.placements[0].ifname, "wgnet-e1aaaaaa");
  EXPECT_EQ(host.placements[0].sandbox, kSandbox);
  EXPECT_EQ(host.placements[0].addresses, std::vector<std::string>{"10.0.42.2/24"});
  EXPECT_EQ(host.placements[0].routes, std::vector<std::string>{"0.0.0.0/0"});
  EXPECT_FALSE(backend->dead.count("wgnet-e1aaaaaa"));
  // What the dead device left inside the container is removed there, before the new one goes in
  // (else a stale wg0 stays beside a new wg1).
  ASSERT_FALSE(backend->removed.empty());
  EXPECT_EQ(backend->removed.back().ifname, "wgnet-e1aaaaaa");
  EXPECT_EQ(backend->removed.back().netns, kSandbox);
}

TEST_F(DriverTest, LostDeviceIsRebuiltOrRemovedWithItsContainer) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  backend->kill("wgnet-e1aaaaaa");
  EXPECT_TRUE(backend->has("wgnet-e1aaaaaa")) << "not rebuilt";
  EXPECT_EQ(host.placements.size(), 1u);
  ASSERT_EQ(backend->removed.size(), 1u);
  EXPECT_EQ(backend->removed[0].netns, kSandbox) << "the lost device was not removed in its container";
  // Its container dies with it: the endpoint goes, nothing is rebuilt.
  host.sandboxes.erase(kSandbox);
  backend->kill("wgnet-e1aaaaaa");
  EXPECT_FALSE(backend->has("wgnet-e1aaaaaa"));
  EXPECT_EQ(host.placements.size(), 1u);
  EXPECT_TRUE(state->endpoints().empty());
}

TEST_F(DriverTest, SweepRemovesEndpointsWhoseContainerIsGone) {
  // dockerd killed: containers die and Docker never tells a socket plugin (no Leave/Delete).
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  drv->create_endpoint(endpoint("e2bbbbbbbbbb", "10.0.42.3/24"));
  drv->sweep();
  EXPECT_EQ(backend->count(), 2u) << "a live container lost its device";
  host.sandboxes.erase(kSandbox);
  drv->sweep();
  EXPECT_FALSE(backend->has("wgnet-e1aaaaaa"));
  EXPECT_TRUE(backend->has("wgnet-e2bbbbbb")) << "an endpoint not yet joined was removed";
  ASSERT_EQ(state->endpoints().size(), 1u);
  // Docker creates a container's namespace file only after Join: until it appears, the
  // container is starting, not gone.
  drv->create_endpoint(endpoint("e4dddddddddd", "10.0.42.5/24"));
  drv->join({"net1", "e4dddddddddd", "/var/run/docker/netns/c4"});
  drv->sweep();
  EXPECT_TRUE(backend->has("wgnet-e4dddddd")) << "a starting container lost its device";
  host.sandboxes.insert("/var/run/docker/netns/c4");
  drv->sweep();
  host.sandboxes.erase("/var/run/docker/netns/c4");
  drv->sweep();
  EXPECT_FALSE(backend->has("wgnet-e4dddddd"));
  // The network keeps serving new containers.
  drv->create_endpoint(endpoint("e3cccccccccc", "10.0.42.2/24"));
  EXPECT_TRUE(backend->has("wgnet-e3cccccc"));
}

TEST_F(DriverTest, JoinReappliesTheWholeConfiguration) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  // As if wgnetd had died between creating and configuring the device.
  backend->devices["wgnet-e1aaaaaa"] = {};
  start();
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  EXPECT_EQ(backend->configures, 1);
  const auto& dev = backend->devices.at("wgnet-e1aaaaaa");
  EXPECT_TRUE(dev.config.private_key.has_value());
  EXPECT_EQ(dev.config.peers.size(), 1u);
  EXPECT_EQ(dev.mtu, 1420u);
}

// Without wgnet.mtu the tunnel's MTU is the path's to the hub less WireGuard's overhead on it,
// as wg-quick does; with it, the option wins.
TEST_F(DriverTest, MtuComesFromThePathToTheHub) {
  host.mtus["198.18.42.2"] = 1400;
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  EXPECT_EQ(backend->devices.at("wgnet-e1aaaaaa").mtu, 1400u - 60u);
}

TEST_F(DriverTest, MtuOptionWinsOverThePath) {
  host.mtus["198.18.42.2"] = 1400;
  drv->create_network(network({{"com.docker.network.driver.mtu", "1300"}}));
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  EXPECT_EQ(backend->devices.at("wgnet-e1aaaaaa").mtu, 1300u);
}

TEST_F(DriverTest, MtuWithoutARouteToTheHubIsTheDefault) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  EXPECT_EQ(backend->devices.at("wgnet-e1aaaaaa").mtu, 1420u);
}

TEST_F(DriverTest, MtuOverAnIpv6UnderlayLeavesEightyBytes) {
  host.mtus["fd00:18::2"] = 1500;
  drv->create_network(network({{"wgnet.endpoint", "[fd00:18::2]:51820"}}));
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  EXPECT_EQ(backend->devices.at("wgnet-e1aaaaaa").mtu, 1420u);
}

TEST_F(DriverTest, MtuOfAnIpv6NetworkIsAtLeast1280) {
  host.mtus["198.18.42.2"] = 1300;
  drv->create_network(network({}, true));
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24", "fd00::2/64"));
  EXPECT_EQ(backend->devices.at("wgnet-e1aaaaaa").mtu, 1280u);
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

TEST_F(DriverTest, HubNamesAreResolvedOnceAndNotAtEveryStart) {
  host.names["hub.example"] = "198.18.42.2";
  drv->create_network(network({{"wgnet.endpoint", "hub.example:51820"}}));
  EXPECT_EQ(host.resolves, 1);
  for (int i = 0; i < 5; i++)
    drv->create_endpoint(endpoint("e" + std::to_string(i) + "aaaaaaaaaa",
                                  "10.0.42." + std::to_string(i + 2) + "/24"));
  EXPECT_EQ(host.resolves, 1) << "a container start waited on DNS";
  EXPECT_EQ(backend->devices.at("wgnet-e0aaaaaa").config.peers[0].endpoint->str(),
            "198.18.42.2:51820");
  // A name that does not resolve refuses the network.
  driver::CreateNetworkRequest bad = network({{"wgnet.endpoint", "nowhere.example:1"}});
  bad.network_id = "net2";
  EXPECT_THROW(drv->create_network(bad), InputError);
}

TEST_F(DriverTest, DamagedStateRowsAreSkippedAndTheRestServed) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  drv.reset();
  sql("INSERT INTO networks (id, options, pools4, pools6, backend) VALUES ('bad1', '{not json', "
      "'[]', '[]', 'external')");
  sql("INSERT INTO networks (id, options, pools4, pools6, backend) VALUES ('bad2', '{}', "
      "'[\"10.0.0.0/99\"]', '[]', 'external')");
  sql("INSERT INTO networks (id, options, pools4, pools6, backend) VALUES ('bad3', '{}', '[]', "
      "'[]', 'external')");
  const std::string insert =
      "INSERT INTO endpoints (endpoint_id, network_id, address4, address6, ifname, backend, "
      "sandbox, handle) VALUES ";
  sql(insert + "('e9', 'net1', 'nonsense', '', 'wgnet-e9', 'external', '', '')");
  sql(insert + "('e8', 'net1', '10.0.42.8/24', '', 'bad/name', 'external', '', '')");
  backend->devices["wgnet-e9"] = {};
  ASSERT_NO_THROW(start());
  EXPECT_TRUE(backend->devices.count("wgnet-e9")) << "a device of a bad row was touched";
  EXPECT_TRUE(backend->devices.count("wgnet-e1aaaaaa"));
  ASSERT_EQ(drv->endpoints().size(), 1u);
  drv->create_endpoint(endpoint("e2bbbbbbbbbb", "10.0.42.3/24"));
  EXPECT_TRUE(backend->devices.count("wgnet-e2bbbbbb"));
}

TEST_F(DriverTest, UnreadableStateStopsStartUpTouchingNothing) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", "/var/run/docker/netns/gone"});
  drv.reset();
  state.reset();
  // Damage the file behind SQLite's back: reads now fail part-way.
  {
    std::fstream f(root / "state" / "state.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);  // page 1 (the schema) stays; the tables' pages become garbage
    std::string junk(8192, '\xa5');
    f.write(junk.data(), junk.size());
  }
  auto before = backend->devices.size();
  state = std::make_unique<driver::StateStore>((root / "state").string());
  driver::DriverConfig config;
  config.seed_dir = (root / "seeds").string();
  config.default_backend = "external";
  config.sweep_interval = std::chrono::milliseconds(0);
  drv = std::make_unique<driver::WgDriver>(*state, *backends, host, ports, config);
  EXPECT_THROW(drv->restore(), SystemError);
  EXPECT_EQ(backend->devices.size(), before) << "a partial read led to deleting devices";
  EXPECT_EQ(backend->removes, 0);
}

TEST_F(DriverTest, DestroyingTheDriverWaitsForARunningRecovery) {
  drv->create_network(network());
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  std::promise<void> entered, release;
  auto release_future = release.get_future().share();
  host.on_place = [&] {
    entered.set_value();
    release_future.wait();
  };
  std::thread recovery([&] { backend->kill("wgnet-e1aaaaaa"); });
  entered.get_future().wait();
  auto destroyed = std::async(std::launch::async, [&] { drv.reset(); });
  EXPECT_EQ(destroyed.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "the driver was destroyed while a recovery was using it";
  release.set_value();
  destroyed.get();
  recovery.join();
  host.on_place = nullptr;
}

// ---------------------------------------------------------------------------------------------
// IPv6-only networks (Docker 28's --ipv4=false): no IPv4 pool, endpoints with only an IPv6
// address. The key derives from it; only IPv6 is tunnelled and routed.
TEST_F(DriverTest, Ipv6OnlyNetwork) {
  auto n = network();
  n.ipv4.clear();
  n.ipv6 = {{"fd00:28::/64", "fd00:28::fe/64"}};
  drv->create_network(n);
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "", "fd00:28::2/64"));
  const auto& dev = backend->devices.at("wgnet-e1aaaaaa");
  const std::string seed = "an example seed of thirty-two by";
  keys::Deriver d(
      keys::Kdf::kHkdf,
      crypto::SecretBytes(std::span(reinterpret_cast<const uint8_t*>(seed.data()), seed.size())),
      *crypto::base64_decode("d2duZXQ="));
  EXPECT_EQ(crypto::key_to_base64(*dev.config.private_key),
            crypto::key_to_base64(d.private_key(*IpAddress::parse("fd00:28::2"))));
  ASSERT_EQ(dev.config.peers.size(), 1u);
  ASSERT_EQ(dev.config.peers[0].allowed_ips.size(), 1u);
  EXPECT_EQ(dev.config.peers[0].allowed_ips[0].str(), "::/0");
  auto j = drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  ASSERT_EQ(j.static_routes.size(), 1u);
  EXPECT_EQ(j.static_routes[0].destination, "::/0");
}

// ---------------------------------------------------------------------------------------------
// Published ports. Docker 28 sends ProgramExternalConnectivity after Join to the gateway endpoint
// and Revoke before Leave; Docker 29 sends Program again whenever the gateway role changes (with
// Join's ports, no Revoke in between), and after a live-restore may skip Revoke.
namespace {
portmap::Binding tcp(uint16_t host_port, uint16_t container_port, const char* host_ip = nullptr) {
  portmap::Binding b;
  b.proto = portmap::Proto::kTcp;
  b.container_port = container_port;
  if (host_ip) b.host_ip = IpAddress::parse(host_ip);
  b.host_port = b.host_port_end = host_port;
  return b;
}
}  // namespace

class PortsTest : public DriverTest {
 protected:
  void SetUp() override {
    DriverTest::SetUp();
    drv->create_network(network({}, true));
    drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24", "fd00::2/64"));
    drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  }
  void program(std::vector<portmap::Binding> b) {
    drv->program_external_connectivity({"net1", "e1aaaaaaaaaa", std::move(b)});
  }
};

TEST_F(PortsTest, ProgramPublishesIntoTheContainer) {
  program({tcp(18092, 8080, "127.0.0.1")});
  ASSERT_TRUE(ports.has("e1aaaaaaaaaa"));
  const auto& p = ports.published.at("e1aaaaaaaaaa");
  EXPECT_EQ(p.target.sandbox, kSandbox);
  EXPECT_EQ(p.target.ipv4, IpAddress::parse("10.0.42.2"));
  EXPECT_EQ(p.target.ipv6, IpAddress::parse("fd00::2"));
  EXPECT_EQ(p.bindings, std::vector<portmap::Binding>{tcp(18092, 8080, "127.0.0.1")});
}

TEST_F(PortsTest, ProgramRepeatedIsIdempotentAndReplaces) {
  program({tcp(18092, 8080)});
  // Docker 29, the same gateway role again: asked of the publisher again (for which the same set
  // is no change), so a set that could not be published again at start-up heals.
  ports.published.clear();
  program({tcp(18092, 8080)});
  EXPECT_EQ(ports.published.at("e1aaaaaaaaaa").bindings,
            std::vector<portmap::Binding>{tcp(18092, 8080)});
  program({tcp(18093, 8080)});  // dual-stack -> IPv4-only: Program again, no Revoke between
  EXPECT_EQ(ports.published.at("e1aaaaaaaaaa").bindings,
            std::vector<portmap::Binding>{tcp(18093, 8080)});
  program({});  // a gateway without ports
  EXPECT_FALSE(ports.has("e1aaaaaaaaaa"));
}

TEST_F(PortsTest, RevokeRepeatedAndOutOfOrder) {
  drv->revoke_external_connectivity({"net1", "e1aaaaaaaaaa"});  // before any Program
  drv->revoke_external_connectivity({"net1", "nosuchendpoint"});
  program({tcp(18092, 8080)});
  drv->revoke_external_connectivity({"net1", "e1aaaaaaaaaa"});
  drv->revoke_external_connectivity({"net1", "e1aaaaaaaaaa"});
  EXPECT_FALSE(ports.has("e1aaaaaaaaaa"));
  EXPECT_EQ(ports.unpublishes, 1);
  program({tcp(18092, 8080)});  // the endpoint is the gateway again
  EXPECT_TRUE(ports.has("e1aaaaaaaaaa"));
}

TEST_F(PortsTest, LeaveWithoutRevokeStillUnpublishes) {
  program({tcp(18092, 8080)});
  drv->leave({"net1", "e1aaaaaaaaaa"});  // Docker 29 after a live-restore sends no Revoke
  EXPECT_FALSE(ports.has("e1aaaaaaaaaa"));
  EXPECT_EQ(state->endpoints().at(0).ports, "");
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  program({tcp(18092, 8080)});
  drv->delete_endpoint({"net1", "e1aaaaaaaaaa"});  // the container died: no Leave either
  EXPECT_FALSE(ports.has("e1aaaaaaaaaa"));
}

TEST_F(PortsTest, PublishedAgainAfterARestart) {
  program({tcp(18092, 8080), tcp(18093, 8081, "::1")});
  ports.published.clear();  // a new wgnetd has no listeners
  start();
  ASSERT_TRUE(ports.has("e1aaaaaaaaaa")) << "Docker never sends Program again: wgnetd must";
  EXPECT_EQ(ports.published.at("e1aaaaaaaaaa").bindings.size(), 2u);
}

TEST_F(PortsTest, APortInUseFailsTheCallAndRecordsNothing) {
  ports.fail = true;
  try {
    program({tcp(18092, 8080)});
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("18092"), std::string::npos) << e.what();
  }
  EXPECT_EQ(state->endpoints().at(0).ports, "");
  start();
  EXPECT_FALSE(ports.has("e1aaaaaaaaaa"));
}

TEST_F(PortsTest, RefusedBindings) {
  auto message = [&](std::vector<portmap::Binding> b, const std::string& endpoint) {
    try {
      drv->program_external_connectivity({"net1", endpoint, std::move(b)});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // `docker run -p 8080` or -P: a random host port, which a remote driver cannot report back.
  EXPECT_NE(message({tcp(0, 8080)}, "e1aaaaaaaaaa").find("-p HOSTPORT:CONTAINERPORT"),
            std::string::npos);
  EXPECT_NE(message({tcp(18092, 8080)}, "nosuchendpoint").find("not known"), std::string::npos);
  drv->leave({"net1", "e1aaaaaaaaaa"});
  EXPECT_NE(message({tcp(18092, 8080)}, "e1aaaaaaaaaa").find("not joined"), std::string::npos);
  EXPECT_EQ(ports.publishes, 0);
}

// Docker 28/29 say no_proxy_6to4 when another endpoint is the container's IPv6 gateway: that one
// publishes on the host's IPv6 addresses, wgnet on IPv4 only ("every address" becomes 0.0.0.0).
TEST_F(PortsTest, AnotherIpv6GatewayLeavesWgnetIpv4) {
  driver::ExternalConnectivityRequest r{
      "net1",
      "e1aaaaaaaaaa",
      {tcp(18092, 8080), tcp(18093, 8080, "::1"), tcp(18094, 8080, "127.0.0.1")},
      true};
  drv->program_external_connectivity(r);
  EXPECT_EQ(
      ports.published.at("e1aaaaaaaaaa").bindings,
      (std::vector<portmap::Binding>{tcp(18092, 8080, "0.0.0.0"), tcp(18094, 8080, "127.0.0.1")}));
}

// Docker 29 programs an internal network's endpoint when it is the only gateway; an internal
// network publishes nothing.
TEST_F(DriverTest, InternalNetworksPublishNothing) {
  auto n = network();
  n.internal = true;
  drv->create_network(n);
  drv->create_endpoint(endpoint("e1aaaaaaaaaa", "10.0.42.2/24"));
  drv->join({"net1", "e1aaaaaaaaaa", kSandbox});
  portmap::Binding b;
  b.container_port = 8080;
  b.host_port = b.host_port_end = 18092;
  drv->program_external_connectivity({"net1", "e1aaaaaaaaaa", {b}});
  EXPECT_FALSE(ports.has("e1aaaaaaaaaa"));
  start();  // and remembers it across restarts
  drv->program_external_connectivity({"net1", "e1aaaaaaaaaa", {b}});
  EXPECT_FALSE(ports.has("e1aaaaaaaaaa"));
}
