// Two TUN devices in two namespaces and a relay moving packets between them as the engine would
// around its crypto, plus a TCP stream through them: shared by the TUN integration tests and the
// I/O benchmark.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <string>
#include <thread>

#include "engine/linux/tun_linux.h"
#include "engine_io_test_util.h"

namespace wgnet::itest {

inline IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// Adds the addresses to `ifname` and brings it up (current namespace), once the IPv6 one is usable.
inline void address_up(const std::string& ifname, const char* v4, const char* v6) {
  disable_dad(ifname);
  netlink::rtnl::add_address(ifname, *Cidr::parse(v4));
  if (v6) netlink::rtnl::add_address(ifname, *Cidr::parse(v6));
  netlink::rtnl::set_up(ifname, true);
  if (v6) wait_address_usable(Cidr::parse(v6)->address());
}

// Moves packets both ways between two TUNs on a thread of its own.
class Relay {
 public:
  Relay(engine::TunLinux& a, engine::TunLinux& b, size_t batch = 128)
      : a_(a), b_(b), buf_(batch), thread_([this] { loop(); }) {}
  ~Relay() { stop(); }
  uint64_t pending_seen() const { return pending_seen_; }
  std::string error() const { return error_; }
  // Stops the relay; returns the CPU time its thread used.
  double stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return cpu_seconds_;
  }

 private:
  void loop() {
    try {
      while (!stop_) {
        pollfd p[2] = {{a_.fd(), POLLIN, 0}, {b_.fd(), POLLIN, 0}};
        bool pending = a_.has_pending() || b_.has_pending();
        ::poll(p, 2, pending ? 0 : 20);
        pump(a_, b_);
        pump(b_, a_);
      }
    } catch (const std::exception& e) {
      error_ = e.what();
    }
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    cpu_seconds_ = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  void pump(engine::TunLinux& from, engine::TunLinux& to) {
    for (int i = 0; i < 64; i++) {
      auto packets = buf_.reset();
      size_t n = from.read(packets);
      if (from.has_pending()) pending_seen_++;
      if (n == 0) break;
      to.write(packets.subspan(0, n));
    }
  }

  engine::TunLinux& a_;
  engine::TunLinux& b_;
  Batch buf_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> pending_seen_{0};
  std::string error_;
  double cpu_seconds_ = 0;
  std::thread thread_;
};

// Two namespaces, each with a TUN: A 10.77.0.1 / fd77::1, B 10.77.0.2 / fd77::2.
struct TunPair {
  Netns a = Netns::create();
  Netns b = Netns::create();
  std::unique_ptr<engine::TunLinux> ta, tb;

  TunPair(bool offloads_a, bool offloads_b, uint32_t mtu = 1420) {
    engine::TunOptions o;
    o.mtu = mtu;
    o.offloads = offloads_a;
    ta = a.run([&] {
      auto t = engine::TunLinux::create(o);
      address_up(t->name(), "10.77.0.1/24", "fd77::1/64");
      return t;
    });
    o.offloads = offloads_b;
    tb = b.run([&] {
      auto t = engine::TunLinux::create(o);
      address_up(t->name(), "10.77.0.2/24", "fd77::2/64");
      return t;
    });
  }
};

inline socklen_t sockaddr_of(const IpAddress& a, uint16_t port, sockaddr_storage& sa) {
  sa = {};
  if (a.is_v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&sa);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    std::memcpy(&s->sin_addr, a.bytes().data(), 4);
    return sizeof *s;
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&sa);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  std::memcpy(&s->sin6_addr, a.bytes().data(), 16);
  return sizeof *s;
}

inline Fd tcp_socket(bool v6) {
  Fd s(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw SystemError(std::string("socket: ") + std::strerror(errno));
  timeval tv{20, 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  return s;
}

struct TransferResult {
  size_t received = 0;
  bool intact = true;
  std::string error;
};

// Streams `total` bytes from A to B over TCP (through whatever moves packets between the TUNs)
// and checks every byte: byte i of the stream is i mod 251.
inline TransferResult tcp_transfer(TunPair& pair, bool v6, size_t total, int client_mss = 0) {
  constexpr size_t kChunk = 1 << 20, kPeriod = 251;
  std::vector<uint8_t> pattern(kChunk + kPeriod);
  for (size_t i = 0; i < pattern.size(); i++) pattern[i] = static_cast<uint8_t>(i % kPeriod);
  sockaddr_storage sa;
  socklen_t len = sockaddr_of(ip(v6 ? "fd77::2" : "10.77.0.2"), 5001, sa);
  Fd listener = pair.b.run([&] {
    Fd s = tcp_socket(v6);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(s.get(), 1) != 0)
      throw SystemError(std::string("bind/listen: ") + std::strerror(errno));
    return s;
  });
  Fd client = pair.a.run([&] { return tcp_socket(v6); });
  if (client_mss)
    ::setsockopt(client.get(), IPPROTO_TCP, TCP_MAXSEG, &client_mss, sizeof client_mss);

  TransferResult result;
  std::thread server([&] {
    Fd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    std::vector<uint8_t> buf(kChunk);
    size_t at = 0;
    while (true) {
      ssize_t r = ::recv(c.get(), buf.data(), buf.size(), 0);
      if (r <= 0) break;
      if (std::memcmp(buf.data(), &pattern[at % kPeriod], static_cast<size_t>(r)) != 0)
        result.intact = false;
      at += static_cast<size_t>(r);
    }
    result.received = at;
  });
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0) {
    for (size_t sent = 0; sent < total;) {
      size_t n = std::min(kChunk, total - sent);
      ssize_t w = ::send(client.get(), &pattern[sent % kPeriod], n, MSG_NOSIGNAL);
      if (w <= 0) {
        result.error = std::string("send: ") + std::strerror(errno);
        break;
      }
      sent += static_cast<size_t>(w);
    }
    ::shutdown(client.get(), SHUT_WR);
  } else {
    result.error = std::string("connect: ") + std::strerror(errno);
    ::shutdown(listener.get(), SHUT_RDWR);
  }
  server.join();
  return result;
}

}  // namespace wgnet::itest
