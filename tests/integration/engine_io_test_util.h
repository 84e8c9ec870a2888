// Helpers of the engine I/O integration tests: network namespaces held by a descriptor (nothing
// named, nothing left behind when a test dies), packet batches, and IPv6 without DAD delays.
#pragma once
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "engine/packet.h"
#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/ip.h"
#include "util/netns.h"

namespace wgnet::itest {

// A network namespace of its own, alive while this object (or a device or socket in it) lives.
class Netns {
 public:
  static Netns create() {
    Fd fd;
    std::string error;
    std::thread t([&] {
      // Only this short-lived thread moves; the namespace stays alive through the descriptor.
      if (::unshare(CLONE_NEWNET) != 0) {
        error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
        return;
      }
      fd.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      if (!fd) error = std::string("open own netns: ") + std::strerror(errno);
      try {
        netlink::rtnl::set_up("lo", true);
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    t.join();
    if (!error.empty()) throw SystemError(error);
    return Netns(std::move(fd));
  }

  int fd() const { return fd_.get(); }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_.get()); }

  // Runs f on a thread inside the namespace and returns what it returns (sockets and devices
  // made there stay there).
  template <typename F>
  auto run(F&& f) const -> std::invoke_result_t<F> {
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
      netns::run_in(path(), f);
    } else {
      std::optional<R> out;
      netns::run_in(path(), [&] { out.emplace(f()); });
      return std::move(*out);
    }
  }

 private:
  explicit Netns(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

// A veth pair between two namespaces: `a_name` in `a`, `b_name` in `b`, both down and without
// addresses (this kernel may have no dummy links; the kernel names the peer, moved and renamed).
inline void veth_between(const Netns& a, const std::string& a_name, const Netns& b,
                         const std::string& b_name) {
  a.run([&] {
    netlink::rtnl::create_link(a_name, "veth");
    std::string peer;
    for (auto& l : netlink::rtnl::list_links())
      if (l.kind == "veth" && l.name != a_name) peer = l.name;
    netlink::rtnl::move_link(peer, b.fd(), b_name);
  });
}

// Turns off duplicate address detection on `ifname` (current namespace), so IPv6 addresses are
// usable at once.
inline void disable_dad(const std::string& ifname) {
  std::ofstream("/proc/sys/net/ipv6/conf/" + ifname + "/accept_dad") << "0";
}

// Waits (up to 3 s) until `address` can be bound in the current namespace: an IPv6 address stays
// tentative for a moment after its link comes up, even without DAD.
inline void wait_address_usable(const IpAddress& address) {
  for (int i = 0; i < 300; i++) {
    Fd s(::socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 a6{};
    sockaddr_in a4{};
    int rc;
    if (address.is_v4()) {
      a4.sin_family = AF_INET;
      std::memcpy(&a4.sin_addr, address.bytes().data(), 4);
      rc = ::bind(s.get(), reinterpret_cast<sockaddr*>(&a4), sizeof a4);
    } else {
      a6.sin6_family = AF_INET6;
      std::memcpy(&a6.sin6_addr, address.bytes().data(), 16);
      rc = ::bind(s.get(), reinterpret_cast<sockaddr*>(&a6), sizeof a6);
    }
    if (rc == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw SystemError("address " + address.str() + " never became usable");
}

// Buffers of the engine's size, handed out as a batch of Packets at kHeadroom.
class Batch {
 public:
  explicit Batch(size_t n, size_t capacity = engine::kBufferSize)
      : capacity_(static_cast<uint32_t>(capacity)), packets_(n) {
    for (size_t i = 0; i < n; i++) store_.push_back(std::make_unique<uint8_t[]>(capacity));
    reset();
  }
  // Every packet back in its own buffer (a UDP receive makes GRO segments views of one buffer).
  std::span<engine::Packet> reset() {
    for (size_t i = 0; i < packets_.size(); i++)
      packets_[i] = engine::Packet{store_[i].get(), capacity_, engine::kHeadroom, 0};
    return packets_;
  }
  std::span<engine::Packet> packets() { return packets_; }
  engine::Packet& operator[](size_t i) { return packets_[i]; }
  void set(size_t i, const std::vector<uint8_t>& bytes) {
    packets_[i].offset = engine::kHeadroom;
    packets_[i].size = static_cast<uint32_t>(bytes.size());
    std::memcpy(packets_[i].base + packets_[i].offset, bytes.data(), bytes.size());
  }

 private:
  uint32_t capacity_;
  std::vector<engine::Packet> packets_;
  std::vector<std::unique_ptr<uint8_t[]>> store_;
};

inline std::vector<uint8_t> bytes_of(const engine::Packet& p) {
  return {p.base + p.offset, p.base + p.offset + p.size};
}

// Waits up to `ms` for `fd` to be readable; returns the poll events (0 on timeout).
inline short wait_readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0 ? p.revents : 0;
}

}  // namespace wgnet::itest
