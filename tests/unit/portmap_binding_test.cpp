// portmap/binding: describe() in `docker port`'s form, validate()'s refusals, and the state
// database's text form (round trips, and every kind of damage decode() must refuse).
#include <gtest/gtest.h>

#include <string>

#include "portmap/binding.h"
#include "util/error.h"

using namespace wgnet;
using namespace wgnet::portmap;

namespace {

Binding binding(Proto proto, const char* host, uint16_t port, uint16_t end, uint16_t container) {
  Binding b;
  b.proto = proto;
  if (host) b.host_ip = *IpAddress::parse(host);
  b.host_port = port;
  b.host_port_end = end;
  b.container_port = container;
  return b;
}

// The message of validate()'s InputError; "" when it accepts.
std::string refusal(const Binding& b) {
  try {
    validate(b);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PortmapBinding, DescribesAsDockerPortDoes) {
  EXPECT_EQ(describe(binding(Proto::kTcp, "127.0.0.1", 18092, 18092, 8080)),
            "127.0.0.1:18092->8080/tcp");
  EXPECT_EQ(describe(binding(Proto::kUdp, "::1", 18100, 18101, 9000)),
            "[::1]:18100-18101->9000/udp");
  EXPECT_EQ(describe(binding(Proto::kTcp, nullptr, 80, 80, 8080)), "*:80->8080/tcp");
  EXPECT_STREQ(proto_name(Proto::kTcp), "tcp");
  EXPECT_STREQ(proto_name(Proto::kUdp), "udp");
}

TEST(PortmapBinding, ValidAcceptsWhatDockerSends) {
  EXPECT_EQ(refusal(binding(Proto::kTcp, "127.0.0.1", 18092, 18092, 8080)), "");
  EXPECT_EQ(refusal(binding(Proto::kUdp, nullptr, 18100, 18101, 9000)), "");
  EXPECT_EQ(refusal(binding(Proto::kTcp, "::", 1, 65535, 65535)), "");
}

TEST(PortmapBinding, ARandomHostPortIsRefusedWithWhatToDo) {
  // Docker's -p 8080 or -P: HostPort 0.
  const auto message = refusal(binding(Proto::kTcp, nullptr, 0, 0, 8080));
  EXPECT_EQ(message,
            "cannot publish *:0->8080/tcp: wgnet cannot publish a random host port (Docker's -p "
            "CONTAINERPORT or -P): give one, as -p HOSTPORT:CONTAINERPORT");
}

TEST(PortmapBinding, OtherRefusalsNameTheBinding) {
  const auto reversed = refusal(binding(Proto::kUdp, "10.0.0.1", 18101, 18100, 9000));
  EXPECT_EQ(reversed.rfind("cannot publish 10.0.0.1:18101-18100->9000/udp: ", 0), 0u) << reversed;
  EXPECT_NE(reversed.find("LOW-HIGH"), std::string::npos) << reversed;
  const auto no_container_port = refusal(binding(Proto::kTcp, nullptr, 80, 80, 0));
  EXPECT_EQ(no_container_port.rfind("cannot publish *:80->0/tcp: ", 0), 0u) << no_container_port;
  EXPECT_NE(no_container_port.find("1-65535"), std::string::npos) << no_container_port;
  Binding empty_address = binding(Proto::kTcp, nullptr, 80, 80, 8080);
  empty_address.host_ip = IpAddress();
  EXPECT_NE(refusal(empty_address).find("not an IP address"), std::string::npos);
}

TEST(PortmapBinding, EncodesInTheDatabaseForm) {
  EXPECT_EQ(encode({}), "");
  EXPECT_EQ(encode({binding(Proto::kTcp, "127.0.0.1", 18092, 18092, 8080),
                    binding(Proto::kUdp, nullptr, 18100, 18101, 9000)}),
            "tcp 127.0.0.1 18092 18092 8080;udp * 18100 18101 9000");
  EXPECT_EQ(encode({binding(Proto::kTcp, "fd00::1", 1, 65535, 65535)}),
            "tcp fd00::1 1 65535 65535");
}

TEST(PortmapBinding, DecodeReadsBackWhatEncodeWrote) {
  const std::vector<std::vector<Binding>> sets = {
      {},
      {binding(Proto::kTcp, "127.0.0.1", 18092, 18092, 8080)},
      {binding(Proto::kTcp, "127.0.0.1", 18092, 18092, 8080),
       binding(Proto::kUdp, nullptr, 18100, 18101, 9000),
       binding(Proto::kUdp, "::1", 1, 65535, 65535), binding(Proto::kTcp, "::", 443, 443, 1),
       binding(Proto::kTcp, "0.0.0.0", 80, 80, 80)},
  };
  for (const auto& set : sets) {
    const auto text = encode(set);
    EXPECT_EQ(decode(text), set) << text;
  }
}

TEST(PortmapBinding, DecodeRefusesEveryKindOfDamage) {
  const std::vector<std::string> bad = {
      // Structure: separators, field counts, stray whitespace.
      ";", "tcp * 80 80 8080;", ";tcp * 80 80 8080", "tcp * 80 80 8080;;udp * 81 81 81",
      "tcp * 80 80", "tcp * 80 80 8080 1", "tcp  * 80 80 8080", " tcp * 80 80 8080",
      "tcp * 80 80 8080 ", "tcp\t* 80 80 8080", "tcp * 80 80 8080\n", " ",
      std::string("tcp * 80 80 8080\0", 17),
      // Protocol.
      "sctp * 80 80 8080", "TCP * 80 80 8080", "6 * 80 80 8080", " * 80 80 8080",
      // Host address: not one, not canonical, bracketed, with a prefix.
      "tcp localhost 80 80 8080", "tcp 10.0.0 80 80 8080", "tcp [::1] 80 80 8080",
      "tcp 0:0::1 80 80 8080", "tcp FD00::1 80 80 8080", "tcp 10.0.0.1/32 80 80 8080",
      "tcp ** 80 80 8080",
      // Numbers: signs, leading zeros, out of range, not decimal, empty.
      "tcp * -80 80 8080", "tcp * +80 80 8080", "tcp * 080 80 8080", "tcp * 80 80 65536",
      "tcp * 80 80 99999999999", "tcp * 0x50 80 8080", "tcp * 80 80 8o80", "tcp * 80 80 00",
      // Well formed, but validate() refuses it: a database only holds validated bindings.
      "tcp * 0 0 8080", "tcp * 80 79 8080", "tcp * 80 80 0"};
  for (const auto& text : bad) {
    try {
      decode(text);
      ADD_FAILURE() << "decoded \"" << text << "\"";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("malformed published ports", 0), 0u) << e.what();
    }
  }
}

TEST(PortmapBinding, DecodeQuotesALongRowShortened) {
  const std::string row = "tcp * 80 80 " + std::string(5000, '9');
  try {
    decode(row);
    ADD_FAILURE() << "decoded a 5000-digit port";
  } catch (const InputError& e) {
    EXPECT_LT(std::string(e.what()).size(), 300u);
  }
}
