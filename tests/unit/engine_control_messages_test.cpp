// Control messages: the bodies byte for byte, every message's round trip, and the bodies the
// decoders refuse (unknown or repeated keys, limits, values, descriptor counts, direction).
#include <gtest/gtest.h>

#include <cerrno>

#include "crypto/encoding.h"
#include "engine/control/messages.h"
#include "wgconf/uapi_codec.h"

using namespace wgnet;
using namespace wgnet::engine::control;

namespace {

constexpr const char* kPrivHex = "b897ab1abe9e8432ca29b97c471afee85322ae193af560bd937a291cc1499a55";
constexpr const char* kPubHex = "6434fae07f7db7f98ae51140c5c651c762932b83cdf1c54fe79cd68641575a09";

wg::DeviceConfig config() {
  wg::DeviceConfig c;
  c.private_key = crypto::key_from_hex(kPrivHex, "k");
  c.listen_port = 51820;
  wg::PeerConfig p;
  p.public_key = crypto::key_from_hex(kPubHex, "k");
  p.endpoint = wg::Endpoint::parse("198.18.42.2:51820");
  p.persistent_keepalive = 25;
  p.allowed_ips = {*Cidr::parse("10.1.0.0/24")};
  c.peers.push_back(p);
  return c;
}

crypto::SecretBytes secret(std::string_view s) {
  return crypto::SecretBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

std::string refusal(const Message& m) {
  try {
    if (is_reply(m.type) || static_cast<uint16_t>(m.type) >= 0x4000)
      decode_from_engine(m);
    else
      decode_request(m);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "accepted";
}

// Decoding what was encoded gives a message that encodes to the same bytes.
void expect_round_trip(const Request& r) {
  const Message m = encode_request(r, 42);
  const Message again = encode_request(decode_request(m), 42);
  EXPECT_EQ(again.type, m.type);
  EXPECT_EQ(again.body, m.body);
  EXPECT_EQ(again.fds, m.fds);
}
void expect_round_trip(const FromEngine& r) {
  const uint32_t id = std::holds_alternative<DeviceLost>(r) ? 0 : 42;  // an event's id is 0
  const Message m = encode_from_engine(r, id);
  const Message again = encode_from_engine(decode_from_engine(m), id);
  EXPECT_EQ(again.type, m.type);
  EXPECT_EQ(again.body, m.body);
  EXPECT_EQ(again.fds, m.fds);
}

}  // namespace

TEST(ControlMessages, AddDeviceIsFieldsThenTheSetBody) {
  const AddDevice a{"wg0", 1420, {true, true, false}, {51820, true, true, true}, config()};
  const Message m = encode_request(a, 3);
  EXPECT_EQ(m.type, Type::kAddDevice);
  EXPECT_EQ(m.id, 3u);
  EXPECT_EQ(m.fds, 3u);  // TUN, UDP4, UDP6
  EXPECT_EQ(m.body,
            "name=wg0\nmtu=1420\nvnet_hdr=true\ntso=true\nuso=false\nport=51820\ngro=true\n"
            "gso=true\nipv6=true\n\n"
            "private_key=" +
                std::string(kPrivHex) +
                "\nlisten_port=51820\nfwmark=0\n"
                "replace_peers=true\npublic_key=" +
                kPubHex +
                "\nendpoint=198.18.42.2:51820\n"
                "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
                "allowed_ip=10.1.0.0/24\n\n");
  const auto back = std::get<AddDevice>(decode_request(m));
  EXPECT_EQ(back.name, "wg0");
  EXPECT_EQ(back.mtu, 1420u);
  EXPECT_EQ(back.tun, a.tun);
  EXPECT_EQ(back.udp, a.udp);
  EXPECT_EQ(wg::uapi::encode_set(back.config), wg::uapi::encode_set(a.config));
  EXPECT_EQ(back.config.private_key, a.config.private_key);
}

TEST(ControlMessages, RepliesAreByteExact) {
  EXPECT_EQ(encode_from_engine(Reply{Type::kRemoveDevice, {}}, 1).body, "errno=0\n");
  const Message failed = encode_from_engine(Reply{Type::kSetMtu, {-19, "no such device\nwg9"}}, 1);
  EXPECT_EQ(failed.type, reply_to(Type::kSetMtu));
  EXPECT_EQ(failed.body, "errno=-19\nmessage=no such device?wg9\n");
  EXPECT_EQ(encode_from_engine(HelloReply{{}, 1, 4242, "0.9.0", 2}, 1).body,
            "errno=0\nprotocol=1\npid=4242\nbuild=0.9.0\ndevices=2\n");
  EXPECT_EQ(encode_from_engine(DeviceLost{"wg0", "link deleted"}, 0).body,
            "name=wg0\nwhy=link deleted\n");
  const Message get = encode_from_engine(GetReply{{}, secret("listen_port=1\nerrno=0\n\n")}, 8);
  EXPECT_EQ(get.body, "errno=0\n\nlisten_port=1\nerrno=0\n\n");
  EXPECT_EQ(encode_request(Get{"wg0"}, 8).body, "name=wg0\n");
  EXPECT_EQ(encode_request(Export{}, 8).body, "");
}

TEST(ControlMessages, EveryMessageRoundTrips) {
  expect_round_trip(Hello{1, "0.9.0 (test build)"});
  expect_round_trip(AddDevice{"wg0", 1420, {}, {0, false, false, false}, config()});
  expect_round_trip(AddDevice{"wg0", 65535, {true, false, true}, {1, true, false, true}, {}});
  expect_round_trip(Configure{"wg0", std::nullopt, config()});
  expect_round_trip(Configure{"wg0", UdpBinding{10101, false, true, false}, config()});
  wg::DeviceConfig keep = config();
  keep.replace_peers = false;
  keep.fwmark = 0x51820;
  expect_round_trip(Configure{"wg0", std::nullopt, keep});
  expect_round_trip(UapiSet{"wg0", std::nullopt, secret("listen_port=1\n\n")});
  expect_round_trip(UapiSet{"wg0", UdpBinding{1, true, true, true}, secret("listen_port=1\n\n")});
  expect_round_trip(Get{"wg0"});
  expect_round_trip(Info{"wg0"});
  expect_round_trip(SetMtu{"wg0", 1280});
  expect_round_trip(RemoveDevice{"wg0"});
  expect_round_trip(Export{});
  expect_round_trip(Shutdown{});
  expect_round_trip(UnknownRequest{static_cast<Type>(99)});

  expect_round_trip(Reply{Type::kAddDevice, {}});
  expect_round_trip(Reply{Type::kConfigure, {-22, "bad config"}});
  expect_round_trip(Reply{static_cast<Type>(99), {-38, "unknown request"}});
  expect_round_trip(HelloReply{{}, 1, 77, "0.9.0", 0});
  expect_round_trip(HelloReply{{-71, "protocol 2 unknown"}, 1, 0, "", 0});
  expect_round_trip(GetReply{{}, secret("private_key=" + std::string(kPrivHex) + "\nerrno=0\n\n")});
  expect_round_trip(GetReply{{-19, ""}, {}});
  expect_round_trip(
      InfoReply{{}, "wg0", 7, 1420, 51820, true, {{"tun.reads", 5}, {"udp.rx_datagrams", 0}}});
  expect_round_trip(InfoReply{{-19, "no device wg0"}, "", 0, 0, 0, false, {}});
  expect_round_trip(
      ExportDevice{"wg0", 1420, {true, true, true}, {51820, true, true, false}, false});
  expect_round_trip(ExportReply{{}, 3});
  expect_round_trip(DeviceLost{"wg0", "namespace gone"});

  // And the values come back, not only the bytes.
  const auto info = std::get<InfoReply>(decode_from_engine(encode_from_engine(
      InfoReply{{}, "wg0", 7, 1420, 51820, true, {{"tun.reads", 5}, {"device.no_route", 9}}}, 1)));
  EXPECT_EQ(info.ifindex, 7u);
  EXPECT_EQ(info.listen_port, 51820);
  EXPECT_TRUE(info.lost);
  EXPECT_EQ(info.counters, (std::vector<Counter>{{"tun.reads", 5}, {"device.no_route", 9}}));
  const auto rebind = std::get<Configure>(decode_request(
      encode_request(Configure{"wg0", UdpBinding{10101, false, true, true}, {}}, 1)));
  ASSERT_TRUE(rebind.rebind);
  EXPECT_EQ(*rebind.rebind, (UdpBinding{10101, false, true, true}));
  const auto r = std::get<Reply>(
      decode_from_engine(encode_from_engine(Reply{static_cast<Type>(99), {-38, "unknown"}}, 1)));
  EXPECT_EQ(r.request, static_cast<Type>(99));
  EXPECT_EQ(r.status.error, -38);
  EXPECT_EQ(r.status.message, "unknown");
}

TEST(ControlMessages, DescriptorCountsFollowTheFields) {
  EXPECT_EQ(encode_request(AddDevice{"wg0", 1420, {}, {1, false, false, false}, {}}, 1).fds, 2u);
  EXPECT_EQ(encode_request(Configure{"wg0", std::nullopt, {}}, 1).fds, 0u);
  EXPECT_EQ(encode_request(Configure{"wg0", UdpBinding{1, false, false, true}, {}}, 1).fds, 2u);
  EXPECT_EQ(encode_request(UapiSet{"wg0", UdpBinding{1, false, false, false}, secret("\n")}, 1).fds,
            1u);
  EXPECT_EQ(encode_from_engine(ExportDevice{"wg0", 1, {}, {1, false, false, true}, false}, 1).fds,
            3u);

  Message m = encode_request(AddDevice{"wg0", 1420, {}, {1, false, false, true}, {}}, 1);
  m.fds = 2;
  EXPECT_EQ(refusal(m), "control: AddDevice with 2 descriptors, its fields want 3");
  m = encode_request(Configure{"wg0", std::nullopt, {}}, 1);
  m.fds = 1;
  EXPECT_EQ(refusal(m), "control: Configure with 1 descriptors, its fields want 0");
  m = encode_request(Get{"wg0"}, 1);
  m.fds = 1;
  EXPECT_EQ(refusal(m), "control: Get with 1 descriptors, its fields want 0");
  m = encode_from_engine(ExportDevice{"wg0", 1, {}, {1, false, false, false}, false}, 1);
  m.fds = 3;
  EXPECT_EQ(refusal(m), "control: ExportDevice with 3 descriptors, its fields want 2");
}

TEST(ControlMessages, RefusesMalformedBodies) {
  auto req = [](Type t, std::string body, unsigned fds = 0) {
    return refusal(Message(t, 1, fds, std::move(body)));
  };
  EXPECT_EQ(req(Type::kGet, "name=wg0\n"), "accepted");
  EXPECT_EQ(req(Type::kGet, ""), "control: Get: no name");
  EXPECT_EQ(req(Type::kGet, "name=wg0\nname=wg1\n"), "control: Get: key name twice");
  EXPECT_EQ(req(Type::kGet, "name=wg0\nmtu=1\n"), "control: Get: a key not of its table");
  EXPECT_EQ(req(Type::kGet, "name\n"), "control: Get: a line without '='");
  EXPECT_EQ(req(Type::kGet, "name=wg0\n\nmore"), "control: Get: a body, which it has none of");
  EXPECT_EQ(req(Type::kGet, "name=" + std::string(300, 'a') + "\n"),
            "control: Get: a line over 256 bytes");
  for (const char* bad : {"", "has space", "a/b", "sixteen-letters!", "..", "t\x01"})
    EXPECT_EQ(req(Type::kGet, "name=" + std::string(bad) + "\n"), "control: Get: bad name") << bad;
  EXPECT_EQ(req(Type::kSetMtu, "name=wg0\nmtu=65536\n"), "control: SetMtu: bad mtu");
  EXPECT_EQ(req(Type::kSetMtu, "name=wg0\nmtu=-1\n"), "control: SetMtu: bad mtu");
  EXPECT_EQ(req(Type::kSetMtu, "name=wg0\nmtu=0x10\n"), "control: SetMtu: bad mtu");
  EXPECT_EQ(req(Type::kHello, "protocol=1\nbuild=a\x1b[2J\n"), "control: Hello: bad build");
  EXPECT_EQ(req(Type::kExport, "x=1\n"), "control: Export: a key not of its table");

  // A binding is all four keys or none; flags are "true" or "false".
  const std::string add = "name=wg0\nmtu=1420\nvnet_hdr=true\ntso=false\nuso=false\n";
  EXPECT_EQ(req(Type::kAddDevice, add + "port=1\ngro=true\ngso=true\nipv6=false\n\n\n", 2),
            "accepted");
  EXPECT_EQ(req(Type::kAddDevice, add + "port=1\ngro=yes\ngso=true\nipv6=false\n\n", 2),
            "control: AddDevice: bad gro");
  EXPECT_EQ(req(Type::kAddDevice, add + "port=1\ngro=true\ngso=true\n\n", 2),
            "control: AddDevice: no ipv6");
  EXPECT_EQ(req(Type::kConfigure, "name=wg0\nport=1\n\n"), "control: Configure: no gro");
  // The set body goes through the UAPI codec: a refused line, or a change that is not a whole
  // configuration, is refused without quoting it (it may be a key).
  EXPECT_EQ(req(Type::kConfigure, "name=wg0\n\nprivate_key=" + std::string(63, 'a') + "\n\n"),
            "control: Configure: set body refused (errno -22)");
  EXPECT_EQ(
      req(Type::kConfigure, "name=wg0\n\npublic_key=" + std::string(kPubHex) + "\nremove=true\n\n"),
      "control: Configure: set body is not a whole configuration");
  // A set body is lines and the blank line that ends it: none missing, nothing after.
  EXPECT_EQ(req(Type::kConfigure, "name=wg0\n"),
            "control: Configure: set body not ended by one blank line");
  EXPECT_EQ(req(Type::kConfigure, "name=wg0\n\nfwmark=0\n"),
            "control: Configure: set body not ended by one blank line");
  EXPECT_EQ(req(Type::kConfigure, "name=wg0\n\nfwmark=0\n\nfwmark=1\n\n"),
            "control: Configure: set body not ended by one blank line");
  EXPECT_EQ(req(Type::kUapiSet, "name=wg0\n\nlisten_port=1\n\n\n"),
            "control: UapiSet: set body not ended by one blank line");
  EXPECT_EQ(req(Type::kUapiSet, "name=wg0\n\n\n"), "accepted");  // `wg set wg0`: nothing to set
  EXPECT_THROW(encode_request(UapiSet{"wg0", std::nullopt, secret("listen_port=1\n")}, 1),
               ProtocolError);
  // 17 keys: more than any table has.
  std::string many;
  for (const char* k : {"name=wg0", "mtu=1", "vnet_hdr=true", "tso=true", "uso=true", "port=1",
                        "gro=true", "gso=true", "ipv6=true"})
    many += std::string(k) + "\n";
  EXPECT_EQ(req(Type::kAddDevice, many + "mtu=2\n", 3), "control: AddDevice: key mtu twice");

  // Direction: replies and events are not requests, requests are not from the engine.
  EXPECT_EQ(req(reply_to(Type::kGet), "errno=0\n"), "accepted");  // decoded as from the engine
  EXPECT_EQ(refusal(Message(Type::kDeviceLost, 0, 0, "name=wg0\nwhy=x\n")), "accepted");
  EXPECT_THROW(decode_request(Message(Type::kDeviceLost, 0, 0, "")), ProtocolError);
  EXPECT_THROW(decode_from_engine(Message(Type::kGet, 0, 0, "name=wg0\n")), ProtocolError);
  EXPECT_TRUE(std::holds_alternative<UnknownRequest>(
      decode_request(Message(static_cast<Type>(99), 0, 0, "anything"))));
}

TEST(ControlMessages, RefusesMalformedReplies) {
  auto rep = [](Type request, std::string body) {
    return refusal(Message(reply_to(request), 1, 0, std::move(body)));
  };
  EXPECT_EQ(rep(Type::kAddDevice, ""), "control: AddDevice reply: no errno");
  for (const char* bad : {"errno=5", "errno=-0", "errno=-4096", "errno=+1", "errno=-"})
    EXPECT_EQ(rep(Type::kAddDevice, std::string(bad) + "\n"), "control: AddDevice reply: bad errno")
        << bad;
  EXPECT_EQ(rep(Type::kAddDevice, "errno=-4095\n"), "accepted");
  EXPECT_EQ(rep(Type::kHello, "errno=0\nprotocol=1\npid=1\nbuild=x\n"),
            "control: Hello reply: no devices");
  EXPECT_EQ(rep(Type::kHello, "errno=-1\nprotocol=1\n"),
            "control: Hello reply: fields beside an error");
  EXPECT_EQ(rep(Type::kGet, "errno=-19\n\nprivate_key=x\n"),
            "control: Get reply: a body beside an error");
  const std::string info =
      "errno=0\nifname=wg0\nifindex=3\nmtu=1420\nlisten_port=1\nlost=false\n\n";
  EXPECT_EQ(rep(Type::kInfo, info + "tun.reads=1\n"), "accepted");
  EXPECT_EQ(rep(Type::kInfo, info + "Tun.reads=1\n"), "control: Info reply: bad counter line");
  EXPECT_EQ(rep(Type::kInfo, info + "tun.reads=x\n"), "control: Info reply: bad counter value");
  EXPECT_EQ(rep(Type::kInfo, info + "a=1\na=2\n"), "control: Info reply: a counter twice");
  std::string counters;
  for (int i = 0; i <= 64; i++) counters += "c" + std::to_string(i) + "=1\n";
  EXPECT_EQ(rep(Type::kInfo, info + counters), "control: Info reply: more than 64 counters");
  EXPECT_EQ(rep(Type::kInfo,
                "errno=0\nifname=wg0\nifindex=2147483648\nmtu=1\nlisten_port=1\n"
                "lost=false\n"),
            "control: Info reply: bad ifindex");

  // Encoding refuses what could not be decoded.
  EXPECT_THROW(encode_request(Get{"bad name"}, 1), ProtocolError);
  EXPECT_THROW(encode_from_engine(Reply{Type::kGet, {5, ""}}, 1), ProtocolError);
  EXPECT_THROW(encode_from_engine(InfoReply{{}, "wg0", 1, 1, 1, false, {{"Bad", 1}}}, 1),
               ProtocolError);
  // Free text is cut to one line of 256 bytes.
  const Message m = encode_from_engine(Reply{Type::kGet, {-1, std::string(1000, 'x')}}, 1);
  EXPECT_EQ(m.body, "errno=-1\nmessage=" + std::string(256 - 8, 'x') + "\n");
  EXPECT_EQ(refusal(m), "accepted");
}

TEST(ControlMessages, ErrorsNeverQuoteKeys) {
  // A bad line holding a key's hex: the error names the field, not the value.
  const std::string key(kPrivHex);
  for (const std::string& body : {"name=wg0\n\nprivate_key=" + key + "zz\n\n", "name=" + key + "\n",
                                  "name=wg0\n" + key + "\n", "name=wg0\n" + key + "=1\n"}) {
    const std::string why = refusal(Message(Type::kConfigure, 1, 0, body));
    EXPECT_EQ(why.find(key.substr(0, 16)), std::string::npos) << why;
  }
}

TEST(ControlMessages, EventsRepliesAndUnknownRequests) {
  // An event has id 0, going out and coming in.
  EXPECT_THROW(encode_from_engine(DeviceLost{"wg0", "gone"}, 7), ProtocolError);
  EXPECT_EQ(refusal(Message(Type::kDeviceLost, 7, 0, "name=wg0\nwhy=x\n")),
            "control: DeviceLost: an event with a request's id");
  // Only requests are answered: a "reply" to an event or to a reply is refused both ways.
  EXPECT_EQ(refusal(Message(reply_to(Type::kDeviceLost), 1, 0, "errno=0\n")),
            "control: DeviceLost reply is not from the engine");
  EXPECT_EQ(refusal(Message(static_cast<Type>(0x4003), 1, 0, "")),
            "control: type 16387 is not from the engine");
  EXPECT_THROW(encode_from_engine(Reply{Type::kExportDevice, {}}, 1), ProtocolError);
  EXPECT_THROW(encode_request(UnknownRequest{static_cast<Type>(0x4003)}, 1), ProtocolError);
  EXPECT_THROW(decode_request(Message(static_cast<Type>(0x4003), 1, 0, "")), ProtocolError);

  // A request type nobody knows decodes as such (its body unread) and is answered -ENOSYS.
  const Request unknown = decode_request(Message(static_cast<Type>(99), 5, 0, "what=1\n"));
  ASSERT_TRUE(std::holds_alternative<UnknownRequest>(unknown));
  const Reply answer = answer_unknown(std::get<UnknownRequest>(unknown));
  const Message sent = encode_from_engine(answer, 5);
  EXPECT_EQ(sent.type, reply_to(static_cast<Type>(99)));
  EXPECT_EQ(sent.body, "errno=-38\nmessage=unknown request type 99\n");
  const auto back = std::get<Reply>(decode_from_engine(sent));
  EXPECT_EQ(back.request, static_cast<Type>(99));
  EXPECT_EQ(back.status.error, -ENOSYS);
}
