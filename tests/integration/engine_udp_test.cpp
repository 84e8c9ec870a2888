// engine/udp_linux against the real kernel: two namespaces joined by a veth (198.18.0.0/24 and
// 2001:2::/64, benchmarking ranges), UDP_SEGMENT sends split back by UDP_GRO receives, the sticky
// source address, and the fallbacks (no GSO/GRO, a vanished source, an unreachable peer).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "engine/linux/udp_linux.h"
#include "engine_io_test_util.h"
#include "netlink/rtnl.h"
#include "private_netns.h"

using namespace wgnet;
using namespace wgnet::engine;
using itest::Batch;
using itest::Netns;
namespace rtnl = wgnet::netlink::rtnl;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// A: 198.18.0.1, 2001:2::1 on "va"; B: .2 and .3, 2001:2::2 and ::3 on "vb".
struct Link {
  Netns a = Netns::create();
  Netns b = Netns::create();

  Link() {
    itest::veth_between(a, "va", b, "vb");
    a.run([&] {
      itest::disable_dad("va");
      rtnl::add_address("va", *Cidr::parse("198.18.0.1/24"));
      rtnl::add_address("va", *Cidr::parse("2001:2::1/64"));
      rtnl::set_up("va", true);
    });
    b.run([&] {
      itest::disable_dad("vb");
      for (const char* c : {"198.18.0.2/24", "198.18.0.3/24", "2001:2::2/64", "2001:2::3/64"})
        rtnl::add_address("vb", *Cidr::parse(c));
      rtnl::set_up("vb", true);
      itest::wait_address_usable(ip("2001:2::3"));
    });
    a.run([&] {
      itest::wait_address_usable(ip("2001:2::1"));
      // Only our own veth: nothing can leave the machine.
      auto links = rtnl::list_links();
      ASSERT_EQ(links.size(), 2u);
      EXPECT_TRUE(std::any_of(links.begin(), links.end(), [](auto& l) { return l.name == "va"; }));
    });
  }
};

class EngineUdp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    ASSERT_NO_FATAL_FAILURE(itest::enter_private_netns());
  }
};

struct Received {
  std::vector<uint8_t> bytes;
  NetEndpoint from;
};

// Receives until `count` datagrams came or nothing more arrives for a second.
std::vector<Received> receive(UdpBindLinux& bind, size_t count, size_t slots = 128) {
  std::vector<Received> out;
  Batch batch(slots);
  std::vector<NetEndpoint> from(slots);
  while (out.size() < count) {
    pollfd p[2] = {{bind.fd4(), POLLIN, 0}, {bind.fd6(), POLLIN, 0}};
    if (::poll(p, bind.fd6() >= 0 ? 2 : 1, 1000) <= 0) break;
    size_t n = bind.receive(batch.reset(), from);
    for (size_t i = 0; i < n; i++) out.push_back({itest::bytes_of(batch[i]), from[i]});
  }
  return out;
}

// Datagram i: its index in the first 4 bytes, then a pattern; `size` bytes.
std::vector<uint8_t> datagram(uint32_t i, size_t size) {
  std::vector<uint8_t> d(size);
  for (size_t k = 0; k < size; k++) d[k] = static_cast<uint8_t>(i * 7 + k);
  for (size_t k = 0; k < 4 && k < size; k++) d[k] = static_cast<uint8_t>(i >> (8 * k));
  return d;
}

// Sends datagrams of the given sizes from `tx` to `to` in one call; checks they all arrive at
// `rx`, in order, from `tx`'s address and at `to`'s address.
void round_trip(UdpBindLinux& tx, UdpBindLinux& rx, const std::vector<size_t>& sizes,
                const IpAddress& from_addr, const IpAddress& to_addr, size_t slots = 128) {
  Batch batch(sizes.size());
  for (size_t i = 0; i < sizes.size(); i++)
    batch.set(i, datagram(static_cast<uint32_t>(i), sizes[i]));
  NetEndpoint to{wg::Endpoint{to_addr, rx.port()}, std::nullopt, 0};
  tx.send(batch.packets(), to);
  auto got = receive(rx, sizes.size(), slots);
  ASSERT_EQ(got.size(), sizes.size());
  for (size_t i = 0; i < got.size(); i++) {
    ASSERT_EQ(got[i].bytes, datagram(static_cast<uint32_t>(i), sizes[i])) << "datagram " << i;
    EXPECT_EQ(got[i].from.remote, (wg::Endpoint{from_addr, tx.port()}));
    ASSERT_TRUE(got[i].from.local);
    EXPECT_EQ(*got[i].from.local, to_addr);
    EXPECT_GT(got[i].from.local_ifindex, 0);
  }
}

std::vector<size_t> sizes_gso_friendly() {
  // 64 equal, one shorter (ends the run), then another run.
  std::vector<size_t> s(64, 1000);
  s.push_back(500);
  for (int i = 0; i < 10; i++) s.push_back(1200);
  return s;
}

}  // namespace

class EngineUdpFamily : public EngineUdp, public ::testing::WithParamInterface<bool> {};

TEST_P(EngineUdpFamily, SegmentedSendsComeBackAsSingleDatagrams) {
  bool v6 = GetParam();
  Link link;
  auto a = link.a.run([] { return UdpBindLinux::open(0); });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  EXPECT_NE(a->port(), 0);
  EXPECT_TRUE(a->features().ipv6);
  std::printf("UDP features: gso=%d gro=%d ipv6=%d\n", a->features().gso, a->features().gro,
              a->features().ipv6);
  round_trip(*a, *b, sizes_gso_friendly(), ip(v6 ? "2001:2::1" : "198.18.0.1"),
             ip(v6 ? "2001:2::2" : "198.18.0.2"));
  auto sa = a->stats(), sb = b->stats();
  EXPECT_EQ(sa.tx_datagrams, 75u);
  EXPECT_EQ(sa.tx_dropped, 0u);
  if (a->features().gso) {
    EXPECT_EQ(sa.tx_gso_batches, 2u);  // 64 + 1, then 10
    EXPECT_EQ(sa.tx_syscalls, 1u);
  }
  if (b->features().gro) {
    EXPECT_GE(sb.rx_coalesced, 1u) << "no super-datagram arrived";
    EXPECT_LT(sb.rx_syscalls, 75u);
  }
  EXPECT_EQ(sb.rx_datagrams, 75u);
  EXPECT_EQ(sb.rx_dropped, 0u);
}

// What SCM_RIGHTS delivers: another descriptor of the same socket.
static Fd dup_fd(int fd) { return fd < 0 ? Fd() : Fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

// wgnetd opens (with the mark it wants), the engine adopts copies and carries the traffic.
TEST_P(EngineUdpFamily, AdoptedSocketsCarryWhatOpenedOnesDo) {
  bool v6 = GetParam();
  Link link;
  UdpOptions owner_options;
  owner_options.mark = 7;
  auto owner = link.a.run([&] { return UdpBindLinux::open(0, owner_options); });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  UdpOptions adopted_options;
  adopted_options.mark_by_owner = true;
  // In no namespace of its own, as a sandboxed engine: the sockets stay where they were opened.
  auto a = UdpBindLinux::adopt(dup_fd(owner->fd4()), dup_fd(owner->fd6()), owner->port(),
                               owner->features(), adopted_options);
  EXPECT_EQ(a->port(), owner->port());
  EXPECT_EQ(a->features().gso, owner->features().gso);
  EXPECT_EQ(a->features().gro, owner->features().gro);
  EXPECT_TRUE(a->features().ipv6);
  const IpAddress at_a = ip(v6 ? "2001:2::1" : "198.18.0.1");
  const IpAddress at_b = ip(v6 ? "2001:2::2" : "198.18.0.2");
  round_trip(*a, *b, sizes_gso_friendly(), at_a, at_b);
  // And back (from whichever of B's addresses its kernel picks), at the address they came to.
  Batch batch(3);
  for (uint32_t i = 0; i < 3; i++) batch.set(i, datagram(i, 100));
  b->send(batch.packets(), NetEndpoint{wg::Endpoint{at_a, a->port()}, std::nullopt, 0});
  auto got = receive(*a, 3);
  ASSERT_EQ(got.size(), 3u);
  for (uint32_t i = 0; i < 3; i++) {
    EXPECT_EQ(got[i].bytes, datagram(i, 100));
    EXPECT_EQ(got[i].from.remote.port, b->port());
    EXPECT_EQ(got[i].from.local, at_a);
  }
  // The mark stays the owner's: recorded, never set (the engine may not).
  a->set_mark(9);
  EXPECT_EQ(a->mark(), 9u);
  int mark = 0;
  socklen_t len = sizeof mark;
  ASSERT_EQ(::getsockopt(a->fd4(), SOL_SOCKET, SO_MARK, &mark, &len), 0);
  EXPECT_EQ(mark, 7);
}

TEST_P(EngineUdpFamily, RepliesLeaveFromTheAddressTheDatagramArrivedOn) {
  bool v6 = GetParam();
  Link link;
  auto a = link.a.run([] { return UdpBindLinux::open(0); });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  for (const char* dst : {v6 ? "2001:2::3" : "198.18.0.3", v6 ? "2001:2::2" : "198.18.0.2"}) {
    SCOPED_TRACE(dst);
    Batch one(1);
    one.set(0, datagram(1, 100));
    a->send(one.packets(), NetEndpoint{wg::Endpoint{ip(dst), b->port()}, std::nullopt, 0});
    auto got = receive(*b, 1);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(got[0].from.local);
    EXPECT_EQ(*got[0].from.local, ip(dst));
    // The reply goes to whoever sent, from where it arrived.
    one.set(0, datagram(2, 100));
    b->send(one.packets(), got[0].from);
    auto back = receive(*a, 1);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].from.remote, (wg::Endpoint{ip(dst), b->port()}));
  }
  EXPECT_EQ(b->stats().tx_source_retries, 0u);
}

TEST_P(EngineUdpFamily, SourceAddressThatIsGoneIsDroppedAndRetried) {
  bool v6 = GetParam();
  Link link;
  auto a = link.a.run([] { return UdpBindLinux::open(0); });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  Batch batch(3);
  for (uint32_t i = 0; i < 3; i++) batch.set(i, datagram(i, 800));
  NetEndpoint to{wg::Endpoint{ip(v6 ? "2001:2::1" : "198.18.0.1"), a->port()},
                 ip(v6 ? "2001:2::99" : "198.18.0.99"), 0};
  b->send(batch.packets(), to);
  auto got = receive(*a, 3);
  ASSERT_EQ(got.size(), 3u);
  // Routing chose the source: one of B's real addresses.
  EXPECT_NE(got[0].from.remote.address, *to.local);
  EXPECT_EQ(b->stats().tx_source_retries, 1u);
  EXPECT_EQ(b->stats().tx_dropped, 0u);
}

INSTANTIATE_TEST_SUITE_P(Families, EngineUdpFamily, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ipv6" : "ipv4"; });

TEST_F(EngineUdp, WithoutGsoAndGroEverythingStillArrives) {
  Link link;
  UdpOptions plain;
  plain.gso = false;
  plain.gro = false;
  auto a = link.a.run([&] { return UdpBindLinux::open(0, plain); });
  auto b = link.b.run([&] { return UdpBindLinux::open(0, plain); });
  EXPECT_FALSE(a->features().gso);
  EXPECT_FALSE(b->features().gro);
  round_trip(*a, *b, sizes_gso_friendly(), ip("198.18.0.1"), ip("198.18.0.2"));
  EXPECT_EQ(a->stats().tx_gso_batches, 0u);
  EXPECT_EQ(a->stats().tx_syscalls, 1u) << "one sendmmsg for the batch";
  EXPECT_EQ(b->stats().rx_coalesced, 0u);
}

TEST_F(EngineUdp, DeviceWithoutChecksumOffloadStillDelivers) {
  Link link;
  auto a = link.a.run([] {
    // Older kernels refuse UDP_SEGMENT with EIO without TX checksumming (newer ones checksum in
    // software): either way every datagram must arrive, GSO turned off after an EIO.
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ethtool_value v{ETHTOOL_STXCSUM, 0};
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "va");
    ifr.ifr_data = reinterpret_cast<char*>(&v);
    if (::ioctl(s.get(), SIOCETHTOOL, &ifr) != 0)
      throw SystemError(std::string("ETHTOOL_STXCSUM: ") + std::strerror(errno));
    return UdpBindLinux::open(0);
  });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  if (!a->features().gso) GTEST_SKIP() << "no UDP_SEGMENT here";
  round_trip(*a, *b, sizes_gso_friendly(), ip("198.18.0.1"), ip("198.18.0.2"));
  std::printf("UDP GSO without TX checksum offload: %s\n",
              a->features().gso ? "accepted" : "refused (EIO), turned off");
  if (!a->features().gso) {
    EXPECT_EQ(a->stats().tx_gso_batches, 0u);
  }
  EXPECT_EQ(a->stats().tx_dropped, 0u);
}

TEST_F(EngineUdp, RunsEndAtALargerOrShorterDatagram) {
  Link link;
  auto a = link.a.run([] { return UdpBindLinux::open(0); });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  if (!a->features().gso) GTEST_SKIP() << "no UDP_SEGMENT here";
  // {1000 1000} {1200 1000} {500 500} {1000}: a larger datagram starts a run, a shorter ends one.
  round_trip(*a, *b, {1000, 1000, 1200, 1000, 500, 500, 1000}, ip("198.18.0.1"), ip("198.18.0.2"));
  EXPECT_EQ(a->stats().tx_gso_batches, 3u);
  EXPECT_EQ(a->stats().tx_datagrams, 7u);
}

TEST_F(EngineUdp, BatchesLargerThanOneSyscall) {
  Link link;
  auto a = link.a.run([] { return UdpBindLinux::open(0); });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  // Every size differs: 300 messages, more than one sendmmsg takes.
  std::vector<size_t> sizes;
  for (size_t i = 0; i < 300; i++) sizes.push_back(100 + (i * 37) % 1300 + (i % 2));
  round_trip(*a, *b, sizes, ip("198.18.0.1"), ip("198.18.0.2"));
  EXPECT_GE(a->stats().tx_syscalls, 3u);
  // Long runs, received with just enough room for one super-datagram per call.
  std::vector<size_t> equal(640, 1400);
  round_trip(*a, *b, equal, ip("198.18.0.1"), ip("198.18.0.2"), 64);
  EXPECT_EQ(b->stats().rx_dropped, 0u);
}

// Both sockets have datagrams waiting when one receive() reads them: the second socket's reads
// must not land in the buffers the first socket's datagrams (views of its messages) still use.
// With GRO (several super-datagrams); without it in a batch larger than one recvmmsg (the second
// socket reads before the first's slots) and in one where it reads after them (its datagrams are
// moved down). Each family is read first once: receive() alternates on every call.
TEST_F(EngineUdp, BothFamiliesInOneReceiveKeepTheirOwnBytes) {
  struct Case {
    bool gro;
    size_t slots, per_send;
  };
  for (const Case& c : {Case{true, 128, 20}, Case{false, 256, 40}, Case{false, 200, 40}}) {
    SCOPED_TRACE((c.gro ? "gro, " : "no gro, ") + std::to_string(c.slots) + " slots");
    Link link;
    UdpOptions o;
    o.gro = c.gro;
    auto a = link.a.run([] { return UdpBindLinux::open(0); });
    auto b = link.b.run([&] { return UdpBindLinux::open(0, o); });
    if (c.gro) {
      ASSERT_TRUE(b->features().gro);
    }
    Batch batch(c.slots);
    std::vector<NetEndpoint> from(c.slots);
    size_t calls = 0;
    for (int round = 0; round < 2; round++) {
      SCOPED_TRACE("round " + std::to_string(round));
      // IPv4 first on even calls: round 0 starts with IPv4, round 1 with IPv6.
      if (calls % 2 != static_cast<size_t>(round)) {
        EXPECT_EQ(b->receive(batch.reset(), from), 0u);
        calls++;
      }
      // Datagram i of family f carries 1000 * f + i; each send is one super-datagram with GRO.
      std::map<uint32_t, size_t> sent;  // tag -> size
      for (int f = 0; f < 2; f++)
        for (size_t send = 0; send < 3; send++) {
          const size_t size = f ? 700 : 1000 + 100 * send;
          Batch out(c.per_send);
          for (size_t i = 0; i < c.per_send; i++) {
            const auto tag = static_cast<uint32_t>(1000 * f + send * c.per_send + i);
            out.set(i, datagram(tag, size));
            sent[tag] = size;
          }
          a->send(out.packets(),
                  NetEndpoint{wg::Endpoint{ip(f ? "2001:2::2" : "198.18.0.2"), b->port()},
                              std::nullopt, 0});
        }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // all of it queued
      std::set<bool> families_in_first_call;
      std::set<uint32_t> seen;
      for (int call = 0; !sent.empty() && call < 50; call++) {
        const size_t n = b->receive(batch.reset(), from);
        calls++;
        if (n == 0) break;
        for (size_t i = 0; i < n; i++) {
          auto bytes = itest::bytes_of(batch[i]);
          ASSERT_GE(bytes.size(), 4u);
          const uint32_t tag = uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 |
                               uint32_t{bytes[2]} << 16 | uint32_t{bytes[3]} << 24;
          ASSERT_TRUE(sent.count(tag)) << "datagram " << i << " of call " << call;
          EXPECT_EQ(bytes, datagram(tag, sent[tag])) << "tag " << tag;
          // The bytes belong to the family the datagram arrived from.
          EXPECT_EQ(from[i].remote.address.is_v4(), tag < 1000) << "tag " << tag;
          if (call == 0) families_in_first_call.insert(tag < 1000);
          if (call == 0 && i == 0) {
            EXPECT_EQ(tag < 1000, round == 0) << "read first";
          }
          EXPECT_TRUE(seen.insert(tag).second) << "tag " << tag << " twice";
          sent.erase(tag);
        }
      }
      EXPECT_TRUE(sent.empty()) << sent.size() << " datagrams never came";
      EXPECT_EQ(families_in_first_call.size(), 2u) << "one receive() did not read both sockets";
    }
    EXPECT_EQ(b->stats().rx_dropped, 0u);
    if (c.gro) {
      EXPECT_GE(b->stats().rx_coalesced, 1u);
    }
  }
}

TEST_F(EngineUdp, PortsMarksAndFamilies) {
  Link link;
  link.a.run([] {
    auto a = UdpBindLinux::open(0);
    ASSERT_GE(a->fd4(), 0);
    ASSERT_GE(a->fd6(), 0);
    // Both sockets share the port, and it is taken now.
    EXPECT_THROW(UdpBindLinux::open(a->port()), SystemError);
    auto fixed = UdpBindLinux::open(static_cast<uint16_t>(a->port() == 51820 ? 51821 : 51820));
    EXPECT_NE(fixed->port(), a->port());
    a->set_mark(42);
    int mark = 0;
    socklen_t len = sizeof mark;
    ASSERT_EQ(::getsockopt(a->fd6(), SOL_SOCKET, SO_MARK, &mark, &len), 0);
    EXPECT_EQ(mark, 42);
    UdpOptions v4only;
    v4only.ipv6 = false;
    auto b = UdpBindLinux::open(0, v4only);
    EXPECT_EQ(b->fd6(), -1);
    EXPECT_FALSE(b->features().ipv6);
    // No IPv6 socket: an IPv6 destination is counted, not thrown.
    Batch one(1);
    one.set(0, datagram(0, 10));
    b->send(one.packets(), NetEndpoint{wg::Endpoint{ip("2001:2::2"), 9}, std::nullopt, 0});
    EXPECT_EQ(b->stats().tx_dropped, 1u);
  });
}

TEST_F(EngineUdp, AdoptRefusesWhatOpenWouldNotHaveMade) {
  Link link;
  link.a.run([] {
    auto owner = UdpBindLinux::open(0);
    const uint16_t port = owner->port();
    const auto features = owner->features();
    auto adopt = [&](Fd fd4, Fd fd6, uint16_t p, UdpFeatures f) {
      return UdpBindLinux::adopt(std::move(fd4), std::move(fd6), p, f);
    };
    EXPECT_THROW(adopt(dup_fd(owner->fd4()), dup_fd(owner->fd6()), 0, features), SystemError);
    EXPECT_THROW(adopt(dup_fd(owner->fd4()), dup_fd(owner->fd6()), port + 1, features),
                 SystemError)
        << "another port than the sockets'";
    UdpFeatures v4only = features;
    v4only.ipv6 = false;
    EXPECT_THROW(adopt(dup_fd(owner->fd4()), dup_fd(owner->fd6()), port, v4only), SystemError)
        << "an IPv6 socket the features do not mention";
    EXPECT_NO_THROW(adopt(dup_fd(owner->fd4()), Fd(), port, v4only));
    EXPECT_THROW(adopt(dup_fd(owner->fd6()), Fd(), port, v4only), SystemError)
        << "the families swapped";
    EXPECT_THROW(adopt(dup_fd(owner->fd4()), dup_fd(owner->fd4()), port, features), SystemError);
    // A UDP socket on the port but not set up as open() does (no pktinfo, blocking).
    Fd plain(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ASSERT_EQ(::bind(plain.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    ASSERT_EQ(::getsockname(plain.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
    EXPECT_THROW(adopt(std::move(plain), Fd(), ntohs(sa.sin_port), v4only), SystemError);
    Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    EXPECT_THROW(adopt(std::move(tcp), Fd(), port, v4only), SystemError);
  });
}

TEST_F(EngineUdp, UnreachableDestinationsAreCounted) {
  Link link;
  auto a = link.a.run([] { return UdpBindLinux::open(0); });
  Batch batch(4);
  for (uint32_t i = 0; i < 4; i++) batch.set(i, datagram(i, 1000));
  // No route to 198.18.1.0/24 in A.
  a->send(batch.packets(), NetEndpoint{wg::Endpoint{ip("198.18.1.99"), 9}, std::nullopt, 0});
  EXPECT_EQ(a->stats().tx_dropped, 4u);
  EXPECT_EQ(a->stats().tx_datagrams, 0u);
}

TEST_F(EngineUdp, SendAndReceiveFromSeveralThreadsAtOnce) {
  Link link;
  auto a = link.a.run([] { return UdpBindLinux::open(0); });
  auto b = link.b.run([] { return UdpBindLinux::open(0); });
  constexpr size_t kThreads = 3, kBatches = 200, kPerBatch = 10;
  std::atomic<size_t> received{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> receivers;
  for (int r = 0; r < 2; r++)
    receivers.emplace_back([&] {
      Batch batch(128);
      std::vector<NetEndpoint> from(128);
      while (!done || received < kThreads * kBatches * kPerBatch) {
        pollfd p{b->fd4(), POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0 && done) break;
        received += b->receive(batch.reset(), from);
      }
    });
  std::vector<std::thread> senders;
  for (size_t t = 0; t < kThreads; t++)
    senders.emplace_back([&, t] {
      Batch batch(kPerBatch);
      NetEndpoint to{wg::Endpoint{ip("198.18.0.2"), b->port()}, ip("198.18.0.1"), 0};
      for (size_t k = 0; k < kBatches; k++) {
        for (size_t i = 0; i < kPerBatch; i++)
          batch.set(i, datagram(static_cast<uint32_t>(t * 100000 + k * kPerBatch + i), 600));
        a->send(batch.packets(), to);
      }
    });
  for (auto& t : senders) t.join();
  done = true;
  for (auto& t : receivers) t.join();
  EXPECT_EQ(received, kThreads * kBatches * kPerBatch);
  EXPECT_EQ(a->stats().tx_datagrams, kThreads * kBatches * kPerBatch);
  EXPECT_EQ(b->stats().rx_datagrams, kThreads * kBatches * kPerBatch);
}

TEST_F(EngineUdp, FactoryOpensInTheCallersNamespace) {
  Link link;
  UdpBindFactory factory;
  auto a = link.a.run([&] { return factory.open(0); });
  auto b = link.b.run([&] { return UdpBindLinux::open(0); });
  Batch one(1);
  one.set(0, datagram(5, 300));
  a->send(one.packets(), NetEndpoint{wg::Endpoint{ip("198.18.0.2"), b->port()}, std::nullopt, 0});
  auto got = receive(*b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from.remote, (wg::Endpoint{ip("198.18.0.1"), a->port()}));
}
