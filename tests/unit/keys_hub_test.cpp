// Address enumeration and hub config formatting.
#include <gtest/gtest.h>

#include <sstream>

#include "crypto/encoding.h"
#include "keys/hub.h"
#include "util/error.h"

using namespace wgnet;

namespace {
keys::AddressRange range(const char* subnet) {
  keys::AddressRange r;
  r.subnet = *Cidr::parse(subnet);
  return r;
}
keys::Deriver article() {
  return keys::Deriver(keys::Kdf::kSha3, crypto::secret_from_base64("dGVzdHNlZWQK", "s"),
                       *crypto::base64_decode("dGVzdGFkZGl0aW9uYWwK"));
}
}  // namespace

TEST(Enumerate, SkipsNetworkBroadcastAndHub) {
  auto r = range("10.0.42.0/24");
  r.skip.push_back(*IpAddress::parse("10.0.42.254"));
  auto a = keys::enumerate_addresses(r);
  ASSERT_EQ(a.size(), 253u);
  EXPECT_EQ(a.front().str(), "10.0.42.1");
  EXPECT_EQ(a.back().str(), "10.0.42.253");
}

TEST(Enumerate, Slash16Has65534) {
  EXPECT_EQ(keys::enumerate_addresses(range("10.1.0.0/16")).size(), 65534u);
}

TEST(Enumerate, ArticleSlash30) {
  auto r = range("192.168.5.0/30");
  r.skip.push_back(*IpAddress::parse("192.168.5.1"));
  auto a = keys::enumerate_addresses(r);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].str(), "192.168.5.2");
}

TEST(Enumerate, RangeInsideSubnet) {
  auto r = range("10.0.42.0/24");
  std::tie(r.first, r.last) = keys::parse_range("10.0.42.10-10.0.42.19", "--range");
  EXPECT_EQ(keys::enumerate_addresses(r).size(), 10u);
  std::tie(r.first, r.last) = keys::parse_range("10.0.42.10-10.0.43.1", "--range");
  EXPECT_THROW(keys::enumerate_addresses(r), InputError);
  EXPECT_THROW(keys::parse_range("10.0.42.10", "--range"), InputError);
  EXPECT_THROW(keys::parse_range("10.0.42.10-10.0.42.1", "--range"), InputError);
}

TEST(Enumerate, Ipv6SkipsOnlyTheNetworkAddress) {
  auto a = keys::enumerate_addresses(range("fd00::/126"));
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].str(), "fd00::1");
  EXPECT_EQ(a[2].str(), "fd00::3");
}

TEST(Enumerate, RefusesHugeSubnets) {
  EXPECT_THROW(keys::enumerate_addresses(range("10.0.0.0/11")), InputError);
  EXPECT_NO_THROW(keys::enumerate_addresses(range("10.0.0.0/12")));
  EXPECT_THROW(keys::enumerate_addresses(range("fd00::/64")), InputError);
}

// Docker allocates IPv6 networks as /64s (27+: a ULA /64 for `--ipv6` without a subnet): a range
// inside one is what a hub lists, within the same 2^20 bound.
TEST(Enumerate, RangeInsideAHugeSubnet) {
  auto r = range("fd00:28::/64");
  std::tie(r.first, r.last) = keys::parse_range("fd00:28::1-fd00:28::a", "--range");
  auto a = keys::enumerate_addresses(r);
  ASSERT_EQ(a.size(), 10u);
  EXPECT_EQ(a[9].str(), "fd00:28::a");
  std::tie(r.first, r.last) = keys::parse_range("fd00:28::1-fd00:28::10:0", "--range");
  EXPECT_EQ(keys::enumerate_addresses(r).size(), 1u << 20);
  std::tie(r.first, r.last) = keys::parse_range("fd00:28::1-fd00:28::10:1", "--range");
  EXPECT_THROW(keys::enumerate_addresses(r), InputError);
  auto all = range("::/0");
  std::tie(all.first, all.last) = keys::parse_range("::1-::2", "--range");
  EXPECT_EQ(keys::enumerate_addresses(all).size(), 2u);
}

TEST(HubConfig, ArticleWgQuick) {
  auto r = range("192.168.5.0/30");
  r.skip.push_back(*IpAddress::parse("192.168.5.1"));
  keys::HubInterface iface;
  iface.address = *Cidr::parse("192.168.5.1/30");
  iface.listen_port = 10101;
  iface.private_key = crypto::key_from_base64("uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=", "k");
  std::ostringstream out;
  keys::write_hub_config(out, article(), keys::enumerate_addresses(r), false,
                         keys::HubFormat::kWgQuick, iface);
  EXPECT_EQ(out.str(),
            "[Interface]\nAddress = 192.168.5.1/30\nListenPort = 10101\n"
            "PrivateKey = uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=\n\n[Peer]\n"
            "PublicKey = +Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8=\n"
            "AllowedIPs = 192.168.5.2/32\n");
}

TEST(HubConfig, WgFormatHasNoAddress) {
  keys::HubInterface iface;
  iface.address = *Cidr::parse("192.168.5.1/30");
  iface.listen_port = 10101;
  std::ostringstream out;
  keys::write_hub_config(out, article(), {*IpAddress::parse("192.168.5.2")}, false,
                         keys::HubFormat::kWg, iface);
  EXPECT_EQ(out.str().find("Address ="), std::string::npos);
  EXPECT_NE(out.str().find("ListenPort = 10101"), std::string::npos);
}

TEST(HubConfig, JsonAndThreadCountDoNotChangeOutput) {
  auto addrs = keys::enumerate_addresses(range("10.9.0.0/22"));
  auto d = keys::Deriver(
      keys::Kdf::kHkdf,
      crypto::secret_from_base64("YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk=", "s"), {});
  std::ostringstream one, two;
  keys::write_hub_config(one, d, addrs, true, keys::HubFormat::kJson, {}, 1);
  keys::write_hub_config(two, d, addrs, true, keys::HubFormat::kJson, {}, 2);
  EXPECT_EQ(one.str(), two.str());
  EXPECT_EQ(one.str().substr(0, 2), "[\n");
  EXPECT_NE(one.str().find("\"preshared_key\""), std::string::npos);
  EXPECT_EQ(one.str().substr(one.str().size() - 4), "}\n]\n");
}

TEST(Enumerate, TopOfTheIpv6SpaceEnds) {
  // The last address of the space as the hub's own: the loop used to wrap to :: and run on.
  keys::AddressRange r;
  r.subnet = *Cidr::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120");
  r.skip.push_back(*IpAddress::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  auto a = keys::enumerate_addresses(r);
  EXPECT_EQ(a.size(), 254u);  // 256 minus the network address and the hub
  EXPECT_EQ(a.back().str(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
  r.subnet = *Cidr::parse("255.255.255.0/24");
  r.skip = {*IpAddress::parse("255.255.255.254")};
  EXPECT_EQ(keys::enumerate_addresses(r).size(), 253u);
}
