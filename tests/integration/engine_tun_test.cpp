// engine/tun_linux against the real kernel: ping answered through a TUN, TCP and UDP flows relayed
// between two TUNs (TSO/USO super-packets split on read, coalesced on write), moves between
// namespaces, persistent devices re-attached by name, found by alias, and devices that vanish.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/linux/offload.h"
#include "engine/linux/tun_linux.h"
#include "engine_io_relay.h"
#include "engine_io_test_util.h"
#include "netlink/rtnl.h"
#include "private_netns.h"

using namespace wgnet;
using namespace wgnet::engine;
using itest::address_up;
using itest::Batch;
using itest::ip;
using itest::Netns;
using itest::Relay;
using itest::TunPair;
namespace rtnl = wgnet::netlink::rtnl;

namespace {

class EngineTun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    ASSERT_NO_FATAL_FAILURE(itest::enter_private_netns());
  }
};

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// The echo reply to an ICMP(v6) echo request for `dst`, or nothing for any other packet.
std::optional<std::vector<uint8_t>> echo_reply(std::vector<uint8_t> b, const IpAddress& dst) {
  using namespace offload;
  if (b.size() >= 28 && (b[0] >> 4) == 4 && b[9] == 1 && dst.is_v4() &&
      std::equal(b.begin() + 16, b.begin() + 20, dst.bytes().begin())) {
    size_t ihl = size_t{b[0] & 15u} * 4;
    if (b.size() < ihl + 8 || b[ihl] != 8) return std::nullopt;
    std::swap_ranges(b.begin() + 12, b.begin() + 16, b.begin() + 16);
    b[ihl] = 0;
    put_be16(&b[ihl + 2], 0);
    put_be16(&b[ihl + 2], checksum({&b[ihl], b.size() - ihl}));
    put_be16(&b[10], 0);
    put_be16(&b[10], checksum({b.data(), ihl}));
    return b;
  }
  if (b.size() >= 48 && (b[0] >> 4) == 6 && b[6] == 58 && dst.is_v6() &&
      std::equal(b.begin() + 24, b.begin() + 40, dst.bytes().begin())) {
    if (b[40] != 128) return std::nullopt;
    std::swap_ranges(b.begin() + 8, b.begin() + 24, b.begin() + 24);
    b[40] = 129;
    put_be16(&b[42], 0);
    uint64_t ph =
        pseudo_header_sum({&b[8], 16}, {&b[24], 16}, 58, static_cast<uint32_t>(b.size() - 40));
    put_be16(&b[42], checksum({&b[40], b.size() - 40}, ph));
    return b;
  }
  return std::nullopt;
}

// Pings `dst` from the current namespace's stack (a raw socket) and answers from the TUN side:
// the request is read off `tun`, the reply written back into it.
void ping_through(TunLinux& tun, const IpAddress& dst, uint16_t seq = 1) {
  bool v4 = dst.is_v4();
  int proto = v4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6};
  Fd s(::socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, proto));
  ASSERT_TRUE(s) << std::strerror(errno);
  std::vector<uint8_t> echo(8 + 56);
  echo[0] = v4 ? 8 : 128;
  put_be16(&echo[4], 0x4242);
  put_be16(&echo[6], seq);
  for (size_t i = 8; i < echo.size(); i++) echo[i] = static_cast<uint8_t>(i);
  if (v4) put_be16(&echo[2], offload::checksum(echo));  // the kernel does it for ICMPv6
  sockaddr_storage sa{};
  socklen_t len;
  if (v4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&sa);
    a->sin_family = AF_INET;
    std::memcpy(&a->sin_addr, dst.bytes().data(), 4);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_addr, dst.bytes().data(), 16);
    len = sizeof *a;
  }
  ASSERT_EQ(::sendto(s.get(), echo.data(), echo.size(), 0, reinterpret_cast<sockaddr*>(&sa), len),
            static_cast<ssize_t>(echo.size()))
      << std::strerror(errno);

  Batch batch(8);
  bool answered = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!answered && std::chrono::steady_clock::now() < deadline) {
    itest::wait_readable(tun.fd(), 100);
    auto packets = batch.reset();
    size_t n = tun.read(packets);
    for (size_t i = 0; i < n && !answered; i++) {
      auto reply = echo_reply(itest::bytes_of(packets[i]), dst);
      if (!reply) continue;
      batch.set(0, *reply);
      tun.write(batch.packets().subspan(0, 1));
      answered = true;
    }
  }
  ASSERT_TRUE(answered) << "no echo request for " << dst.str() << " came out of the TUN";

  while (true) {
    ASSERT_TRUE(itest::wait_readable(s.get(), 3000)) << "no echo reply from " << dst.str();
    uint8_t buf[2048];
    ssize_t r = ::recv(s.get(), buf, sizeof buf, 0);
    ASSERT_GT(r, 0);
    size_t at = v4 ? size_t{buf[0] & 15u} * 4 : 0;  // IPv4 raw sockets include the IP header
    if (static_cast<size_t>(r) < at + 8) continue;
    if (buf[at] == (v4 ? 0 : 129) && be16(&buf[at + 4]) == 0x4242 && be16(&buf[at + 6]) == seq)
      break;
  }
}

// Moves packets both ways between two TUNs, as the engine would around its crypto.
// Streams `total` bytes from A to B over TCP through a relay; returns what B received.
size_t transfer(TunPair& pair, bool v6, size_t total, int client_mss = 0) {
  auto r = itest::tcp_transfer(pair, v6, total, client_mss);
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.intact) << "the stream arrived damaged";
  return r.received;
}

}  // namespace

TEST_F(EngineTun, CreatesWithOffloadsNameAliasAndQueueLength) {
  TunOptions o;
  o.name = "wgt0";
  o.mtu = 1420;
  o.alias = "wgnet:test/create";
  auto tun = TunLinux::create(o);
  EXPECT_EQ(tun->name(), "wgt0");
  EXPECT_EQ(tun->mtu(), 1420u);
  EXPECT_TRUE(tun->features().vnet_hdr);
  EXPECT_TRUE(tun->features().tso);
  std::printf("TUN features: vnet_hdr=%d tso=%d uso=%d\n", tun->features().vnet_hdr,
              tun->features().tso, tun->features().uso);
  auto link = rtnl::find_link("wgt0");
  ASSERT_TRUE(link);
  EXPECT_EQ(link->kind, "tun");
  EXPECT_EQ(link->alias, "wgnet:test/create");
  EXPECT_EQ(link->txqueuelen, 1000u);
  EXPECT_EQ(link->mtu, 1420u);
  EXPECT_EQ(rtnl::find_link_by_alias("wgnet:test/create")->name, "wgt0");
  EXPECT_FALSE(rtnl::find_link_by_alias("wgnet:test/other"));
  // The name is taken: creating again fails rather than attaching to it.
  EXPECT_THROW(TunLinux::create(o), SystemError);
  rtnl::set_alias("wgt0", "");
  EXPECT_EQ(rtnl::find_link("wgt0")->alias, "");
  // Nothing waiting: read returns 0 at once.
  Batch batch(4);
  EXPECT_EQ(tun->read(batch.reset()), 0u);
  tun.reset();
  EXPECT_FALSE(rtnl::find_link("wgt0")) << "a non-persistent TUN goes with its descriptor";
}

// wgnetd creates and sets up, the engine adopts the descriptor (the plan's hand-over, in one
// process): the device is the same, and carries the same traffic.
TEST_F(EngineTun, ReleasedDescriptorIsAdoptedAndCarriesOn) {
  for (bool offloads : {true, false}) {
    SCOPED_TRACE(offloads ? "offloads" : "plain");
    TunOptions o;
    o.name = "wgt9";
    o.mtu = 1380;
    o.offloads = offloads;
    auto created = TunLinux::create(o);
    const TunFeatures features = created->features();
    TunHandoff h = TunLinux::release(std::move(created));
    ASSERT_TRUE(h.fd);
    EXPECT_EQ(h.mtu, 1380u);
    EXPECT_EQ(h.features.vnet_hdr, offloads);
    ASSERT_TRUE(rtnl::find_link("wgt9")) << "released, not closed";

    auto tun = TunLinux::adopt(std::move(h.fd), h.features, h.mtu, 64);
    EXPECT_EQ(tun->name(), "wgt9");
    EXPECT_EQ(tun->mtu(), 1380u);
    EXPECT_EQ(tun->batch_size(), 64u);
    EXPECT_EQ(tun->features().tso, features.tso);
    EXPECT_EQ(tun->features().uso, features.uso);
    address_up("wgt9", "10.77.0.1/24", "fd77::1/64");
    ping_through(*tun, ip("10.77.0.2"), 1);
    ping_through(*tun, ip("fd77::2"), 2);

    // Refused: features that disagree with the device, a blocking descriptor.
    auto dup = [&] { return Fd(::fcntl(tun->fd(), F_DUPFD_CLOEXEC, 0)); };
    TunFeatures wrong = features;
    wrong.vnet_hdr = !wrong.vnet_hdr;
    EXPECT_THROW(TunLinux::adopt(dup(), wrong, 1380), SystemError);
    const int flags = ::fcntl(tun->fd(), F_GETFL);
    ASSERT_EQ(::fcntl(tun->fd(), F_SETFL, flags & ~O_NONBLOCK), 0);
    EXPECT_THROW(TunLinux::adopt(dup(), features, 1380), SystemError);
    ASSERT_EQ(::fcntl(tun->fd(), F_SETFL, flags), 0);
    tun.reset();
    EXPECT_FALSE(rtnl::find_link("wgt9")) << "the adopted descriptor was the last one";
  }
}

TEST_F(EngineTun, AdoptRefusesWhatIsNoAttachedTun) {
  Fd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  EXPECT_THROW(TunLinux::adopt(std::move(event), {}, 1500), SystemError);
  // /dev/net/tun opened but attached to no device (no TUNSETIFF).
  Fd unattached(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(unattached) << std::strerror(errno);
  EXPECT_THROW(TunLinux::adopt(std::move(unattached), {}, 1500), SystemError);
  EXPECT_THROW(TunLinux::adopt(Fd(), {}, 1500), SystemError);
}

TEST_F(EngineTun, KernelPicksTheNameWhenNoneIsGiven) {
  auto tun = TunLinux::create({});
  EXPECT_EQ(tun->name().rfind("tun", 0), 0u) << tun->name();
}

TEST_F(EngineTun, PingThroughTheTun) {
  for (bool offloads : {true, false}) {
    SCOPED_TRACE(offloads ? "offloads" : "plain");
    TunOptions o;
    o.name = "wgt1";
    o.offloads = offloads;
    auto tun = TunLinux::create(o);
    EXPECT_EQ(tun->features().vnet_hdr, offloads);
    address_up("wgt1", "10.76.0.1/24", "fd76::1/64");
    ping_through(*tun, ip("10.76.0.2"), 1);
    ping_through(*tun, ip("fd76::2"), 2);
    auto s = tun->stats();
    EXPECT_GE(s.packets_read, 2u);
    EXPECT_GE(s.packets_written, 2u);
    EXPECT_EQ(s.write_dropped, 0u);
  }
}

struct FlowCase {
  bool v6;
  bool offloads_a;
  bool offloads_b;
};

class EngineTunFlow : public EngineTun, public ::testing::WithParamInterface<FlowCase> {};

TEST_P(EngineTunFlow, TcpStreamThroughTwoTuns) {
  auto [v6, oa, ob] = GetParam();
  TunPair pair(oa, ob);
  constexpr size_t kTotal = 48 << 20;
  size_t got;
  auto start = std::chrono::steady_clock::now();
  {
    Relay relay(*pair.ta, *pair.tb);
    got = transfer(pair, v6, kTotal);
    EXPECT_EQ(relay.error(), "");
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(got, kTotal);
  auto sa = pair.ta->stats(), sb = pair.tb->stats();
  std::printf(
      "%s A%s->B%s: %.2f Gbit/s; A reads %lu (super %lu) packets %lu; B writes %lu "
      "packets %lu coalesced %lu\n",
      v6 ? "tcp6" : "tcp4", oa ? "+gso" : "", ob ? "+gso" : "", kTotal * 8 / secs / 1e9, sa.reads,
      sa.super_packets, sa.packets_read, sb.writes, sb.packets_written, sb.coalesced);
  if (oa) {
    EXPECT_GT(sa.super_packets, 0u) << "the sender's kernel never handed over a TSO super-packet";
    EXPECT_GT(sa.packets_read, sa.reads);
  }
  if (ob) {
    EXPECT_GT(sb.coalesced, 0u) << "nothing was written as a super-packet";
    EXPECT_LT(sb.writes, sb.packets_written);
  }
  EXPECT_EQ(sa.read_dropped + sb.read_dropped, 0u);
  EXPECT_EQ(sa.write_dropped + sb.write_dropped, 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, EngineTunFlow,
                         ::testing::Values(FlowCase{false, true, true}, FlowCase{true, true, true},
                                           FlowCase{false, true, false},
                                           FlowCase{true, false, true},
                                           FlowCase{false, false, false}),
                         [](const auto& info) {
                           const FlowCase& c = info.param;
                           return std::string(c.v6 ? "v6" : "v4") +
                                  (c.offloads_a ? "_gso" : "_plain") +
                                  (c.offloads_b ? "_gso" : "_plain");
                         });

TEST_F(EngineTun, TinyMssSuperPacketsLargerThanTheBatch) {
  TunPair pair(true, true);
  constexpr size_t kTotal = 8 << 20;
  size_t got;
  uint64_t pending;
  {
    // 64 slots and segments of 200 bytes: a 64 KiB super-packet needs five batches.
    Relay relay(*pair.ta, *pair.tb, 64);
    got = transfer(pair, false, kTotal, 200);
    pending = relay.pending_seen();
    EXPECT_EQ(relay.error(), "");
  }
  EXPECT_EQ(got, kTotal);
  EXPECT_GT(pending, 0u) << "no super-packet was larger than a batch";
  EXPECT_EQ(pair.ta->stats().read_dropped, 0u);
}

TEST_F(EngineTun, UdpSuperPacketsBothWays) {
  TunPair pair(true, true);
  if (!pair.ta->features().uso) GTEST_SKIP() << "this kernel has no TUN USO";
  // The receiver asks for GRO: a datagram that arrives as one super-datagram proves the
  // coalesced write reached B's kernel as such.
  sockaddr_storage sa;
  socklen_t len = itest::sockaddr_of(ip("10.77.0.2"), 5002, sa);
  Fd rx = pair.b.run([&] {
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(s.get(), SOL_UDP, UDP_GRO, &one, sizeof one);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0) throw SystemError("bind");
    return s;
  });
  Fd tx = pair.a.run([] { return Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  constexpr size_t kSeg = 1200, kCount = 20;
  std::vector<uint8_t> payload(kSeg * kCount);
  for (size_t i = 0; i < payload.size(); i++) payload[i] = static_cast<uint8_t>(i % 251);
  int seg = kSeg;
  ASSERT_EQ(::setsockopt(tx.get(), SOL_UDP, UDP_SEGMENT, &seg, sizeof seg), 0);
  auto relay = std::make_unique<Relay>(*pair.ta, *pair.tb);
  ASSERT_EQ(
      ::sendto(tx.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa), len),
      static_cast<ssize_t>(payload.size()))
      << std::strerror(errno);
  std::vector<uint8_t> got;
  size_t supers = 0;
  while (got.size() < payload.size()) {
    ASSERT_TRUE(itest::wait_readable(rx.get(), 3000)) << "received " << got.size();
    uint8_t buf[65536];
    alignas(cmsghdr) uint8_t control[64];
    iovec iov{buf, sizeof buf};
    msghdr h{};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    ssize_t r = ::recvmsg(rx.get(), &h, 0);
    ASSERT_GT(r, 0);
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) supers++;
    got.insert(got.end(), buf, buf + r);
  }
  EXPECT_EQ(got, payload);
  relay.reset();  // its counters are final once it stopped
  EXPECT_GT(pair.ta->stats().super_packets, 0u);
  EXPECT_GT(pair.tb->stats().coalesced, 0u);
  EXPECT_GT(supers, 0u);
}

TEST_F(EngineTun, MovedToAnotherNamespaceKeepsWorkingThroughTheSameDescriptor) {
  Netns x = Netns::create(), y = Netns::create();
  TunOptions o;
  o.name = "wgm0";
  o.mtu = 1420;
  auto tun = x.run([&] { return TunLinux::create(o); });
  x.run([&] { rtnl::move_link("wgm0", y.fd(), "eth5"); });
  EXPECT_EQ(tun->name(), "eth5");
  EXPECT_FALSE(x.run([] { return rtnl::find_link("wgm0").has_value(); }));
  y.run([&] {
    address_up("eth5", "10.78.0.1/24", "fd78::1/64");
    ping_through(*tun, ip("10.78.0.2"));
    ping_through(*tun, ip("fd78::2"));
  });
}

TEST_F(EngineTun, PersistentDeviceReattachedByName) {
  Netns x = Netns::create();
  x.run([&] {
    TunOptions o;
    o.name = "wgp0";
    o.persist = true;
    TunLinux::create(o).reset();  // the daemon goes away
    ASSERT_TRUE(rtnl::find_link("wgp0")) << "a persistent TUN outlives its descriptor";
    EXPECT_THROW(TunLinux::attach("nosuch0", {}), SystemError);
    EXPECT_THROW(TunLinux::attach("lo", {}), SystemError) << "not a TUN";
    auto tun = TunLinux::attach("wgp0", {});
    EXPECT_THROW(TunLinux::attach("wgp0", {}), SystemError) << "already attached";
    EXPECT_TRUE(tun->features().tso);
    address_up("wgp0", "10.79.0.1/24", nullptr);
    ping_through(*tun, ip("10.79.0.2"));
    tun->set_persist(false);
    tun.reset();
    EXPECT_FALSE(rtnl::find_link("wgp0"));
  });
}

// What wgnetd does across a restart: a persistent device tagged with an alias is moved into a
// container and renamed; the daemon dies; the new one finds the device by its alias inside the
// container's namespace and attaches to it by its current name.
TEST_F(EngineTun, FoundByAliasAfterMoveAndRenameThenReattached) {
  Netns host = Netns::create(), container = Netns::create();
  host.run([&] {
    TunOptions o;
    o.name = "wgnet-e1";
    o.persist = true;
    o.alias = "wgnet:net1/ep1";
    auto tun = TunLinux::create(o);
    rtnl::move_link("wgnet-e1", container.fd(), "wg0");
  });
  container.run([&] {
    auto link = rtnl::find_link_by_alias("wgnet:net1/ep1");
    ASSERT_TRUE(link);
    EXPECT_EQ(link->name, "wg0");
    EXPECT_EQ(link->txqueuelen, 1000u);
    EXPECT_FALSE(TunLinux::attach_by_alias("wgnet:net1/other", {}));
    auto tun = TunLinux::attach_by_alias("wgnet:net1/ep1", {});
    ASSERT_TRUE(tun);
    EXPECT_EQ(tun->name(), "wg0");
    address_up("wg0", "10.80.0.1/24", nullptr);
    ping_through(*tun, ip("10.80.0.2"));
    tun->set_persist(false);
  });
  EXPECT_FALSE(container.run([] { return rtnl::find_link("wg0").has_value(); }));
}

TEST_F(EngineTun, DeletedDeviceShowsAsErrorAndDeviceGone) {
  TunOptions o;
  o.name = "wgd0";
  auto tun = TunLinux::create(o);
  rtnl::set_up("wgd0", true);
  ASSERT_TRUE(rtnl::delete_link("wgd0"));
  short ev = itest::wait_readable(tun->fd(), 2000);
  EXPECT_TRUE(ev & POLLERR) << "events " << ev;
  Batch batch(4);
  EXPECT_THROW(tun->read(batch.reset()), DeviceGone);
  EXPECT_THROW(tun->name(), DeviceGone);
  // Writes to a vanished device are counted, not thrown.
  batch.set(0, std::vector<uint8_t>(40, 0x45));
  tun->write(batch.packets().subspan(0, 1));
  EXPECT_EQ(tun->stats().write_dropped, 1u);
}

TEST_F(EngineTun, DeviceGoesWithTheNamespaceItWasMovedInto) {
  Netns container = Netns::create();
  TunOptions o;
  o.name = "wgd1";
  auto tun = TunLinux::create(o);
  rtnl::move_link("wgd1", container.fd(), "wg0");
  { Netns gone = std::move(container); }  // the container stops
  short ev = itest::wait_readable(tun->fd(), 5000);
  EXPECT_TRUE(ev & POLLERR) << "events " << ev;
  Batch batch(4);
  EXPECT_THROW(tun->read(batch.reset()), DeviceGone);
}
