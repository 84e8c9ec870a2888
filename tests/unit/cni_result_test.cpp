// CNI results: each version's form (0.4.0 with "version" in ips, 1.1.0 with interface MTUs),
// round trips, and malformed results (an IPAM plugin's or a runtime's prevResult) refused naming
// the field.
#include <gtest/gtest.h>

#include "cni/error.h"
#include "cni/result.h"

namespace wgnet::cni {
namespace {

using nlohmann::json;

Result sample() {
  Result r;
  r.interfaces.push_back({"wg0", "", "/run/netns/cni-1", 1420});
  r.ips.push_back({*Cidr::parse("10.9.0.5/24"), IpAddress::parse("10.9.0.1"), 0});
  r.ips.push_back({*Cidr::parse("fd00:9::5/64"), std::nullopt, 0});
  r.routes.push_back({*Cidr::parse("0.0.0.0/0"), std::nullopt});
  r.dns.nameservers = {"10.9.0.1"};
  return r;
}

TEST(CniResult, EachVersionsForm) {
  const json v04 = encode_result(sample(), "0.4.0");
  EXPECT_EQ(v04["cniVersion"], "0.4.0");
  EXPECT_EQ(v04["ips"][0]["version"], "4");
  EXPECT_EQ(v04["ips"][1]["version"], "6");
  EXPECT_FALSE(v04["interfaces"][0].contains("mtu"));
  const json v10 = encode_result(sample(), "1.0.0");
  EXPECT_FALSE(v10["ips"][0].contains("version"));
  EXPECT_FALSE(v10["interfaces"][0].contains("mtu"));
  const json v11 = encode_result(sample(), "1.1.0");
  EXPECT_EQ(v11["interfaces"][0]["mtu"], 1420);
  EXPECT_EQ(v11["interfaces"][0]["sandbox"], "/run/netns/cni-1");
  EXPECT_FALSE(v11["interfaces"][0].contains("mac"));
  EXPECT_EQ(v11["ips"][0]["address"], "10.9.0.5/24");
  EXPECT_EQ(v11["ips"][0]["gateway"], "10.9.0.1");
  EXPECT_EQ(v11["ips"][0]["interface"], 0);
  EXPECT_EQ(v11["routes"][0]["dst"], "0.0.0.0/0");
  EXPECT_EQ(v11["dns"]["nameservers"][0], "10.9.0.1");
}

TEST(CniResult, RoundTripsInEveryVersion) {
  for (const char* v : {"0.4.0", "1.0.0", "1.1.0"}) {
    Result expected = sample();
    if (std::string(v) != "1.1.0") expected.interfaces[0].mtu.reset();
    EXPECT_EQ(decode_result(encode_result(sample(), v), v), expected) << v;
  }
}

TEST(CniResult, HostLocalsAbbreviatedResultDecodes) {
  // What host-local prints: no interfaces, no interface index.
  const json ipam = json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":"198.18.7.2/24",
      "gateway":"198.18.7.1"}],"dns":{}})");
  const Result r = decode_result(ipam, "1.0.0");
  ASSERT_EQ(r.ips.size(), 1u);
  EXPECT_EQ(r.ips[0].address.str(), "198.18.7.2/24");
  EXPECT_FALSE(r.ips[0].interface);
}

TEST(CniResult, MalformedResultsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {R"([])", "result"},
      {R"({"ips":[{"address":"10.0.0.300/24"}]})", "ips[0].address"},
      {R"({"ips":[{"address":"10.0.0.3"}]})", "ips[0].address"},
      {R"({"ips":[{"address":"10.0.0.3/24","gateway":"x"}]})", "ips[0].gateway"},
      {R"({"ips":[{"address":"10.0.0.3/24","interface":-1}]})", "ips[0].interface"},
      {R"({"interfaces":[{"name":"a"}],"ips":[{"address":"10.0.0.3/24","interface":1}]})",
       "ips[0].interface"},
      {R"({"ips":[{"address":"10.0.0.3/24","version":"6"}]})", "ips[0].version"},
      {R"({"interfaces":[{"mac":"x"}]})", "interfaces[0].name"},
      {R"({"routes":[{"dst":"nope"}]})", "routes[0].dst"},
      {R"({"dns":{"nameservers":[1]}})", "dns.nameservers"},
      {R"({"ips":{}})", "result.ips"}};
  for (const auto& [text, field] : bad) {
    try {
      decode_result(json::parse(text), "0.4.0");
      ADD_FAILURE() << text << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), kDecodeFailure);
      EXPECT_NE(e.details().find(field), std::string::npos) << text << ": " << e.details();
    }
  }
  json many = json::object();
  many["ips"] = json::array();
  for (int i = 0; i < 65; i++) many["ips"].push_back({{"address", "10.0.0.1/24"}});
  EXPECT_THROW(decode_result(many, "1.0.0"), Error);
}

}  // namespace
}  // namespace wgnet::cni
