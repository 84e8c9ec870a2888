// In-memory stand-ins for the engine's I/O (test code): a fake clock driven by hand, TUN devices
// that are queues of packets, and a UDP network of binds that deliver to each other by address
// and port. No sockets, no threads, no sleeps. Each TUN and bind also has an eventfd that is
// readable while it has something to read (poll_fd, poll_fds), so the Linux runtime's event loop
// can drive them too (engine_event_loop_test).
#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "crypto/dh.h"
#include "crypto/x25519.h"
#include "engine/bind.h"
#include "engine/clock.h"
#include "engine/device.h"
#include "engine/packet.h"
#include "engine/tun.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/ip.h"

namespace wgnet::engine::testing {

using Bytes = std::vector<uint8_t>;

// Time moved by hand; an engine's threads may read it while the test moves it.
class FakeClock final : public Clock {
 public:
  static constexpr Time kStart{std::chrono::hours(1000)};
  static constexpr std::chrono::system_clock::time_point kWallStart{
      std::chrono::seconds(1'700'000'000)};

  Time now() const override { return kStart + elapsed(); }
  std::chrono::system_clock::time_point wall() const override {
    return kWallStart + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed());
  }
  void advance(std::chrono::nanoseconds d) { elapsed_ += d.count(); }

 private:
  std::chrono::nanoseconds elapsed() const { return std::chrono::nanoseconds(elapsed_.load()); }
  std::atomic<int64_t> elapsed_{0};
};

inline IpAddress ip(const char* s) { return *IpAddress::parse(s); }

// An IPv4 packet (no options, no checksum: the core does not read it) with `payload` bytes.
inline Bytes ipv4(const char* src, const char* dst, size_t payload, uint8_t fill = 0xab) {
  Bytes p(20 + payload, fill);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = static_cast<uint8_t>(p.size() >> 8);
  p[3] = static_cast<uint8_t>(p.size());
  p[8] = 64;
  p[9] = 17;
  const IpAddress s = ip(src), d = ip(dst);
  std::copy(s.bytes().begin(), s.bytes().end(), p.begin() + 12);
  std::copy(d.bytes().begin(), d.bytes().end(), p.begin() + 16);
  return p;
}

// An eventfd that is readable exactly while its owner has something to read: set(true) when
// something arrives, set(false) when the last of it was taken (both under the owner's lock).
class Readiness {
 public:
  Readiness() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!fd_) throw SystemError("eventfd");
  }
  int fd() const { return fd_.get(); }
  void set(bool ready) {
    uint64_t v = 1;
    [[maybe_unused]] auto r =
        ready ? ::write(fd_.get(), &v, sizeof v) : ::read(fd_.get(), &v, sizeof v);
  }

 private:
  Fd fd_;
};

// Copies `bytes` into packet p (at its offset) and sets its size.
inline void fill(Packet& p, const Bytes& bytes) {
  std::copy(bytes.begin(), bytes.end(), p.base + p.offset);
  p.size = static_cast<uint32_t>(bytes.size());
}
inline Bytes bytes_of(const Packet& p) { return {p.base + p.offset, p.base + p.offset + p.size}; }

class MemoryTun final : public Tun {
 public:
  size_t read(std::span<Packet> packets) override {
    std::lock_guard lock(mu_);
    size_t n = 0;
    while (n < packets.size() && !from_host.empty()) {
      fill(packets[n++], from_host.front());
      from_host.pop_front();
    }
    if (from_host.empty()) ready_.set(false);
    return n;
  }
  void write(std::span<Packet> packets) override {
    {
      std::lock_guard lock(mu_);
      for (const auto& p : packets) to_host.push_back(bytes_of(p));
    }
    written_.notify_all();
  }
  size_t batch_size() const override { return 32; }
  uint32_t mtu() const override { return mtu_; }
  void note_mtu(uint32_t mtu) override { mtu_ = mtu; }
  int poll_fd() const override { return ready_.fd(); }

  // While another thread may read and write (an event loop): a packet from the host, and what
  // the device wrote to the host once there are `n` packets, or when `timeout` passed.
  void inject(Bytes packet) {
    std::lock_guard lock(mu_);
    from_host.push_back(std::move(packet));
    ready_.set(true);
  }
  std::vector<Bytes> wait_written(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    written_.wait_for(lock, timeout, [&] { return to_host.size() >= n; });
    return to_host;
  }

  std::deque<Bytes> from_host;  // packets the host sends into the tunnel (the device reads them)
  std::vector<Bytes> to_host;   // packets the device wrote (delivered to the host)
  std::atomic<uint32_t> mtu_ = 1420;

 private:
  std::mutex mu_;
  std::condition_variable written_;
  Readiness ready_;
};

class MemoryBind;

// Datagrams between binds, keyed by address and port. Every datagram is also logged, and a
// filter may drop (return false) or inspect it on the way. Sending, receiving, attaching and
// detaching are thread-safe (mu); tests that touch log or inboxes directly hold mu or do so while
// no device thread runs.
class MemoryNetwork {
 public:
  std::mutex mu;
  struct Datagram {
    NetEndpoint from, to;
    Bytes bytes;
  };
  std::function<bool(const Datagram&)> filter;
  std::vector<Datagram> log;

  // Each takes mu.
  void attach(const wg::Endpoint& at, MemoryBind* b) {
    std::lock_guard lock(mu);
    if (binds_.count(at)) throw SystemError("address in use");
    binds_[at] = b;
  }
  void detach(const wg::Endpoint& at) {
    std::lock_guard lock(mu);
    binds_.erase(at);
  }
  bool in_use(const wg::Endpoint& at) {
    std::lock_guard lock(mu);
    return binds_.count(at) > 0;
  }
  void deliver(Datagram d);

 private:
  struct Less {
    bool operator()(const wg::Endpoint& a, const wg::Endpoint& b) const {
      return std::tie(a.address, a.port) < std::tie(b.address, b.port);
    }
  };
  std::map<wg::Endpoint, MemoryBind*, Less> binds_;
};

class MemoryBind final : public Bind {
 public:
  MemoryBind(MemoryNetwork& net, wg::Endpoint at) : net_(net), at_(at) { net_.attach(at_, this); }
  ~MemoryBind() override { net_.detach(at_); }

  size_t receive(std::span<Packet> packets, std::span<NetEndpoint> from) override {
    std::lock_guard lock(net_.mu);
    size_t n = 0;
    while (n < packets.size() && !inbox.empty()) {
      fill(packets[n], inbox.front().bytes);
      from[n] = inbox.front().from;
      inbox.pop_front();
      n++;
    }
    if (inbox.empty()) ready.set(false);
    return n;
  }
  void send(std::span<const Packet> datagrams, const NetEndpoint& to) override {
    // The receiver sees our address as the source and its own as the local address.
    for (const auto& p : datagrams)
      net_.deliver({NetEndpoint{at_, to.remote.address, 0}, to, bytes_of(p)});
  }
  uint16_t port() const override { return at_.port; }
  void set_mark(uint32_t mark) override { this->mark = mark; }
  size_t batch_size() const override { return 32; }
  std::vector<int> poll_fds() const override { return {ready.fd()}; }

  std::deque<MemoryNetwork::Datagram> inbox;
  Readiness ready;  // readable while the inbox has datagrams
  uint32_t mark = 0;

 private:
  MemoryNetwork& net_;
  wg::Endpoint at_;
};

inline void MemoryNetwork::deliver(Datagram d) {
  std::lock_guard lock(mu);
  log.push_back(d);
  if (filter && !filter(d)) return;
  auto it = binds_.find(d.to.remote);
  if (it == binds_.end()) return;
  it->second->inbox.push_back(std::move(d));
  it->second->ready.set(true);
}

// Opens binds at one address; port 0 takes the next free port from 40000.
class MemoryBindFactory final : public BindFactory {
 public:
  MemoryBindFactory(MemoryNetwork& net, IpAddress address) : net_(net), address_(address) {}
  std::unique_ptr<Bind> open(uint16_t port) override {
    if (fail_next) {
      fail_next = false;
      throw SystemError("bind: address in use");
    }
    if (port == 0)
      for (port = 40000; net_.in_use({address_, port}); port++) {
      }
    opened++;
    return std::make_unique<MemoryBind>(net_, wg::Endpoint{address_, port});
  }
  void move_to(IpAddress address) { address_ = address; }
  bool fail_next = false;
  int opened = 0;

 private:
  MemoryNetwork& net_;
  IpAddress address_;
};

// Packet buffers for one batch, as a worker owns them.
class Buffers {
 public:
  explicit Buffers(size_t count, size_t size = 4096)
      : storage_(count, Bytes(size)), packets_(count) {
    reset();
  }
  // Every packet back in its own buffer, at its offset, for a new read (a Bind may have made
  // entries views of other buffers).
  std::span<Packet> reset() {
    for (size_t i = 0; i < packets_.size(); i++)
      packets_[i] = Packet{storage_[i].data(), static_cast<uint32_t>(storage_[i].size()),
                           static_cast<uint32_t>(kHeadroom), 0};
    return packets_;
  }

 private:
  std::vector<Bytes> storage_;
  std::vector<Packet> packets_;
};

// A device with its own TUN, binds and worker buffers, stepped by hand as an event loop would.
struct DeviceNode {
  DeviceNode(MemoryNetwork& net, const Clock& clock, IpAddress address, DeviceOptions options = {},
             std::optional<crypto::Key> private_key = std::nullopt)
      : binds(net, address),
        dev(tun, binds, clock, std::move(options)),
        priv(private_key ? *private_key : crypto::generate_private_key()),
        pub(crypto::public_key(priv)) {}
  MemoryBind* bind() { return static_cast<MemoryBind*>(dev.bind().get()); }

  // One round: what the TUN has, what the bind has, the handshake queue. True when anything moved.
  bool step() {
    bool moved = false;
    auto tp = tun_buffers.reset();
    if (size_t n = tun.read(tp)) {
      dev.send(tp.first(n), out);
      moved = true;
    }
    if (auto* b = bind()) {
      auto up = udp_buffers.reset();
      std::vector<NetEndpoint> from(up.size());
      if (size_t n = b->receive(up, from)) {
        dev.receive(up.first(n), {from.data(), n}, in);
        moved = true;
      }
    }
    if (dev.process_handshakes()) moved = true;
    return moved;
  }

  MemoryTun tun;
  MemoryBindFactory binds;
  Device dev;
  OutboundBatch out;
  InboundBatch in;
  Buffers tun_buffers{32}, udp_buffers{32};
  crypto::Key priv, pub;
};

}  // namespace wgnet::engine::testing
