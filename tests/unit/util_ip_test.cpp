// Address and prefix parsing.
#include <gtest/gtest.h>

#include "util/ip.h"

using namespace wgnet;

TEST(IpAddress, ParsesBothFamilies) {
  auto a = IpAddress::parse("192.168.5.2");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->bytes().size(), 4u);
  EXPECT_EQ(a->str(), "192.168.5.2");
  auto b = IpAddress::parse("fd00::2");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->is_v6());
  EXPECT_EQ(b->bytes()[15], 2);
  EXPECT_EQ(b->str(), "fd00::2");
}

TEST(IpAddress, RejectsNonAddresses) {
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "host", "10.0.0.1/24", "::g", " 10.0.0.1"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  // inet_pton stops at a NUL: "10.0.0.5\0junk" used to parse as 10.0.0.5.
  EXPECT_FALSE(IpAddress::parse(std::string_view("10.0.0.5\0junk", 14)));
  EXPECT_FALSE(Cidr::parse(std::string_view("10.1.0.5\0junk/24", 17)));
}

TEST(Cidr, ParsesAndComputesNetwork) {
  auto c = Cidr::parse("10.0.42.7/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix(), 24);
  EXPECT_EQ(c->network().str(), "10.0.42.0");
  EXPECT_FALSE(c->is_network());
  EXPECT_TRUE(c->contains(*IpAddress::parse("10.0.42.200")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("10.0.43.1")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("fd00::1")));
  auto h = Cidr::parse("10.0.0.1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->prefix(), 32);
  auto v6 = Cidr::parse("fd00::1:2/112");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->network().str(), "fd00::1:0");
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->network().str(), "0.0.0.0");
}

TEST(Cidr, RejectsBadPrefixes) {
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "fd00::/129", "10.0.0.0/2x", "x/8",
        "10.0.0.0/-0", "10.0.0.0/024", "10.0.0.0/+8", "10.0.0.0/00", "fd00::/064"})
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
}

TEST(HostPort, SplitsAndValidates) {
  auto a = split_host_port("hub.example:51820");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "hub.example");
  EXPECT_EQ(a->port, 51820);
  EXPECT_FALSE(a->bracketed);
  auto b = split_host_port("[fd00::1]:1");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "fd00::1");
  EXPECT_TRUE(b->bracketed);
  for (const char* bad :
       {"host", "host:", ":1", "host:0", "host:65536", "fd00::1:5", "[fd00::1]", "h:1x"})
    EXPECT_FALSE(split_host_port(bad)) << bad;
}
