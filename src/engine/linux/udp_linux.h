// The engine's UDP sockets on Linux: one IPv4 and one IPv6 socket on the same port, batched with
// recvmmsg/sendmmsg, UDP_GRO and UDP_SEGMENT, and the sticky source address from IP_PKTINFO.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

#include "engine/bind.h"
#include "util/fd.h"

namespace wgnet::engine {

struct UdpOptions {
  bool ipv6 = true;            // also an IPv6 socket (skipped when the host has no IPv6)
  bool gso = true;             // UDP_SEGMENT when the kernel has it
  bool gro = true;             // UDP_GRO when the kernel has it
  int buffer_bytes = 7 << 20;  // SO_SNDBUF/SO_RCVBUF (the FORCE variants when allowed)
  uint32_t mark = 0;           // SO_MARK, 0 = none
  // SO_MARK is set by whoever opened the sockets (wgnetd, for a bind the engine adopted): then
  // set_mark() only records the mark (mark()), the bind never asks for CAP_NET_ADMIN.
  bool mark_by_owner = false;
  size_t batch = 128;          // batch_size()
};

// What the kernel accepted on this bind's sockets.
struct UdpFeatures {
  bool ipv6 = false;
  bool gso = false;  // may turn off later: a route whose device cannot checksum (EIO)
  bool gro = false;
};


class UdpBindLinux final : public Bind {
 public:
  // Binds port `port` (0 = any free port, the same for both families) in the calling thread's
  // network namespace, where the sockets stay whatever thread uses them later.
  static std::unique_ptr<UdpBindLinux> open(uint16_t port, const UdpOptions& options = {});
  // A bind around sockets another process opened as open() does (its features() with them): no
  // syscall that needs a privilege, only checks that fd4 (and fd6, exactly when features.ipv6)
  // is a non-blocking UDP socket of its family with pktinfo on, bound to `port`. options: batch
  // and mark_by_owner (the sockets' other options are the opener's). Throws SystemError.
  static std::unique_ptr<UdpBindLinux> adopt(Fd fd4, Fd fd6, uint16_t port,
                                             const UdpFeatures& features,
                                             const UdpOptions& options = {});

  // Reads both sockets, IPv4 first (IPv6 first on alternate calls, so one family cannot starve
  // the other); the second socket reads into the longer run of slots before or after the ones
  // the first socket's messages occupy, and with GRO only when at least 64 are free. With GRO a
  // call reads at most one super-datagram per 64 free slots: give it at least 64. Thread-safe.
  size_t receive(std::span<Packet> packets, std::span<NetEndpoint> from) override;
  // Thread-safe; the datagrams are only read.
  void send(std::span<const Packet> datagrams, const NetEndpoint& to) override;
  uint16_t port() const override { return port_; }
  void set_mark(uint32_t mark) override;
  uint32_t mark() const { return mark_.load(); }
  size_t batch_size() const override { return batch_; }

  // The sockets to poll for EPOLLIN (-1 when that family is off).
  int fd4() const { return fd4_.get(); }
  int fd6() const { return fd6_.get(); }
  std::vector<int> poll_fds() const override;
  UdpFeatures features() const;
  BindStats stats() const override;

 private:
  UdpBindLinux(Fd fd4, Fd fd6, uint16_t port, const UdpOptions& options);
  // What one socket's receive left in its span: packets[0, datagrams) are views into the buffers
  // of the slots [busy_begin, busy_end) (where its messages were read), which must not be read
  // into again before the caller resets the batch.
  struct SocketReceive {
    size_t datagrams = 0;
    size_t busy_begin = 0, busy_end = 0;
  };
  SocketReceive receive_socket(int fd, std::span<Packet> packets, std::span<NetEndpoint> from);
  // Sends with the source address when `with_source`, with UDP_SEGMENT when `allow_gso` and the
  // bind has it; every datagram is sent or counted as dropped.
  void send_socket(int fd, std::span<const Packet> datagrams, const NetEndpoint& to,
                   bool with_source, bool allow_gso);

  Fd fd4_, fd6_;
  uint16_t port_;
  size_t batch_;
  bool gro_ = false;
  bool ipv6_ = false;
  bool mark_by_owner_ = false;
  std::atomic<uint32_t> mark_{0};
  std::atomic<bool> gso_{false};
  std::atomic<unsigned> turn_{0};

  struct Counters {
    std::atomic<uint64_t> rx_datagrams{0}, rx_syscalls{0}, rx_coalesced{0}, rx_dropped{0};
    std::atomic<uint64_t> tx_datagrams{0}, tx_syscalls{0}, tx_gso_batches{0}, tx_dropped{0};
    std::atomic<uint64_t> tx_source_retries{0};
  };
  mutable Counters counters_;
};

// Opens UdpBindLinux binds with fixed options, in the namespace of the thread that calls open().
class UdpBindFactory final : public BindFactory {
 public:
  explicit UdpBindFactory(UdpOptions options = {}) : options_(options) {}
  std::unique_ptr<Bind> open(uint16_t port) override { return UdpBindLinux::open(port, options_); }

 private:
  UdpOptions options_;
};

}  // namespace wgnet::engine
