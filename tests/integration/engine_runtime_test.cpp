// engine/engine (the event loop serving many interfaces) against the real kernel: engines in
// namespaces joined by a veth (198.18.93.0/24), TUN devices in those and in third namespaces,
// traffic through the tunnels, link deletion, namespace moves and MTU changes. Every namespace is
// held by a descriptor and vanishes with the test process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <dirent.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crypto/dh.h"
#include "crypto/x25519.h"
#include "engine/linux/engine.h"
#include "engine/linux/handed_binds.h"
#include "engine/linux/tun_linux.h"
#include "engine/linux/udp_linux.h"
#include "engine_io_test_util.h"
#include "netlink/message.h"
#include "netlink/rtnl.h"
#include "private_netns.h"
#include "proc_self.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace std::chrono_literals;
using itest::Netns;
namespace rtnl = wgnet::netlink::rtnl;

namespace {

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }

socklen_t sockaddr_of(const IpAddress& a, uint16_t port, sockaddr_storage& sa) {
  sa = {};
  auto* s = reinterpret_cast<sockaddr_in*>(&sa);
  s->sin_family = AF_INET;
  s->sin_port = htons(port);
  std::memcpy(&s->sin_addr, a.bytes().data(), 4);
  return sizeof *s;
}

// A: 198.18.93.1 on "va", B: 198.18.93.2 on "vb".
struct Link {
  Netns a = Netns::create();
  Netns b = Netns::create();
  Link() {
    itest::veth_between(a, "va", b, "vb");
    a.run([&] {
      rtnl::add_address("va", *Cidr::parse("198.18.93.1/24"));
      rtnl::set_up("va", true);
    });
    b.run([&] {
      rtnl::add_address("vb", *Cidr::parse("198.18.93.2/24"));
      rtnl::set_up("vb", true);
    });
  }
};

std::unique_ptr<TunLinux> make_tun(const Netns& ns, const std::string& address,
                                   TunOptions options = {}) {
  options.mtu = options.mtu ? options.mtu : 1420;
  return ns.run([&] {
    auto t = TunLinux::create(options);
    rtnl::add_address(t->name(), *Cidr::parse(address));
    rtnl::set_up(t->name(), true);
    return t;
  });
}

struct Keys {
  crypto::Key priv = crypto::generate_private_key();
  crypto::Key pub = crypto::public_key(priv);
};

wg::DeviceConfig config(const Keys& self, uint16_t port, const Keys& peer,
                        std::optional<wg::Endpoint> endpoint, const std::string& allowed) {
  wg::DeviceConfig c;
  c.private_key = self.priv;
  c.listen_port = port;
  wg::PeerConfig p;
  p.public_key = peer.pub;
  p.endpoint = endpoint;
  p.allowed_ips.push_back(*Cidr::parse(allowed));
  c.peers.push_back(p);
  return c;
}

// A UDP socket bound to `address`:`port` inside `ns`.
Fd udp_socket(const Netns& ns, const std::string& address, uint16_t port) {
  return ns.run([&] {
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage sa;
    socklen_t len = sockaddr_of(ip(address), port, sa);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0)
      throw SystemError("bind " + address + ": " + std::strerror(errno));
    return s;
  });
}

// Sends `text` from `tx` to `to`:`port` until `rx` receives it (a handshake comes first), up to
// `timeout`. True when it arrived intact.
bool udp_through(int tx, int rx, const std::string& to, uint16_t port, const std::string& text,
                 std::chrono::milliseconds timeout = 5s) {
  sockaddr_storage sa;
  socklen_t len = sockaddr_of(ip(to), port, sa);
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    ::sendto(tx, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&sa), len);
    if (itest::wait_readable(rx, 300)) {
      char buf[2048];
      ssize_t r = ::recv(rx, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) return std::string(buf, static_cast<size_t>(r)) == text;
    }
  }
  return false;
}

template <typename F>
bool eventually(F&& f, std::chrono::milliseconds timeout = 3s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

class EngineRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    ASSERT_NO_FATAL_FAILURE(itest::enter_private_netns());
  }
  std::unique_ptr<Engine> engine_in(const Netns& ns, EngineOptions o = {}) {
    return ns.run([&] { return std::make_unique<Engine>(std::move(o)); });
  }
};

// A TCP stream of `bytes` from `from_ns` to `to_addr`:`port` (listening in `to_ns`); true when
// every byte arrived in order.
bool tcp_stream(const Netns& from_ns, const Netns& to_ns, const std::string& from_addr,
                const std::string& to_addr, uint16_t port, size_t bytes) {
  Fd listener = to_ns.run([&] {
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int on = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage sa;
    socklen_t len = sockaddr_of(ip(to_addr), port, sa);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(s.get(), 1) != 0)
      throw SystemError("listen: " + std::string(std::strerror(errno)));
    return s;
  });
  auto pattern = [](size_t i) { return static_cast<uint8_t>((i * 2654435761u) >> 13); };
  std::atomic<bool> ok{false};
  std::thread receiver([&] {
    if (!itest::wait_readable(listener.get(), 10000)) return;
    Fd c(::accept(listener.get(), nullptr, nullptr));
    std::vector<uint8_t> buf(1 << 16);
    size_t got = 0;
    while (got < bytes) {
      if (!itest::wait_readable(c.get(), 10000)) return;
      ssize_t r = ::recv(c.get(), buf.data(), buf.size(), 0);
      if (r <= 0) return;
      for (ssize_t k = 0; k < r; k++)
        if (buf[static_cast<size_t>(k)] != pattern(got + static_cast<size_t>(k))) return;
      got += static_cast<size_t>(r);
    }
    ok = true;
  });
  Fd s = from_ns.run([&] {
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage sa;
    socklen_t len = sockaddr_of(ip(from_addr), 0, sa);
    ::bind(c.get(), reinterpret_cast<sockaddr*>(&sa), len);
    return c;
  });
  sockaddr_storage sa;
  socklen_t len = sockaddr_of(ip(to_addr), port, sa);
  bool sent = false;
  for (int attempt = 0; attempt < 3 && !sent; attempt++)
    sent = ::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0;
  if (sent) {
    std::vector<uint8_t> chunk(1 << 16);
    for (size_t at = 0; at < bytes && sent;) {
      size_t n = std::min(chunk.size(), bytes - at);
      for (size_t k = 0; k < n; k++) chunk[k] = pattern(at + k);
      ssize_t w = ::send(s.get(), chunk.data(), n, MSG_NOSIGNAL);
      if (w <= 0) sent = false;
      at += w > 0 ? static_cast<size_t>(w) : 0;
    }
  }
  receiver.join();
  return sent && ok;
}

// Between A's tunnel address `a_addr` and B's `b_addr`: a UDP datagram each way (a handshake
// first), then a TCP stream of `bytes` each way.
void expect_carried(const Link& link, const std::string& a_addr, const std::string& b_addr,
                    size_t bytes) {
  Fd sa = udp_socket(link.a, a_addr, 7001);
  Fd sb = udp_socket(link.b, b_addr, 7002);
  ASSERT_TRUE(udp_through(sa.get(), sb.get(), b_addr, 7002, "from A"));
  ASSERT_TRUE(udp_through(sb.get(), sa.get(), a_addr, 7001, "from B"));
  EXPECT_TRUE(tcp_stream(link.a, link.b, a_addr, b_addr, 7100, bytes));
  EXPECT_TRUE(tcp_stream(link.b, link.a, b_addr, a_addr, 7101, bytes));
}

}  // namespace

TEST_F(EngineRuntime, TwoEnginesCarryDatagramsAndStreamsBothWays) {
  Link link;
  auto ea = engine_in(link.a);
  auto eb = engine_in(link.b);
  EXPECT_EQ(ea->worker_count(), cpus_available());
  Keys ka, kb;
  ea->add("wa", make_tun(link.a, "10.93.0.1/24"));
  eb->add("wb", make_tun(link.b, "10.93.0.2/24"));
  ea->apply("wa", config(ka, 41001, kb, wg::Endpoint{ip("198.18.93.2"), 41002}, "10.93.0.2/32"));
  eb->apply("wb", config(kb, 41002, ka, std::nullopt, "10.93.0.1/32"));

  ASSERT_NO_FATAL_FAILURE(expect_carried(link, "10.93.0.1", "10.93.0.2", 24 << 20));

  const auto st = eb->status("wb");
  ASSERT_EQ(st.peers.size(), 1u);
  ASSERT_TRUE(st.peers[0].endpoint);  // learnt from A's handshake (roaming)
  EXPECT_EQ(st.peers[0].endpoint->address, ip("198.18.93.1"));
  EXPECT_GT(st.peers[0].last_handshake_sec, 0);
  const auto info = ea->info("wa");
  EXPECT_EQ(info.listen_port, 41001);
  EXPECT_GT(info.tun.packets_read, 1000u);
  EXPECT_EQ(info.counters.decrypt_failed, 0u);
  EXPECT_EQ(info.counters.replayed, 0u);
}

// The hand-over of PRIVSEP-PLAN §1.4 in one process: A's TUN and UDP sockets are made in A's
// namespace as wgnetd would make them; an engine that lives in none of the link's namespaces and
// watches no link adopts the TUN and binds only the sockets handed over. Traffic flows as with an
// engine that opened its own; a listen port nobody handed over is refused.
TEST_F(EngineRuntime, AdoptedTunAndHandedBindsCarryTraffic) {
  Link link;
  EngineOptions o;
  o.link_watch = false;
  auto ea = std::make_unique<Engine>(o);
  auto eb = engine_in(link.b);
  Keys ka, kb;
  TunHandoff tun = TunLinux::release(make_tun(link.a, "10.94.0.1/24"));
  auto owner = link.a.run([] { return UdpBindLinux::open(41011); });
  auto copy = [](int fd) { return fd < 0 ? Fd() : Fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); };
  UdpOptions adopted;
  adopted.mark_by_owner = true;
  auto handed = std::make_shared<HandedBinds>();
  handed->offer(UdpBindLinux::adopt(copy(owner->fd4()), copy(owner->fd6()), owner->port(),
                                    owner->features(), adopted));
  AddOptions add;
  add.binds = handed;
  add.config = config(ka, 41011, kb, wg::Endpoint{ip("198.18.93.2"), 41012}, "10.94.0.2/32");
  ea->add("wa", TunLinux::adopt(std::move(tun.fd), tun.features, tun.mtu), std::move(add));
  eb->add("wb", make_tun(link.b, "10.94.0.2/24"));
  eb->apply("wb", config(kb, 41012, ka, std::nullopt, "10.94.0.1/32"));

  ASSERT_NO_FATAL_FAILURE(expect_carried(link, "10.94.0.1", "10.94.0.2", 4 << 20));
  EXPECT_EQ(ea->info("wa").listen_port, 41011);
  EXPECT_EQ(eb->status("wb").peers.at(0).endpoint->port, 41011);

  EXPECT_EQ(ea->uapi_set("wa", "listen_port=41013\n\n"), -EADDRINUSE);
  EXPECT_EQ(ea->info("wa").listen_port, 0);
}

TEST_F(EngineRuntime, ManyInterfacesShareTheWorkersAndStayApart) {
  Link link;
  auto ea = engine_in(link.a);
  auto eb = engine_in(link.b);
  const size_t threads = itest::settled_thread_count();
  constexpr int kPairs = 40;
  std::vector<Keys> ka(kPairs), kb(kPairs);
  for (int i = 0; i < kPairs; i++) {
    const std::string n = std::to_string(i);
    const auto p = static_cast<uint16_t>(42000 + 2 * i);
    ea->add("a" + n, make_tun(link.a, "10.94." + n + ".1/24"));
    eb->add("b" + n, make_tun(link.b, "10.94." + n + ".2/24"));
    ea->apply("a" + n, config(ka[i], p, kb[i], wg::Endpoint{ip("198.18.93.2"), uint16_t(p + 1)},
                              "10.94." + n + ".2/32"));
    eb->apply("b" + n, config(kb[i], uint16_t(p + 1), ka[i], wg::Endpoint{ip("198.18.93.1"), p},
                              "10.94." + n + ".1/32"));
  }
  // Fixed threads whatever the number of interfaces.
  EXPECT_EQ(itest::settled_thread_count(), threads);
  EXPECT_EQ(ea->names().size(), static_cast<size_t>(kPairs));
  for (int i = 0; i < kPairs; i += 3) {
    const std::string n = std::to_string(i);
    Fd sa = udp_socket(link.a, "10.94." + n + ".1", 7000);
    Fd sb = udp_socket(link.b, "10.94." + n + ".2", 7000);
    ASSERT_TRUE(udp_through(sa.get(), sb.get(), "10.94." + n + ".2", 7000, "a->b " + n)) << n;
    ASSERT_TRUE(udp_through(sb.get(), sa.get(), "10.94." + n + ".1", 7000, "b->a " + n)) << n;
  }
  // Each interface carried only its own pair's packets.
  for (int i = 0; i < kPairs; i++) {
    const auto c = ea->info("a" + std::to_string(i)).counters;
    EXPECT_EQ(c.source_not_allowed + c.decrypt_failed + c.unknown_index, 0u) << i;
  }
  for (int i = 0; i < kPairs; i += 2) EXPECT_TRUE(ea->remove("a" + std::to_string(i)));
  EXPECT_FALSE(ea->remove("a0"));
  EXPECT_EQ(ea->names().size(), static_cast<size_t>(kPairs / 2));
  EXPECT_EQ(itest::settled_thread_count(), threads);
}

TEST_F(EngineRuntime, PersistentTunReattachedInsideAnotherNamespace) {
  Link link;
  Netns c = Netns::create();  // the "container"
  auto ea = engine_in(link.a);
  auto eb = engine_in(link.b);
  Keys ka, kb;
  // Created in A (the host), persistent, tagged, then moved into C and renamed, as Docker does.
  TunOptions o;
  o.persist = true;
  o.alias = "wgnet-test-reattach";
  o.mtu = 1420;
  {
    auto t = link.a.run([&] { return TunLinux::create(o); });
    const std::string n = t->name();
    link.a.run([&] { rtnl::move_link(n, c.fd(), "wg0"); });
  }  // our descriptor closes; the device stays
  // A restarted engine: the TUN is attached inside C; the socket opens in A all the same.
  auto tun = c.run([&] {
    auto t = TunLinux::attach_by_alias("wgnet-test-reattach", o);
    rtnl::add_address("wg0", *Cidr::parse("10.95.0.1/24"));
    rtnl::set_up("wg0", true);
    return t;
  });
  ASSERT_TRUE(tun);
  ea->add("c", std::move(tun));
  eb->add("wb", make_tun(link.b, "10.95.0.2/24"));
  ea->apply("c", config(ka, 43001, kb, wg::Endpoint{ip("198.18.93.2"), 43002}, "10.95.0.2/32"));
  eb->apply("wb", config(kb, 43002, ka, wg::Endpoint{ip("198.18.93.1"), 43001}, "10.95.0.1/32"));
  Fd sc = udp_socket(c, "10.95.0.1", 7000);
  Fd sb = udp_socket(link.b, "10.95.0.2", 7000);
  ASSERT_TRUE(udp_through(sc.get(), sb.get(), "10.95.0.2", 7000, "from the container"));
  ASSERT_TRUE(udp_through(sb.get(), sc.get(), "10.95.0.1", 7000, "to the container"));
  EXPECT_EQ(ea->info("c").ifname, "wg0");

  // The MTU set inside C reaches the engine (watched through C's netns id, from A).
  c.run([] { rtnl::set_mtu("wg0", 1300); });
  EXPECT_TRUE(eventually([&] { return ea->info("c").mtu == 1300; })) << ea->info("c").mtu;

  // Removing the interface leaves the persistent device where it is.
  EXPECT_TRUE(ea->remove("c"));
  c.run([] {
    auto l = rtnl::find_link("wg0");
    ASSERT_TRUE(l);
    rtnl::delete_link("wg0");
  });
}

TEST_F(EngineRuntime, MtuFollowsTheDeviceAcrossNamespaceMoves) {
  Link link;
  Netns c = Netns::create();
  auto ea = engine_in(link.a);
  ea->add("m", make_tun(link.a, "10.96.0.1/24"));
  const std::string name = ea->info("m").ifname;
  link.a.run([&] { rtnl::set_mtu(name, 1280); });
  EXPECT_TRUE(eventually([&] { return ea->info("m").mtu == 1280; }));
  link.a.run([&] { rtnl::move_link(name, c.fd(), "moved0"); });
  EXPECT_TRUE(eventually([&] { return ea->info("m").ifname == "moved0"; }));
  c.run([] { rtnl::set_mtu("moved0", 9000); });
  EXPECT_TRUE(eventually([&] { return ea->info("m").mtu == 9000; })) << ea->info("m").mtu;
}

// The netlink port ids of this process's sockets that listen to link events: the engines' link
// watches (a test finds them as an attacker would, by trying).
std::vector<uint32_t> link_watch_ports() {
  std::vector<uint32_t> ports;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return ports;
  while (auto* e = ::readdir(d)) {
    const int fd = std::atoi(e->d_name);
    int domain = 0;
    socklen_t len = sizeof domain;
    if (fd < 3 || ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        domain != AF_NETLINK)
      continue;
    sockaddr_nl sa{};
    len = sizeof sa;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0 &&
        (sa.nl_groups & RTMGRP_LINK))
      ports.push_back(sa.nl_pid);
  }
  ::closedir(d);
  return ports;
}

TEST_F(EngineRuntime, LinkEventsForgedByAProcessAreIgnored) {
  Link link;
  auto ea = engine_in(link.a);
  ea->add("m", make_tun(link.a, "10.96.0.1/24"));
  const std::string name = ea->info("m").ifname;
  link.a.run([&] { rtnl::set_mtu(name, 1280); });
  ASSERT_TRUE(eventually([&] { return ea->info("m").mtu == 1280; }));
  const auto ports = link_watch_ports();
  ASSERT_FALSE(ports.empty());
  // Any process of the namespace may send a unicast message to a netlink socket: a link event
  // that says the device has another MTU (or, flags 0, went down). Only the kernel's (port 0) count.
  link.a.run([&] {
    ifinfomsg ifi{};
    ifi.ifi_index = static_cast<int>(::if_nametoindex(name.c_str()));
    netlink::MessageBuilder b(RTM_NEWLINK, 0);
    b.fixed(ifi).put_u32(IFLA_MTU, 9000);
    const auto msg = b.finish();
    Fd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    ASSERT_TRUE(s);
    int sent = 0;
    for (uint32_t port : ports) {
      sockaddr_nl to{};
      to.nl_family = AF_NETLINK;
      to.nl_pid = port;
      if (::sendto(s.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof to) == static_cast<ssize_t>(msg.size()))
        sent++;
    }
    EXPECT_GT(sent, 0) << "no link watch reached";
  });
  // Believed, it shows within milliseconds (the old code did).
  EXPECT_FALSE(eventually([&] { return ea->info("m").mtu != 1280; }, 500ms))
      << "a forged link event was believed: MTU " << ea->info("m").mtu;
  // The watch still works: a real change is seen.
  link.a.run([&] { rtnl::set_mtu(name, 1300); });
  EXPECT_TRUE(eventually([&] { return ea->info("m").mtu == 1300; }));
}

TEST_F(EngineRuntime, DeletedLinkOrDestroyedNamespaceIsReportedOnce) {
  Link link;
  std::mutex mu;
  std::vector<std::string> lost;
  EngineOptions o;
  o.on_lost = [&](const std::string& name, const std::string&) {
    std::lock_guard lock(mu);
    lost.push_back(name);
  };
  auto ea = engine_in(link.a, o);
  ea->add("del", make_tun(link.a, "10.97.0.1/24"));
  const std::string name = ea->info("del").ifname;
  link.a.run([&] { rtnl::delete_link(name); });
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return lost.size() == 1 && lost[0] == "del";
  }));
  EXPECT_TRUE(ea->info("del").lost);
  EXPECT_TRUE(ea->remove("del"));

  // A device moved into a namespace that goes away with its last user (a container that
  // stopped). The device was created here, as wgnetd does: an open /dev/net/tun keeps the
  // namespace it was opened in alive, so this one must only be kept alive by its users.
  {
    auto c = std::make_unique<Netns>(Netns::create());
    ea->add("ns", make_tun(link.a, "10.97.1.1/24"));
    const std::string n = ea->info("ns").ifname;
    link.a.run([&] { rtnl::move_link(n, c->fd(), "wg0"); });
    EXPECT_TRUE(eventually([&] { return ea->info("ns").ifname == "wg0"; }));
    c.reset();  // the engine's link watch must not be what keeps the namespace alive
  }
  EXPECT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return lost.size() == 2 && lost[1] == "ns";
      },
      15s));  // the kernel tears namespaces down asynchronously
  std::lock_guard lock(mu);
  EXPECT_EQ(lost.size(), 2u);
}

TEST_F(EngineRuntime, ApiErrorsAndShutdown) {
  Link link;
  auto ea = engine_in(link.a);
  Keys k;
  EXPECT_THROW(ea->status("nope"), InputError);
  EXPECT_EQ(ea->uapi_set("nope", "listen_port=1\n"), -ENODEV);
  ea->add("x", make_tun(link.a, "10.98.0.1/24"));
  EXPECT_THROW(ea->add("x", make_tun(link.a, "10.98.1.1/24")), InputError);
  // A port in use: wireguard-go's EADDRINUSE, and the interface keeps its old port.
  ea->apply("x", config(k, 44001, k, std::nullopt, "10.98.0.2/32"));
  ea->add("y", make_tun(link.a, "10.98.2.1/24"));
  EXPECT_EQ(ea->uapi_set("y", "listen_port=44001\n"), -EADDRINUSE);
  const auto got = ea->uapi_get("x");
  EXPECT_NE(got.find("listen_port=44001\n"), std::string::npos);
  EXPECT_TRUE(got.ends_with("errno=0\n\n"));
  ea->shutdown();
  ea->shutdown();
  EXPECT_THROW(ea->add("z", make_tun(link.a, "10.98.3.1/24")), SystemError);
  EXPECT_TRUE(ea->remove("x"));
}
