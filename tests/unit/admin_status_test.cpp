// What `wgnet status` prints and what wgnetd reports: the JSON both ways, the table, ages, byte
// counts, health at the 3-minute edge and the fallbacks to short IDs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "admin/status.h"
#include "util/error.h"

using namespace wgnet;
using namespace wgnet::admin;
using json = nlohmann::json;

namespace {

constexpr int64_t kNow = 1700000000;
const std::string kNet = "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
const std::string kEp = "0a1b2c3d4e5f60718293a4b5c6d7e8f90011223344556677889900aabbccddee";

EndpointStatus sample() {
  EndpointStatus e;
  e.network_id = kNet;
  e.endpoint_id = kEp;
  e.interface = "wgnet-0a1b2c3d";
  e.backend = "external";
  e.address = "10.0.42.2/24";
  e.joined = true;
  e.public_key = "+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=";
  PeerStatus hub;
  hub.public_key = "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=";
  hub.endpoint = "198.18.42.2:51820";
  hub.last_handshake = kNow - 42;
  hub.rx_bytes = 1536;
  hub.tx_bytes = 92;
  hub.allowed_ips = {"0.0.0.0/0"};
  e.peers.push_back(hub);
  return e;
}

}  // namespace

TEST(AdminStatus, ReportRoundTrips) {
  auto e = sample();
  e.network = "net1";
  e.container = "web";
  e.container_id = "c0ffee";
  e.address6 = "fd00::2/64";
  EndpointStatus broken;
  broken.network_id = kNet;
  broken.endpoint_id = "ff";
  broken.error = "cannot connect to /var/run/wireguard/x.sock";
  auto back = decode_report(encode_report({e, broken}, kNow));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].network, "net1");
  EXPECT_EQ(back[0].container, "web");
  EXPECT_EQ(back[0].container_id, "c0ffee");
  EXPECT_EQ(back[0].address6, "fd00::2/64");
  EXPECT_EQ(back[0].public_key, e.public_key);
  EXPECT_TRUE(back[0].joined);
  ASSERT_EQ(back[0].peers.size(), 1u);
  EXPECT_EQ(back[0].peers[0].endpoint, "198.18.42.2:51820");
  EXPECT_EQ(back[0].peers[0].last_handshake, kNow - 42);
  EXPECT_EQ(back[0].peers[0].rx_bytes, 1536u);
  EXPECT_EQ(back[0].peers[0].allowed_ips, std::vector<std::string>{"0.0.0.0/0"});
  EXPECT_EQ(back[1].error, broken.error);
  EXPECT_TRUE(back[1].peers.empty());
}

TEST(AdminStatus, MalformedReportsAreTheDaemonsFault) {
  EXPECT_THROW(decode_report("not json"), SystemError);
  EXPECT_THROW(decode_report("{}"), SystemError);
  EXPECT_THROW(decode_report("{\"endpoints\": {}}"), SystemError);
  EXPECT_THROW(decode_report("{\"endpoints\": [1]}"), SystemError);
  EXPECT_THROW(
      decode_report("{\"endpoints\": [{\"rx_bytes\": \"x\", \"peers\": [{\"rx_bytes\": \"x\"}]}]}"),
      SystemError);
  EXPECT_TRUE(decode_report("{\"endpoints\": []}").empty());
}

// The fields the issue asks for, with their types, plus the fallbacks to short IDs.
TEST(AdminStatus, JsonOutputHasTheDocumentedFields) {
  auto j = json::parse(format_json({sample()}, kNow));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  const auto& e = j[0];
  EXPECT_EQ(e["network"], kNet.substr(0, 12)) << "no name: the short network ID";
  EXPECT_EQ(e["container"], kEp.substr(0, 12)) << "no name: the short endpoint ID";
  EXPECT_EQ(e["address"], "10.0.42.2/24");
  EXPECT_EQ(e["public_key"], "+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=");
  EXPECT_EQ(e["backend"], "external");
  EXPECT_EQ(e["endpoint"], "198.18.42.2:51820");
  EXPECT_EQ(e["last_handshake"], kNow - 42);
  EXPECT_EQ(e["rx_bytes"], 1536);
  EXPECT_EQ(e["tx_bytes"], 92);
  EXPECT_EQ(e["healthy"], true);
  EXPECT_EQ(e["network_id"], kNet);
  EXPECT_EQ(e["endpoint_id"], kEp);
  EXPECT_EQ(e["interface"], "wgnet-0a1b2c3d");
  EXPECT_EQ(e["joined"], true);
  EXPECT_EQ(e["peers"].size(), 1u);
  EXPECT_FALSE(e.contains("error"));
  EXPECT_EQ(json::parse(format_json({}, kNow)), json::array());
}

TEST(AdminStatus, TotalsAndHealthOverPeers) {
  auto e = sample();
  PeerStatus other;
  other.last_handshake = kNow - 500;
  other.rx_bytes = 10;
  other.tx_bytes = 8;
  e.peers.insert(e.peers.begin(), other);  // no endpoint: the next peer's is shown
  EXPECT_EQ(e.last_handshake(), kNow - 42);
  EXPECT_EQ(e.rx_bytes(), 1546u);
  EXPECT_EQ(e.tx_bytes(), 100u);
  EXPECT_EQ(e.endpoint(), "198.18.42.2:51820");
  EXPECT_TRUE(e.healthy(kNow));
  EXPECT_TRUE(e.healthy(kNow - 42 + 179));
  EXPECT_FALSE(e.healthy(kNow - 42 + 180)) << "3 minutes is stale";
  e.peers.clear();
  EXPECT_EQ(e.last_handshake(), 0);
  EXPECT_FALSE(e.healthy(kNow)) << "never is not healthy";
}

TEST(AdminStatus, AgesAndBytesReadLikeWgShow) {
  EXPECT_EQ(format_age(0, kNow), "never");
  EXPECT_EQ(format_age(kNow, kNow), "0s ago");
  EXPECT_EQ(format_age(kNow + 5, kNow), "0s ago") << "a clock a little ahead is not negative";
  EXPECT_EQ(format_age(kNow - 59, kNow), "59s ago");
  EXPECT_EQ(format_age(kNow - 185, kNow), "3m 5s ago");
  EXPECT_EQ(format_age(kNow - 7440, kNow), "2h 4m ago");
  EXPECT_EQ(format_age(kNow - 3 * 86400 - 3600, kNow), "3d 1h ago");
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(3355443), "3.20 MiB");
  EXPECT_EQ(format_bytes(uint64_t{5} << 40), "5.00 TiB");
}

TEST(AdminStatus, TableIsAlignedAndExplainsWhatItCannotRead) {
  auto ok = sample();
  ok.network = "net1";
  ok.container = "web";
  EndpointStatus unread;
  unread.network_id = kNet;
  unread.endpoint_id = "feedfacecafe0000";
  unread.interface = "wgnet-feedface";
  unread.backend = "kernel";
  unread.address = "10.0.42.3/24";
  unread.joined = true;
  unread.error = "busy: an operation on this endpoint is in progress";
  std::vector<EndpointStatus> all{unread, ok};
  sort_for_display(all);
  EXPECT_EQ(all[0].container_label(), "feedfacecafe") << "4f1e… sorts before net1";
  std::string t = format_table(all, kNow);
  EXPECT_EQ(t,
            "NETWORK       CONTAINER     ADDRESS    PUBLIC KEY                                    "
            "BACKEND   ENDPOINT           HANDSHAKE  RX        TX    HEALTHY\n"
            "4f1e2d3c4b5a  feedfacecafe  10.0.42.3  -                                             "
            "kernel    -                  never      0 B       0 B   unknown\n"
            "net1          web           10.0.42.2  +Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=  "
            "external  198.18.42.2:51820  42s ago    1.50 KiB  92 B  yes\n"
            "\ndevices that could not be read:\n"
            "feedfacecafe (wgnet-feedface): busy: an operation on this endpoint is in progress\n");
  EXPECT_EQ(format_table({}, kNow), "no wgnet endpoints\n");
  auto idle = sample();
  idle.joined = false;
  idle.peers.clear();
  EXPECT_NE(format_table({idle}, kNow).find("no (not joined)"), std::string::npos);
}
