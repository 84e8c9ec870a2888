// The pure parts of `wgnet status` and `wgnet hub sync`: Docker's network description read for
// names, DOCKER_HOST honoured, the hub's peers as device configuration (the same keys `hub config`
// prints), and the sync's summary line.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/docker_names.h"
#include "cli/hub_options.h"
#include "cli/hub_sync.h"
#include "cli/status.h"
#include "crypto/encoding.h"
#include "temp_dir.h"
#include "util/error.h"

using namespace wgnet;
using namespace wgnet::cli;

TEST(DockerNames, NetworkInspectGivesNamesByEndpoint) {
  // Trimmed from Docker 20.10's GET /networks/ID.
  auto n = parse_docker_network(R"({
    "Name": "net1", "Id": "5e7a", "Driver": "wgnet",
    "Containers": {
      "c0ffee11": {"Name": "web", "EndpointID": "e1aaaa", "IPv4Address": "10.0.42.2/24"},
      "c0ffee22": {"Name": "db", "EndpointID": "e2bbbb", "IPv4Address": "10.0.42.3/24"},
      "ep-lb": {"Name": "lb-endpoint", "EndpointID": ""}
    }})");
  EXPECT_EQ(n.name, "net1");
  ASSERT_EQ(n.by_endpoint.size(), 2u);
  EXPECT_EQ(n.by_endpoint.at("e1aaaa").name, "web");
  EXPECT_EQ(n.by_endpoint.at("e1aaaa").id, "c0ffee11");
  EXPECT_EQ(n.by_endpoint.at("e2bbbb").name, "db");
  EXPECT_TRUE(parse_docker_network(R"({"Name": "n", "Containers": null})").by_endpoint.empty());
  EXPECT_THROW(parse_docker_network("<html>"), SystemError);
}

TEST(DockerNames, UnreachableDockerLeavesIdsAndSaysWhy) {
  std::vector<admin::EndpointStatus> e(1);
  e[0].network_id = "5e7a";
  e[0].endpoint_id = "e1aaaa";
  std::string why = add_docker_names(e, "/nonexistent/docker.sock");
  EXPECT_NE(why.find("/nonexistent/docker.sock"), std::string::npos) << why;
  EXPECT_EQ(e[0].network, "");
  EXPECT_EQ(add_docker_names(e, ""), "") << "'' means: do not ask";
}

TEST(DockerNames, DockerHostPicksTheSocket) {
  const char* old = std::getenv("DOCKER_HOST");
  std::string saved = old ? old : "";
  ::setenv("DOCKER_HOST", "unix:///run/private/docker.sock", 1);
  EXPECT_EQ(default_docker_socket(), "/run/private/docker.sock");
  ::setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
  EXPECT_EQ(default_docker_socket(), "/var/run/docker.sock");
  ::unsetenv("DOCKER_HOST");
  EXPECT_EQ(default_docker_socket(), "/var/run/docker.sock");
  if (old) ::setenv("DOCKER_HOST", saved.c_str(), 1);
}

// The peers sync applies are those `hub config` prints: same keys (keys.md's vector), /32 or
// /128, the PSK only with --psk derived; the hub's own --address is skipped.
TEST(HubSync, PeersAreTheHubConfigsPeers) {
  HubPeerOptions o;
  o.derive.seed_b64 = "YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk=";
  o.derive.additional_b64 = "d2duZXQ=";
  o.subnet = "10.0.42.0/24";
  o.range = "10.0.42.1-10.0.42.3";
  o.hub_address = "10.0.42.2/24";
  o.psk = "derived";
  auto peers = hub_peer_configs(o.peers());
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].allowed_ips, std::vector<Cidr>{*Cidr::parse("10.0.42.1/32")});
  EXPECT_EQ(peers[1].allowed_ips, std::vector<Cidr>{*Cidr::parse("10.0.42.3/32")});
  EXPECT_EQ(crypto::key_to_base64(*peers[0].preshared_key),
            "utrXyRq5mCxlMTKphNiAIgonItjkaY9k9RKQq0RY/KY=");
  EXPECT_FALSE(peers[0].endpoint);
  EXPECT_EQ(peers[0].persistent_keepalive, 0);

  HubPeerOptions v6;
  v6.derive.seed_b64 = "YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk=";  // o's was wiped after use
  v6.subnet = "fd00::/126";
  auto p6 = hub_peer_configs(v6.peers());
  ASSERT_EQ(p6.size(), 3u);  // IPv6 has no broadcast: ::1, ::2, ::3
  EXPECT_EQ(p6[0].allowed_ips[0].str(), "fd00::1/128");
  EXPECT_FALSE(p6[0].preshared_key);
}

TEST(HubSync, OptionsAreCheckedBeforeAnythingIsTouched) {
  HubPeerOptions o;
  o.derive.seed_b64 = "YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk=";
  o.subnet = "10.0.42.0/33";
  EXPECT_THROW(o.peers(), InputError);
  o.subnet = "10.0.42.0/24";
  o.psk = "yes";
  EXPECT_THROW(o.peers(), InputError);
  o.psk = "off";
  o.range = "fd00::1-fd00::2";
  EXPECT_THROW(o.peers(), InputError);
  o.range = "";
  o.hub_address = "hub";
  EXPECT_THROW(o.peers(), InputError);
}

TEST(HubSync, SummarySaysWhatWasDone) {
  wg::PeerDiff d;
  d.add.resize(3);
  d.remove.resize(1);
  d.unchanged = 96;
  d.outside = 2;
  auto scope = *Cidr::parse("10.0.42.0/24");
  EXPECT_EQ(sync_summary("wg-hub", "uapi", d, scope, false),
            "wg-hub (uapi): 3 added, 1 removed, 0 updated; 96 unchanged; 2 peer(s) outside "
            "10.0.42.0/24 left alone\n");
  d.outside = 0;
  EXPECT_EQ(sync_summary("wg-hub", "netlink", d, scope, true),
            "wg-hub (netlink): would add 3, remove 1, update 0; 96 unchanged (dry run: nothing "
            "changed)\n");
}

namespace {

// A unix socket file at `path` (bound, never listened on: only its existence matters here).
void make_socket_file(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
  ::close(fd);
}

}  // namespace

// `wgnet status` finds a managed plugin's admin socket (PLUGIN_DIR/ID/admin.sock) when the
// default is absent and none was chosen.
TEST(StatusSocket, ManagedPluginsSocketIsFoundWhenTheDefaultIsAbsent) {
  namespace fs = std::filesystem;
  wgnet::testing::TempDir tmp("wgnet-plugins");
  const fs::path& dir = tmp.path();
  fs::create_directories(dir / "0123abcd");
  fs::create_directories(dir / "not-a-plugin");
  std::string absent = (dir / "nothing.sock").string();
  EXPECT_EQ(find_admin_socket(absent, false, dir.string()), absent) << "no plugin socket yet";
  make_socket_file((dir / "0123abcd" / "admin.sock").string());
  EXPECT_EQ(find_admin_socket(absent, false, dir.string()),
            (dir / "0123abcd" / "admin.sock").string());
  EXPECT_EQ(find_admin_socket(absent, true, dir.string()), absent) << "a chosen path is kept";
  make_socket_file(absent);
  EXPECT_EQ(find_admin_socket(absent, false, dir.string()), absent) << "the default comes first";
  fs::remove(absent);
  fs::create_directories(dir / "4567ef01");
  make_socket_file((dir / "4567ef01" / "admin.sock").string());
  EXPECT_THROW(find_admin_socket(absent, false, dir.string()), InputError);
}
