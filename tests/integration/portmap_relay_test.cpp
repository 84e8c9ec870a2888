// portmap::Relay against the real kernel. The test process's own network namespace stands for the
// host; the "container" is a second namespace mounted on a file (as Docker's SandboxKey) with
// 10.9.0.2 and fd00::2 on its lo and echo servers inside. The process also has a mount namespace
// of its own, so neither the host's links, ports nor mounts are touched. Needs root.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "netlink/rtnl.h"
#include "portmap/relay.h"
#include "private_netns.h"
#include "sandboxes.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/netns.h"

using namespace wgnet;
using namespace wgnet::portmap;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace rtnl = netlink::rtnl;

namespace {

constexpr uint16_t kEchoPort = 8080;   // TCP echo in the container, on both addresses
constexpr uint16_t kEchoPort2 = 8081;  // a second one, to see which the relay reached
constexpr uint16_t kUdpEchoPort = 9000;
constexpr uint16_t kClosedPort = 8099;  // nothing listens there
// Deadlines for what should happen at once: generous, for loaded machines and sanitizers.
constexpr auto kDeadline = 10s;

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

SockAddr sock_addr(const std::string& ip, uint16_t port) {
  const auto a = IpAddress::parse(ip);
  EXPECT_TRUE(a) << ip;
  SockAddr s;
  if (a && a->is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&s.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a->bytes().data(), 4);
    s.length = sizeof(sockaddr_in);
  } else if (a) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&s.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, a->bytes().data(), 16);
    s.length = sizeof(sockaddr_in6);
  }
  return s;
}

// "10.9.0.2:8080", "[fd00::2]:8080"
std::string addr_text(const sockaddr_storage& s) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (s.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&s);
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(sin->sin_port));
  }
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&s);
  inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6->sin6_port));
}

void set_receive_timeout(const Fd& fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// A connected TCP client socket, or an invalid Fd with the connect's errno in `error`.
Fd tcp_connect(const std::string& ip, uint16_t port, int* error = nullptr) {
  const auto to = sock_addr(ip, port);
  Fd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), to.get(), to.length) != 0) {
    if (error) *error = errno;
    return Fd();
  }
  set_receive_timeout(fd, kDeadline);
  if (error) *error = 0;
  return fd;
}

int connect_error(const std::string& ip, uint16_t port) {
  int error = 0;
  tcp_connect(ip, port, &error);
  return error;
}

bool send_all(const Fd& fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until `size` bytes came, end of file, an error or the receive timeout.
std::string receive(const Fd& fd, size_t size) {
  std::string got;
  char buf[65536];
  while (got.size() < size) {
    const ssize_t n = ::recv(fd.get(), buf, std::min(sizeof buf, size - got.size()), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

std::string receive_until_eof(const Fd& fd) { return receive(fd, SIZE_MAX); }

// Sends `message` and returns what came back of the same length.
std::string round_trip(const Fd& fd, const std::string& message) {
  if (!send_all(fd, message)) return "<send failed: " + std::string(std::strerror(errno)) + ">";
  return receive(fd, message.size());
}

// True when the peer closes the connection (end of file or an error such as a reset) within
// `deadline`; data arriving before that is read and dropped.
bool closes_within(const Fd& fd, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
  }
}

// A UDP client socket of the family of `ip`, on an ephemeral port.
Fd udp_client(const std::string& ip) {
  Fd fd(::socket(sock_addr(ip, 1).family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  set_receive_timeout(fd, kDeadline);
  return fd;
}

void udp_send(const Fd& fd, const std::string& ip, uint16_t port, const std::string& payload) {
  const auto to = sock_addr(ip, port);
  EXPECT_EQ(::sendto(fd.get(), payload.data(), payload.size(), 0, to.get(), to.length),
            static_cast<ssize_t>(payload.size()))
      << std::strerror(errno);
}

// The next datagram, with the address it came from; "" after the receive timeout.
std::string udp_receive(const Fd& fd, std::string* from = nullptr) {
  std::string buf(65536, '\0');
  sockaddr_storage source{};
  socklen_t length = sizeof source;
  const ssize_t n = ::recvfrom(fd.get(), buf.data(), buf.size(), 0,
                               reinterpret_cast<sockaddr*>(&source), &length);
  if (n < 0) return "";
  if (from) *from = addr_text(source);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

std::string udp_exchange(const Fd& fd, const std::string& ip, uint16_t port,
                         const std::string& payload) {
  udp_send(fd, ip, port, payload);
  return udp_receive(fd);
}

// Waits (up to 3 s) until `ip` can be bound in the current namespace: a new IPv6 address stays
// tentative for a moment, even on lo, which does no duplicate address detection.
void wait_until_bindable(const std::string& ip) {
  const auto at = sock_addr(ip, 0);
  for (int i = 0; i < 300; i++) {
    Fd s(::socket(at.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (::bind(s.get(), at.get(), at.length) == 0) return;
    std::this_thread::sleep_for(10ms);
  }
  throw SystemError("address " + ip + " never became usable");
}

// A plain listener that holds a host port, as another program would.
Fd occupy_tcp(const std::string& ip, uint16_t port) {
  const auto at = sock_addr(ip, port);
  Fd fd(::socket(at.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::bind(fd.get(), at.get(), at.length), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(fd.get(), 16), 0);
  return fd;
}

// Echo servers inside the container's namespace: their sockets are made there (netns::run_in),
// then one thread serves them all with poll(). TCP: echoes what comes, and at end of file sends
// "|eof" and closes (so a test sees that the client's half-close reached the container). UDP:
// echoes each datagram to its sender. Records where TCP connections arrived and where datagrams
// came from.
class Container {
 public:
  explicit Container(const std::string& sandbox) {
    netns::run_in(sandbox, [&] {
      for (const char* ip : {"10.9.0.2", "fd00::2"}) {
        for (uint16_t port : {kEchoPort, kEchoPort2}) listeners_.push_back(listen_on(ip, port));
        datagram_sockets_.push_back(bind_udp(ip, kUdpEchoPort));
      }
    });
    thread_ = std::thread([this] { serve(); });
  }
  ~Container() {
    const uint64_t one = 1;
    if (::write(stop_.get(), &one, sizeof one) < 0) std::abort();
    thread_.join();
  }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  // Where the last TCP connection arrived: "10.9.0.2:8080", "[fd00::2]:8081".
  std::string last_arrival() {
    std::lock_guard lock(mutex_);
    return arrivals_.empty() ? "" : arrivals_.back();
  }
  size_t arrivals() {
    std::lock_guard lock(mutex_);
    return arrivals_.size();
  }
  // The distinct addresses datagrams came from (one per flow of the relay).
  std::set<std::string> udp_sources() {
    std::lock_guard lock(mutex_);
    return udp_sources_;
  }

 private:
  static Fd listen_on(const std::string& ip, uint16_t port) {
    const auto at = sock_addr(ip, port);
    Fd fd(::socket(at.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), at.get(), at.length) != 0 || ::listen(fd.get(), 64) != 0)
      throw SystemError("echo server on " + ip + ": " + std::strerror(errno));
    return fd;
  }
  static Fd bind_udp(const std::string& ip, uint16_t port) {
    const auto at = sock_addr(ip, port);
    Fd fd(::socket(at.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (::bind(fd.get(), at.get(), at.length) != 0)
      throw SystemError("udp echo server on " + ip + ": " + std::strerror(errno));
    return fd;
  }

  void serve() {
    std::vector<Fd> connections;
    std::vector<char> buf(65536);
    for (;;) {
      std::vector<pollfd> fds{{stop_.get(), POLLIN, 0}};
      for (const auto& l : listeners_) fds.push_back({l.get(), POLLIN, 0});
      for (const auto& u : datagram_sockets_) fds.push_back({u.get(), POLLIN, 0});
      for (const auto& c : connections) fds.push_back({c.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents) return;
      const size_t polled = connections.size();  // accept_one adds to it below
      size_t i = 1;
      for (const auto& l : listeners_) {
        if (fds[i++].revents & POLLIN) accept_one(l, connections);
      }
      for (const auto& u : datagram_sockets_) {
        if (fds[i++].revents & POLLIN) echo_datagram(u, buf);
      }
      std::vector<int> finished;
      for (size_t c = 0; c < polled; c++, i++) {
        if (!fds[i].revents) continue;
        const ssize_t n = ::recv(connections[c].get(), buf.data(), buf.size(), 0);
        if (n > 0 && send_all(connections[c], std::string_view(buf.data(), n))) continue;
        if (n == 0) send_all(connections[c], "|eof");
        finished.push_back(connections[c].get());
      }
      std::erase_if(connections, [&](const Fd& c) {
        return std::find(finished.begin(), finished.end(), c.get()) != finished.end();
      });
    }
  }

  void accept_one(const Fd& listener, std::vector<Fd>& connections) {
    Fd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    ::getsockname(c.get(), reinterpret_cast<sockaddr*>(&local), &length);
    {
      std::lock_guard lock(mutex_);
      arrivals_.push_back(addr_text(local));
    }
    connections.push_back(std::move(c));
  }

  void echo_datagram(const Fd& socket, std::vector<char>& buf) {
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    const ssize_t n = ::recvfrom(socket.get(), buf.data(), buf.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return;
    {
      std::lock_guard lock(mutex_);
      udp_sources_.insert(addr_text(from));
    }
    ::sendto(socket.get(), buf.data(), static_cast<size_t>(n), 0,
             reinterpret_cast<const sockaddr*>(&from), length);
  }

  std::vector<Fd> listeners_;
  std::vector<Fd> datagram_sockets_;
  Fd stop_{::eventfd(0, EFD_CLOEXEC)};
  std::mutex mutex_;
  std::vector<std::string> arrivals_;
  std::set<std::string> udp_sources_;
  std::thread thread_;
};

Binding binding(Proto proto, const char* host, uint16_t port, uint16_t container,
                uint16_t port_end = 0) {
  Binding b;
  b.proto = proto;
  if (host) b.host_ip = *IpAddress::parse(host);
  b.host_port = port;
  b.host_port_end = port_end ? port_end : port;
  b.container_port = container;
  return b;
}
Binding tcp(const char* host, uint16_t port, uint16_t container = kEchoPort,
            uint16_t port_end = 0) {
  return binding(Proto::kTcp, host, port, container, port_end);
}
Binding udp(const char* host, uint16_t port, uint16_t container = kUdpEchoPort) {
  return binding(Proto::kUdp, host, port, container);
}

class PortmapRelay : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    ASSERT_NO_FATAL_FAILURE(sandboxes_.init("wgnet-portmap-test"));
    ASSERT_NO_FATAL_FAILURE(itest::enter_private_netns());
    rtnl::set_up("lo", true);  // the "host": 127.0.0.1 and ::1
    sandbox_ = make_sandbox("container");
    netns::run_in(sandbox_, [] {
      rtnl::set_up("lo", true);
      rtnl::add_address("lo", *Cidr::parse("10.9.0.2/32"));
      rtnl::add_address("lo", *Cidr::parse("fd00::2/128"));
      wait_until_bindable("fd00::2");
    });
    container_ = std::make_unique<Container>(sandbox_);
  }

  void TearDown() override {
    relay_.reset();  // first: it holds the container's namespace and connections into it
    container_.reset();
  }
  std::string make_sandbox(const std::string& name) { return sandboxes_.make(name); }

  Relay& relay(RelayOptions options = {}) {
    if (!relay_) relay_ = std::make_unique<Relay>(options);
    return *relay_;
  }

  Target target(bool ipv4 = true, bool ipv6 = true) const {
    Target t;
    t.sandbox = sandbox_;
    if (ipv4) t.ipv4 = *IpAddress::parse("10.9.0.2");
    if (ipv6) t.ipv6 = *IpAddress::parse("fd00::2");
    return t;
  }

  // The message of publish()'s InputError; "" when it succeeds.
  std::string publish_error(const std::string& key, const Target& t,
                            const std::vector<Binding>& bindings) {
    try {
      relay().publish(key, t, bindings);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }

  itest::Sandboxes sandboxes_;  // first: destroyed last, after what uses its namespaces
  std::string sandbox_;
  std::unique_ptr<Container> container_;
  std::unique_ptr<Relay> relay_;
};

}  // namespace

TEST_F(PortmapRelay, TcpEchoThroughIpv4Loopback) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18092)});
  auto c = tcp_connect("127.0.0.1", 18092);
  ASSERT_TRUE(c) << std::strerror(errno);
  EXPECT_EQ(round_trip(c, "hello"), "hello");
  EXPECT_EQ(round_trip(c, "again"), "again");
  EXPECT_EQ(container_->last_arrival(), "10.9.0.2:8080");
}

TEST_F(PortmapRelay, TcpEchoThroughIpv6LoopbackReachesTheContainersIpv6Address) {
  relay().publish("k", target(), {tcp("::1", 18093)});
  auto c = tcp_connect("::1", 18093);
  ASSERT_TRUE(c) << std::strerror(errno);
  EXPECT_EQ(round_trip(c, "hello6"), "hello6");
  EXPECT_EQ(container_->last_arrival(), "[fd00::2]:8080");
}

TEST_F(PortmapRelay, EveryAddressTakesBothFamiliesAndKeepsEachClientsFamily) {
  relay().publish("k", target(), {tcp(nullptr, 18094)});
  auto v4 = tcp_connect("127.0.0.1", 18094);
  ASSERT_TRUE(v4) << std::strerror(errno);
  EXPECT_EQ(round_trip(v4, "four"), "four");
  // An IPv4 client arrives on the dual-stack socket as ::ffff:127.0.0.1: still IPv4.
  EXPECT_EQ(container_->last_arrival(), "10.9.0.2:8080");
  auto v6 = tcp_connect("::1", 18094);
  ASSERT_TRUE(v6) << std::strerror(errno);
  EXPECT_EQ(round_trip(v6, "six"), "six");
  EXPECT_EQ(container_->last_arrival(), "[fd00::2]:8080");
}

TEST_F(PortmapRelay, AnIpv6HostAddressWorksWithAnIpv4OnlyContainer) {
  relay().publish("k", target(true, false), {tcp("::1", 18095)});
  auto c = tcp_connect("::1", 18095);
  ASSERT_TRUE(c) << std::strerror(errno);
  EXPECT_EQ(round_trip(c, "to four"), "to four");
  EXPECT_EQ(container_->last_arrival(), "10.9.0.2:8080");
}

TEST_F(PortmapRelay, AnIpv4HostAddressWorksWithAnIpv6OnlyContainer) {
  relay().publish("k", target(false, true), {tcp("127.0.0.1", 18096)});
  auto c = tcp_connect("127.0.0.1", 18096);
  ASSERT_TRUE(c) << std::strerror(errno);
  EXPECT_EQ(round_trip(c, "to six"), "to six");
  EXPECT_EQ(container_->last_arrival(), "[fd00::2]:8080");
}

TEST_F(PortmapRelay, HalfCloseReachesTheContainerAndItsAnswerStillComesBack) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18097)});
  auto c = tcp_connect("127.0.0.1", 18097);
  ASSERT_TRUE(c) << std::strerror(errno);
  ASSERT_TRUE(send_all(c, "abc"));
  ASSERT_EQ(::shutdown(c.get(), SHUT_WR), 0);
  // The container sends "|eof" only once it saw our end of file, then closes.
  EXPECT_EQ(receive_until_eof(c), "abc|eof");
}

TEST_F(PortmapRelay, BulkDataBothWaysArrivesWhole) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18098)});
  auto c = tcp_connect("127.0.0.1", 18098);
  ASSERT_TRUE(c) << std::strerror(errno);
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 7 + i / 4096);
  std::thread writer([&] {
    send_all(c, data);
    ::shutdown(c.get(), SHUT_WR);
  });
  const std::string back = receive_until_eof(c);
  writer.join();
  ASSERT_EQ(back.size(), data.size() + 4);
  EXPECT_TRUE(back.compare(0, data.size(), data) == 0) << "the echo differs from what was sent";
  EXPECT_EQ(back.substr(data.size()), "|eof");
}

TEST_F(PortmapRelay, AClosedContainerPortClosesTheClientPromptly) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18099, kClosedPort)});
  auto c = tcp_connect("127.0.0.1", 18099);
  ASSERT_TRUE(c) << std::strerror(errno);  // the relay accepts before it knows
  EXPECT_TRUE(closes_within(c, 2s)) << "the connection stayed open";
}

TEST_F(PortmapRelay, UdpBothWaysWithTwoClientsOnSeparateFlows) {
  relay().publish("k", target(), {udp("127.0.0.1", 18200), udp("::1", 18200)});
  auto a = udp_client("127.0.0.1");
  auto b = udp_client("127.0.0.1");
  // Both send before either reads: each gets its own answer back, from the published port.
  udp_send(a, "127.0.0.1", 18200, "from a");
  udp_send(b, "127.0.0.1", 18200, "from b");
  std::string from;
  EXPECT_EQ(udp_receive(a, &from), "from a");
  EXPECT_EQ(from, "127.0.0.1:18200");
  EXPECT_EQ(udp_receive(b), "from b");
  for (int i = 0; i < 5; i++) {
    EXPECT_EQ(udp_exchange(b, "127.0.0.1", 18200, "b" + std::to_string(i)),
              "b" + std::to_string(i));
    EXPECT_EQ(udp_exchange(a, "127.0.0.1", 18200, "a" + std::to_string(i)),
              "a" + std::to_string(i));
  }
  // One flow (one source address in the container) per client, kept across datagrams.
  const auto sources = container_->udp_sources();
  EXPECT_EQ(sources.size(), 2u);
  for (const auto& s : sources) EXPECT_EQ(s.rfind("10.9.0.2:", 0), 0u) << s;

  // The largest datagram IPv4 carries, and IPv6 to the container's IPv6 address.
  const std::string big(65507, 'x');
  EXPECT_EQ(udp_exchange(a, "127.0.0.1", 18200, big), big);
  auto six = udp_client("::1");
  EXPECT_EQ(udp_exchange(six, "::1", 18200, "over six"), "over six");
  EXPECT_EQ(container_->udp_sources().size(), 3u);
  bool saw_six = false;
  for (const auto& s : container_->udp_sources()) saw_six |= s.rfind("[fd00::2]:", 0) == 0;
  EXPECT_TRUE(saw_six);
}

TEST_F(PortmapRelay, UdpOnEveryAddressAnswersBothFamilies) {
  relay().publish("k", target(), {udp(nullptr, 18203)});
  auto four = udp_client("127.0.0.1");
  auto six = udp_client("::1");
  std::string from;
  udp_send(four, "127.0.0.1", 18203, "four");
  EXPECT_EQ(udp_receive(four, &from), "four");
  EXPECT_EQ(from, "127.0.0.1:18203");
  udp_send(six, "::1", 18203, "six");
  EXPECT_EQ(udp_receive(six, &from), "six");
  EXPECT_EQ(from, "[::1]:18203");
  std::set<std::string> families;
  for (const auto& s : container_->udp_sources()) families.insert(s.substr(0, 5));
  EXPECT_EQ(families, (std::set<std::string>{"10.9.", "[fd00"}));
}

TEST_F(PortmapRelay, NoBindingsIsUnpublish) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18204)});
  ASSERT_EQ(connect_error("127.0.0.1", 18204), 0);
  Target gone = target();
  gone.sandbox = (sandboxes_.dir() / "gone").string();  // not even looked at
  relay().publish("k", gone, {});
  EXPECT_EQ(connect_error("127.0.0.1", 18204), ECONNREFUSED);
}

TEST_F(PortmapRelay, AnIdleUdpFlowExpires) {
  relay(RelayOptions{.udp_idle_timeout = 200ms}).publish("k", target(), {udp("127.0.0.1", 18201)});
  auto a = udp_client("127.0.0.1");
  ASSERT_EQ(udp_exchange(a, "127.0.0.1", 18201, "first"), "first");
  ASSERT_EQ(container_->udp_sources().size(), 1u);
  // Idle past the timeout, the next datagram needs a new flow: a new source in the container.
  // Each try waits longer, so a slow machine only costs more tries.
  for (int attempt = 1; attempt <= 8 && container_->udp_sources().size() < 2; attempt++) {
    std::this_thread::sleep_for(attempt * 400ms);
    ASSERT_EQ(udp_exchange(a, "127.0.0.1", 18201, "again"), "again");
  }
  EXPECT_EQ(container_->udp_sources().size(), 2u) << "the flow never expired";
}

TEST_F(PortmapRelay, UdpFlowsBeyondTheCapEvictTheLeastRecentlyUsed) {
  relay(RelayOptions{.max_udp_flows = 2}).publish("k", target(), {udp("127.0.0.1", 18202)});
  auto a = udp_client("127.0.0.1");
  auto b = udp_client("127.0.0.1");
  auto c = udp_client("127.0.0.1");
  ASSERT_EQ(udp_exchange(a, "127.0.0.1", 18202, "a"), "a");
  ASSERT_EQ(udp_exchange(b, "127.0.0.1", 18202, "b"), "b");
  ASSERT_EQ(udp_exchange(c, "127.0.0.1", 18202, "c"), "c");  // evicts a's flow
  EXPECT_EQ(container_->udp_sources().size(), 3u);
  EXPECT_EQ(udp_exchange(a, "127.0.0.1", 18202, "a2"), "a2");  // a new flow; evicts b's
  EXPECT_EQ(container_->udp_sources().size(), 4u);
  EXPECT_EQ(udp_exchange(c, "127.0.0.1", 18202, "c2"), "c2");  // c's flow is still there
  EXPECT_EQ(container_->udp_sources().size(), 4u);
}

TEST_F(PortmapRelay, ADifferentSetReplacesThePublication) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18300), tcp("127.0.0.1", 18301)});
  auto kept = tcp_connect("127.0.0.1", 18300);
  ASSERT_TRUE(kept) << std::strerror(errno);
  ASSERT_EQ(round_trip(kept, "one"), "one");

  relay().publish("k", target(), {tcp("127.0.0.1", 18300), tcp("127.0.0.1", 18302)});
  EXPECT_EQ(connect_error("127.0.0.1", 18301), ECONNREFUSED) << "the dropped port still answers";
  auto added = tcp_connect("127.0.0.1", 18302);
  ASSERT_TRUE(added) << std::strerror(errno);
  EXPECT_EQ(round_trip(added, "new"), "new");
  EXPECT_EQ(round_trip(kept, "two"), "two") << "the kept port lost its open connection";
}

// Docker 29, a dual-stack gateway becoming IPv4-only: the same port, every address -> 0.0.0.0, with
// no Revoke between (the kernel refuses 0.0.0.0:P while the key's own [::]:P is bound). And back.
TEST_F(PortmapRelay, TheSamePortUnderAnotherHostAddressIsRebound) {
  relay().publish("k", target(), {tcp(nullptr, 18310)});
  EXPECT_EQ(round_trip(tcp_connect("::1", 18310), "six"), "six");
  relay().publish("k", target(), {tcp("0.0.0.0", 18310)});
  EXPECT_EQ(round_trip(tcp_connect("127.0.0.1", 18310), "four"), "four");
  EXPECT_EQ(connect_error("::1", 18310), ECONNREFUSED) << "IPv6 still answers after 0.0.0.0";
  relay().publish("k", target(), {tcp(nullptr, 18310)});
  EXPECT_EQ(round_trip(tcp_connect("::1", 18310), "six"), "six");
  EXPECT_EQ(round_trip(tcp_connect("127.0.0.1", 18310), "four"), "four");
}

TEST_F(PortmapRelay, AKeptPortWithANewContainerPortClosesItsOldConnections) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18303)});
  auto old = tcp_connect("127.0.0.1", 18303);
  ASSERT_TRUE(old) << std::strerror(errno);
  ASSERT_EQ(round_trip(old, "old"), "old");
  relay().publish("k", target(), {tcp("127.0.0.1", 18303, kEchoPort2)});
  EXPECT_TRUE(closes_within(old, kDeadline)) << "a connection to the old destination stayed";
  auto now = tcp_connect("127.0.0.1", 18303);
  ASSERT_TRUE(now) << std::strerror(errno);
  EXPECT_EQ(round_trip(now, "new"), "new");
  EXPECT_EQ(container_->last_arrival(), "10.9.0.2:8081");
}

TEST_F(PortmapRelay, TheSameSetAgainChangesNothing) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18310), udp("127.0.0.1", 18311)});
  auto c = tcp_connect("127.0.0.1", 18310);
  ASSERT_TRUE(c) << std::strerror(errno);
  ASSERT_EQ(round_trip(c, "before"), "before");
  auto u = udp_client("127.0.0.1");
  ASSERT_EQ(udp_exchange(u, "127.0.0.1", 18311, "before"), "before");
  // In another order, as Docker 29 sends them.
  relay().publish("k", target(), {udp("127.0.0.1", 18311), tcp("127.0.0.1", 18310)});
  EXPECT_EQ(round_trip(c, "after"), "after");
  EXPECT_EQ(udp_exchange(u, "127.0.0.1", 18311, "after"), "after");
  EXPECT_EQ(container_->arrivals(), 1u);
  EXPECT_EQ(container_->udp_sources().size(), 1u) << "the UDP flow was replaced";
}

TEST_F(PortmapRelay, UnpublishClosesListenersAndConnections) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18320), udp("127.0.0.1", 18321)});
  auto c = tcp_connect("127.0.0.1", 18320);
  ASSERT_TRUE(c) << std::strerror(errno);
  ASSERT_EQ(round_trip(c, "hi"), "hi");
  relay().unpublish("k");
  EXPECT_EQ(connect_error("127.0.0.1", 18320), ECONNREFUSED);
  EXPECT_TRUE(closes_within(c, kDeadline)) << "an open connection survived unpublish";
  // Unknown keys and a second revoke are ignored.
  relay().unpublish("k");
  relay().unpublish("never published");
  // The ports are free again, for this key or another.
  relay().publish("k2", target(), {tcp("127.0.0.1", 18320), udp("127.0.0.1", 18321)});
  auto again = tcp_connect("127.0.0.1", 18320);
  ASSERT_TRUE(again) << std::strerror(errno);
  EXPECT_EQ(round_trip(again, "back"), "back");
}

TEST_F(PortmapRelay, DestroyingTheRelayClosesEverything) {
  relay().publish("k", target(), {tcp("127.0.0.1", 18330)});
  auto c = tcp_connect("127.0.0.1", 18330);
  ASSERT_TRUE(c) << std::strerror(errno);
  ASSERT_EQ(round_trip(c, "hi"), "hi");
  relay_.reset();
  EXPECT_EQ(connect_error("127.0.0.1", 18330), ECONNREFUSED);
  EXPECT_TRUE(closes_within(c, kDeadline));
}

TEST_F(PortmapRelay, APortInUseIsAnInputErrorAndThePreviousPublicationStays) {
  auto other = occupy_tcp("127.0.0.1", 18341);
  relay().publish("k", target(), {tcp("127.0.0.1", 18340)});
  auto c = tcp_connect("127.0.0.1", 18340);
  ASSERT_TRUE(c) << std::strerror(errno);
  ASSERT_EQ(round_trip(c, "one"), "one");

  EXPECT_EQ(publish_error("k", target(), {tcp("127.0.0.1", 18340), tcp("127.0.0.1", 18341)}),
            "cannot publish 127.0.0.1:18341->8080/tcp: address already in use (another container "
            "or program has it): choose another host port");
  EXPECT_EQ(round_trip(c, "two"), "two");
  auto fresh = tcp_connect("127.0.0.1", 18340);
  ASSERT_TRUE(fresh) << std::strerror(errno);
  EXPECT_EQ(round_trip(fresh, "fresh"), "fresh");

  // All or nothing: 18342 (bound first, its container port sorts first) is closed again.
  const auto message =
      publish_error("k2", target(), {tcp("127.0.0.1", 18342), tcp("127.0.0.1", 18341, 8081)});
  EXPECT_NE(message.find("127.0.0.1:18341->8081/tcp"), std::string::npos) << message;
  EXPECT_EQ(connect_error("127.0.0.1", 18342), ECONNREFUSED);
  // And the key that failed holds nothing: publishing it without the taken port works.
  relay().publish("k2", target(), {tcp("127.0.0.1", 18342)});
  auto k2 = tcp_connect("127.0.0.1", 18342);
  ASSERT_TRUE(k2) << std::strerror(errno);
  EXPECT_EQ(round_trip(k2, "k2"), "k2");
}

TEST_F(PortmapRelay, ARangeUsesItsFirstFreePort) {
  auto other = occupy_tcp("127.0.0.1", 18350);
  relay().publish("k", target(), {tcp("127.0.0.1", 18350, kEchoPort, 18352)});
  auto c = tcp_connect("127.0.0.1", 18351);
  ASSERT_TRUE(c) << std::strerror(errno);
  EXPECT_EQ(round_trip(c, "ranged"), "ranged");
  EXPECT_EQ(connect_error("127.0.0.1", 18352), ECONNREFUSED) << "took more than one port";
  // A range whose every port is taken.
  auto taken1 = occupy_tcp("127.0.0.1", 18353);
  auto taken2 = occupy_tcp("127.0.0.1", 18354);
  const auto message = publish_error("k2", target(), {tcp("127.0.0.1", 18353, kEchoPort2, 18354)});
  EXPECT_EQ(message,
            "cannot publish 127.0.0.1:18353-18354->8081/tcp: every port of the range is in use: "
            "choose another range");
}

TEST_F(PortmapRelay, ReplacingKeepsAPortOfARangeTheKeyHolds) {
  auto other = occupy_tcp("127.0.0.1", 18360);
  relay().publish("k", target(), {tcp("127.0.0.1", 18360, kEchoPort, 18362)});
  auto c = tcp_connect("127.0.0.1", 18361);
  ASSERT_TRUE(c) << std::strerror(errno);
  ASSERT_EQ(round_trip(c, "one"), "one");
  other.reset();  // 18360 is free now, but the key keeps the port it has
  relay().publish("k", target(), {tcp("127.0.0.1", 18360, kEchoPort, 18362), udp("::1", 18363)});
  EXPECT_EQ(round_trip(c, "two"), "two");
  EXPECT_EQ(connect_error("127.0.0.1", 18360), ECONNREFUSED);
}

TEST_F(PortmapRelay, TcpConnectionsBeyondTheCapAreClosedAtOnce) {
  relay(RelayOptions{.max_tcp_connections = 2}).publish("k", target(), {tcp("127.0.0.1", 18370)});
  auto a = tcp_connect("127.0.0.1", 18370);
  auto b = tcp_connect("127.0.0.1", 18370);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(round_trip(a, "a"), "a");
  ASSERT_EQ(round_trip(b, "b"), "b");
  auto over = tcp_connect("127.0.0.1", 18370);
  ASSERT_TRUE(over) << std::strerror(errno);
  EXPECT_TRUE(closes_within(over, kDeadline)) << "a connection over the cap was relayed";
  // Once one closes, a new one is relayed again (as soon as the relay has seen the close).
  a.reset();
  bool relayed = false;
  const auto end = std::chrono::steady_clock::now() + kDeadline;
  while (!relayed && std::chrono::steady_clock::now() < end) {
    auto c = tcp_connect("127.0.0.1", 18370);
    set_receive_timeout(c, 500ms);
    relayed = c && round_trip(c, "c") == "c";
  }
  EXPECT_TRUE(relayed);
  EXPECT_EQ(round_trip(b, "still"), "still");
}

// The relay-wide cap holds over every binding: two ports, two connections in all.
TEST_F(PortmapRelay, TheRelayWideCapCountsEveryPort) {
  relay(RelayOptions{.max_relayed = 2})
      .publish("k", target(), {tcp("127.0.0.1", 18375), tcp("127.0.0.1", 18376)});
  auto a = tcp_connect("127.0.0.1", 18375);
  auto b = tcp_connect("127.0.0.1", 18376);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(round_trip(a, "a"), "a");
  ASSERT_EQ(round_trip(b, "b"), "b");
  auto over = tcp_connect("127.0.0.1", 18376);
  ASSERT_TRUE(over) << std::strerror(errno);
  EXPECT_TRUE(closes_within(over, kDeadline)) << "a connection over the relay's cap was relayed";
  EXPECT_EQ(round_trip(a, "still"), "still");
}

TEST_F(PortmapRelay, RefusesWhatItCannotPublishWithTheReason) {
  // Not an address of this host.
  auto message = publish_error("k", target(), {tcp("10.99.0.1", 18380)});
  EXPECT_EQ(message.rfind("cannot publish 10.99.0.1:18380->8080/tcp: address not available", 0), 0u)
      << message;
  // A random host port (Docker's -P).
  message = publish_error("k", target(), {tcp("127.0.0.1", 0)});
  EXPECT_NE(message.find("random host port"), std::string::npos) << message;
  // A sandbox that is no namespace (Docker unmounted it), or is gone.
  Target stopped = target();
  stopped.sandbox = (sandboxes_.dir() / "stopped").string();
  std::ofstream{stopped.sandbox};
  message = publish_error("k", stopped, {tcp("127.0.0.1", 18381)});
  EXPECT_NE(message.find("not a network namespace"), std::string::npos) << message;
  stopped.sandbox = (sandboxes_.dir() / "gone").string();
  message = publish_error("k", stopped, {tcp("127.0.0.1", 18381)});
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
  // No address to relay to.
  message = publish_error("k", target(false, false), {tcp("127.0.0.1", 18381)});
  EXPECT_NE(message.find("no IP address"), std::string::npos) << message;
  // None of it left a listener behind.
  EXPECT_EQ(connect_error("127.0.0.1", 18381), ECONNREFUSED);
}

TEST_F(PortmapRelay, ConcurrentPublishersEachGetTheirOwn) {
  Relay& r = relay();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      const auto port = static_cast<uint16_t>(18400 + t * 10);
      const std::string key = "key" + std::to_string(t);
      try {
        for (int i = 0; i < 20; i++) {
          r.publish(key, target(), {tcp("127.0.0.1", port), udp("127.0.0.1", port)});
          r.publish(key, target(), {tcp("127.0.0.1", static_cast<uint16_t>(port + 1 + i % 2))});
          if (i % 3 == 0) r.unpublish(key);
        }
        r.publish(key, target(), {tcp("127.0.0.1", port)});
      } catch (const std::exception& e) {
        ADD_FAILURE() << key << ": " << e.what();
        failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  for (int t = 0; t < 4; t++) {
    const auto port = static_cast<uint16_t>(18400 + t * 10);
    auto c = tcp_connect("127.0.0.1", port);
    ASSERT_TRUE(c) << port << ": " << std::strerror(errno);
    EXPECT_EQ(round_trip(c, "t" + std::to_string(t)), "t" + std::to_string(t));
    EXPECT_EQ(connect_error("127.0.0.1", static_cast<uint16_t>(port + 1)), ECONNREFUSED);
    EXPECT_EQ(connect_error("127.0.0.1", static_cast<uint16_t>(port + 2)), ECONNREFUSED);
  }
}
