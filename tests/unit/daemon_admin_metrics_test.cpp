// wgnetd's admin socket and metrics against the driver on an in-memory host and backend: the
// status of each endpoint (read without waiting behind an operation), recoveries and errors
// counted, request metrics by method and result, the endpoint families (no key in any label),
// the admin routes, the admin socket's bounds (idle clients cut off, a handful of connections per
// uid), and the scrape of a running daemon's registry accepted by promtool.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "daemon/admin.h"
#include "daemon/metrics.h"
#include "daemon/side_servers.h"
#include "driver/metrics.h"
#include "fake_host.h"
#include "http/client.h"
#include "http/server.h"
#include "http_client.h"
#include "temp_dir.h"

using namespace wgnet;
using wgnet::http::testing::RawClient;
using wgnet::testing::FakeHost;
using wgnet::testing::MemoryBackend;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHubKey = "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=";
constexpr const char* kSandbox = "/var/run/docker/netns/c1";
constexpr int64_t kHandshake = 1700000000;

// A memory backend that reports what a device would: its public key and its peers, each with a
// handshake and counters; devices named in `unreadable` fail to be read.
struct StatusBackend : MemoryBackend {
  std::set<std::string> unreadable;
  wg::DeviceStatus status(const wg::DeviceRef& d) override {
    std::lock_guard lock(mutex);
    if (unreadable.count(d.ifname)) throw SystemError("cannot read " + d.ifname);
    const auto& dev = devices.at(d.ifname);
    wg::DeviceStatus s;
    s.public_key = crypto::public_key(*dev.config.private_key);
    for (const auto& p : dev.config.peers) {
      wg::PeerStatus ps;
      ps.public_key = p.public_key;
      ps.endpoint = p.endpoint;
      ps.allowed_ips = p.allowed_ips;
      ps.last_handshake_sec = kHandshake;
      ps.rx_bytes = 1000;
      ps.tx_bytes = 2000;
      s.peers.push_back(ps);
    }
    return s;
  }
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(root / "seeds");
    std::ofstream(root / "seeds" / "seed") << "an example seed of thirty-two by";
    ::chmod((root / "seeds" / "seed").c_str(), 0600);
    host.sandboxes.insert(kSandbox);
    auto mem = std::make_unique<StatusBackend>();
    backend = mem.get();
    backends = std::make_unique<wg::Backends>(wg::BackendOptions{});
    backends->add("external", std::move(mem));
    state = std::make_unique<driver::StateStore>((root / "state").string());
    driver::register_metrics(registry);
    driver::DriverConfig config;
    config.seed_dir = (root / "seeds").string();
    config.default_backend = "external";
    config.sweep_interval = std::chrono::milliseconds(0);
    config.metrics = &registry;
    drv = std::make_unique<driver::WgDriver>(*state, *backends, host, ports, config);
    drv->restore();
    driver::CreateNetworkRequest n;
    n.network_id = kNet;
    n.generic = {{"wgnet.endpoint", "198.18.42.2:51820"},
                 {"wgnet.endpoint-key", kHubKey},
                 {"wgnet.seed-file", "seed"},
                 {"wgnet.additional", "d2duZXQ="}};
    n.ipv4 = {{"10.0.42.0/24", "10.0.42.254/24"}};
    drv->create_network(n);
  }
  void TearDown() override { drv.reset(); }

  const std::string kNet = "5e7a1b2c3d4e5f60718293a4b5c6d7e8f9";
  wgnet::testing::TempDir tmp{"wgnet-daemon-test"};
  fs::path root = tmp.path();
  FakeHost host;
  wgnet::testing::FakePublisher ports;
  StatusBackend* backend = nullptr;
  metrics::Registry registry;
  std::unique_ptr<wg::Backends> backends;
  std::unique_ptr<driver::StateStore> state;
  std::unique_ptr<driver::WgDriver> drv;
};

// The admin socket as wgnetd serves it, with its bounds, running until destroyed.
struct AdminSocket {
  AdminSocket(const std::string& path, daemon::StatusSource& status,
              const metrics::Registry& registry)
      : server(
            path,
            [&status, &registry](const http::Request& request) {
              return daemon::serve_admin(request, status, registry);
            },
            daemon::side_server_options()),
        running(std::async(std::launch::async, [this] { server.run(); })) {}
  ~AdminSocket() {
    server.stop();
    running.wait();
  }
  http::UnixServer server;
  std::future<void> running;
};

// GET /status on `client`'s connection, which stays open. The send may fail, as a server
// that refuses the connection answers and closes without reading.
std::optional<wgnet::http::testing::Reply> get_status(RawClient& client) {
  client.send("GET /status HTTP/1.1\r\nHost: wgnetd\r\n\r\n");
  return client.read_reply();
}

}  // namespace

TEST_F(DaemonTest, StatusReportsEachEndpointsDevice) {
  drv->create_endpoint({kNet, "0123456789abcdef", "10.0.42.1/24", "", ""});
  drv->join({kNet, "0123456789abcdef", kSandbox});
  drv->create_endpoint({kNet, "fedcba9876543210", "10.0.42.2/24", "", ""});
  backend->unreadable.insert("wgnet-fedcba98");

  daemon::StatusSource source([this] { return drv->device_reports(); }, &registry);
  auto endpoints = source.endpoints();
  ASSERT_EQ(endpoints.size(), 2u);
  const auto& e = endpoints[0];
  EXPECT_EQ(e.endpoint_id, "0123456789abcdef");
  EXPECT_EQ(e.network_id, kNet);
  EXPECT_EQ(e.interface, "wgnet-01234567");
  EXPECT_EQ(e.backend, "external");
  EXPECT_EQ(e.address, "10.0.42.1/24");
  EXPECT_TRUE(e.joined);
  // keys.md: the public key of hkdf, A = "wgnet", 10.0.42.1.
  EXPECT_EQ(e.public_key, crypto::key_to_base64(crypto::public_key(crypto::key_from_base64(
                              "UPf3+OVueTsrbUIKjap8onwEGkPsRp5waK6TJd0ciGA=", "test"))));
  ASSERT_EQ(e.peers.size(), 1u);
  EXPECT_EQ(e.peers[0].public_key, kHubKey);
  EXPECT_EQ(e.peers[0].endpoint, "198.18.42.2:51820");
  EXPECT_EQ(e.last_handshake(), kHandshake);
  EXPECT_EQ(e.rx_bytes(), 1000u);
  EXPECT_FALSE(endpoints[1].joined);
  EXPECT_EQ(endpoints[1].error, "cannot read wgnet-fedcba98");
  EXPECT_EQ(registry.counter("wgnet_errors_total", "", {"source"}).with({"device_status"}).value(),
            1u);

  // Within max_age a second call reuses the first read.
  backend->unreadable.clear();
  EXPECT_EQ(source.endpoints()[1].error, "cannot read wgnet-fedcba98");
  daemon::StatusSource fresh([this] { return drv->device_reports(); }, &registry,
                             std::chrono::milliseconds(0));
  EXPECT_EQ(fresh.endpoints()[1].error, "");
}

// An endpoint in the middle of an operation (here a recovery, blocked in place_in_sandbox) is
// reported as busy at once, and its recovery is counted when it ends.
TEST_F(DaemonTest, BusyEndpointsDoNotBlockStatusAndRecoveriesAreCounted) {
  drv->create_endpoint({kNet, "e1aaaaaaaaaa", "10.0.42.2/24", "", ""});
  drv->join({kNet, "e1aaaaaaaaaa", kSandbox});
  std::promise<void> entered, release;
  auto release_future = release.get_future().share();
  host.on_place = [&] {
    entered.set_value();
    release_future.wait();
  };
  std::thread recovery([&] { backend->kill("wgnet-e1aaaaaa"); });
  entered.get_future().wait();
  auto reports = drv->device_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].device);
  EXPECT_NE(reports[0].error.find("busy"), std::string::npos) << reports[0].error;
  release.set_value();
  recovery.join();
  host.on_place = nullptr;
  auto& recoveries = registry.counter("wgnet_device_recoveries_total", "", {"backend", "result"});
  EXPECT_EQ(recoveries.with({"external", "ok"}).value(), 1u);
  EXPECT_TRUE(drv->device_reports()[0].device) << "readable again once the recovery is done";
}

TEST(DaemonMetrics, MethodLabelsAreBounded) {
  EXPECT_EQ(daemon::method_label("/NetworkDriver.Join"), "NetworkDriver.Join");
  EXPECT_EQ(daemon::method_label("/Plugin.Activate"), "Plugin.Activate");
  EXPECT_EQ(daemon::method_label("/NetworkDriver.Whatever"), "other");
  EXPECT_EQ(daemon::method_label("/x/../NetworkDriver.Leave"), "NetworkDriver.Leave");
  EXPECT_EQ(daemon::method_label(std::string(5000, 'a')), "other");
}

TEST(DaemonMetrics, RequestsAreCountedByMethodAndResult) {
  metrics::Registry r;
  driver::register_metrics(r);
  daemon::RequestMetrics m(r);
  m.observe("/NetworkDriver.Join", {200, "{\"InterfaceName\":{}}\n"}, std::chrono::milliseconds(3));
  m.observe("/NetworkDriver.Join", {200, "{\"Err\":\"no\"}\n"}, std::chrono::milliseconds(1));
  m.observe("/NetworkDriver.Nope", {404, "{\"Err\":\"not implemented\"}\n"},
            std::chrono::microseconds(5));
  auto& requests = r.counter("wgnet_requests_total", "", {"method", "result"});
  EXPECT_EQ(requests.with({"NetworkDriver.Join", "ok"}).value(), 1u);
  EXPECT_EQ(requests.with({"NetworkDriver.Join", "error"}).value(), 1u);
  EXPECT_EQ(requests.with({"other", "error"}).value(), 1u);
  EXPECT_EQ(r.counter("wgnet_errors_total", "", {"source"}).with({"request"}).value(), 2u);
  std::string text = r.render();
  EXPECT_NE(text.find("wgnet_request_duration_seconds_bucket{method=\"NetworkDriver.Join\","
                      "le=\"0.001\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("wgnet_request_duration_seconds_count{method=\"NetworkDriver.Join\"} 2"),
            std::string::npos);
}

TEST(DaemonMetrics, EndpointFamiliesCarryIdsNeverKeys) {
  admin::EndpointStatus a;
  a.network_id = "5e7a1b2c3d4e5f60718293a4b5c6d7e8f9";
  a.endpoint_id = "0123456789abcdef0123";
  a.backend = "external";
  a.joined = true;
  a.public_key = "+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=";
  admin::PeerStatus hub;
  hub.public_key = kHubKey;
  hub.last_handshake = kHandshake;
  hub.rx_bytes = 5;
  hub.tx_bytes = 6;
  a.peers.push_back(hub);
  admin::EndpointStatus b = a;
  b.endpoint_id = "ffffffffffff0000";
  b.joined = false;
  b.error = "busy";
  std::string text = metrics::render(daemon::endpoint_families({a, b}, kHandshake + 10));
  EXPECT_NE(text.find("wgnet_endpoints{network=\"5e7a1b2c3d4e\",backend=\"external\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("wgnet_endpoints_joined{network=\"5e7a1b2c3d4e\",backend=\"external\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("wgnet_endpoint_last_handshake_timestamp_seconds{network=\"5e7a1b2c3d4e\","
                      "endpoint=\"0123456789ab\"} 1700000000"),
            std::string::npos);
  EXPECT_NE(text.find("wgnet_endpoint_received_bytes_total{network=\"5e7a1b2c3d4e\",endpoint="
                      "\"0123456789ab\"} 5"),
            std::string::npos);
  EXPECT_NE(
      text.find("wgnet_endpoint_healthy{network=\"5e7a1b2c3d4e\",endpoint=\"0123456789ab\"} 1"),
      std::string::npos);
  EXPECT_EQ(text.find("ffffffffffff"), std::string::npos) << "an unread device has no samples";
  EXPECT_EQ(text.find(a.public_key), std::string::npos);
  EXPECT_EQ(text.find(kHubKey), std::string::npos);
}

TEST_F(DaemonTest, AdminRoutes) {
  drv->create_endpoint({kNet, "0123456789abcdef", "10.0.42.1/24", "", ""});
  daemon::StatusSource source([this] { return drv->device_reports(); }, &registry);
  daemon::add_endpoint_metrics(registry, source, "9.9.9");
  auto status = daemon::serve_admin({"GET", "/status", ""}, source, registry);
  EXPECT_EQ(status.status, 200u);
  EXPECT_EQ(status.content_type, "application/json");
  auto reports = admin::decode_report(status.body);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].interface, "wgnet-01234567");
  auto m = daemon::serve_admin({"GET", "/metrics", ""}, source, registry);
  EXPECT_EQ(m.status, 200u);
  EXPECT_EQ(m.content_type, metrics::kContentType);
  EXPECT_NE(m.body.find("wgnet_build_info{version=\"9.9.9\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("wgnet_endpoints{network=\"5e7a1b2c3d4e\",backend=\"external\"} 1"),
            std::string::npos);
  EXPECT_EQ(daemon::serve_admin({"POST", "/status", ""}, source, registry).status, 405u);
  EXPECT_EQ(daemon::serve_admin({"GET", "/", ""}, source, registry).status, 404u);
}

TEST_F(DaemonTest, AdminSocketServesStatusAndClosesAnIdleConnectionWithinSeconds) {
  daemon::StatusSource source([this] { return drv->device_reports(); }, &registry);
  const std::string path = (root / "admin.sock").string();
  AdminSocket admin(path, source, registry);
  EXPECT_EQ(http::unix_request(path, "GET", "/status").status, 200u);  // as `wgnet status` asks

  // Cut off well before this client gives up.
  RawClient idle(path, 10);
  EXPECT_TRUE(idle.closed_by_peer()) << "an idle connection was still open after 10 s";
}

TEST_F(DaemonTest, AdminSocketRefusesAUidsConnectionsPastAHandful) {
  daemon::StatusSource source([this] { return drv->device_reports(); }, &registry);
  const std::string path = (root / "admin.sock").string();
  AdminSocket admin(path, source, registry);
  const auto options = daemon::side_server_options();
  ASSERT_GT(options.max_connections_per_client, 0u);
  ASSERT_LT(options.max_connections_per_client, options.max_connections);

  // Each answered once, so each is surely accepted and open (and idle, far from its timeout).
  std::vector<std::unique_ptr<RawClient>> held;
  for (std::size_t i = 0; i < options.max_connections_per_client; ++i) {
    held.push_back(std::make_unique<RawClient>(path));
    auto reply = get_status(*held.back());
    ASSERT_TRUE(reply && reply->status == 200u) << "connection " << i;
  }
  RawClient extra(path);
  auto refused = get_status(extra);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503u);
  EXPECT_NE(refused->body.find("too many connections from one client"), std::string::npos)
      << refused->body;

  // A connection closed makes room once the server has seen it go; each try is a round trip
  // through the server, which sees the close meanwhile.
  held.pop_back();
  bool served = false;
  for (int attempt = 0; attempt < 100 && !served; ++attempt) {
    RawClient client(path);
    const auto reply = get_status(client);
    served = reply && reply->status == 200u;
  }
  EXPECT_TRUE(served);
}
