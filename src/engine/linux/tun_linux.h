// The engine's TUN device on Linux: /dev/net/tun with IFF_VNET_HDR offloads (TSO/USO super-packets
// split on read, segments coalesced on write), created, re-attached by name after a restart, and
// found again by its alias after Docker moved and renamed it.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/linux/offload.h"
#include "engine/tun.h"
#include "util/error.h"
#include "util/fd.h"

namespace wgnet::engine {

struct TunOptions {
  // A new device's name ("wg0", or a pattern such as "wgt%d"); "" lets the kernel pick tun%d.
  std::string name;
  uint32_t mtu = 0;      // 0 keeps the device's MTU (1500 for a new one)
  bool offloads = true;  // IFF_VNET_HDR + TUNSETOFFLOAD; false: one plain packet per syscall
  bool persist = false;  // TUNSETPERSIST: the device outlives the descriptor
  std::optional<uid_t> owner;
  std::string alias;           // IFLA_IFALIAS, kept across renames and namespace moves
  uint32_t txqueuelen = 1000;  // packets the kernel queues for us (0 keeps the kernel's 500)
  size_t batch = 128;          // batch_size()
};

// What the kernel accepted, detected when the device is opened.
struct TunFeatures {
  bool vnet_hdr = false;  // every read and write carries a virtio-net header
  bool tso = false;       // TUN_F_CSUM|TSO4|TSO6(|TSO_ECN): TCP super-packets and partial checksums
  bool uso = false;       // TUN_F_USO4|USO6 (Linux 6.2+): UDP super-packets both ways
};

// A TUN descriptor on its way between processes (wgnetd → the engine): what adopt() needs.
struct TunHandoff {
  Fd fd;
  TunFeatures features;
  uint32_t mtu = 0;
};

class TunLinux final : public Tun {
 public:
  // Creates a device in the calling thread's network namespace (the device lives where
  // /dev/net/tun was opened). Fails if the name is taken.
  static std::unique_ptr<TunLinux> create(const TunOptions& options);
  // Attaches to the existing (persistent) TUN device `name` of the calling thread's namespace,
  // e.g. after a restart from a thread that entered the container's namespace. options.name is
  // ignored; mtu, alias and txqueuelen are applied when set; persist is only ever turned on.
  static std::unique_ptr<TunLinux> attach(std::string_view name, const TunOptions& options);
  // attach() to the TUN whose alias is `alias` in the calling thread's namespace (the device
  // Docker moved and renamed); nullptr when there is none.
  static std::unique_ptr<TunLinux> attach_by_alias(std::string_view alias,
                                                   const TunOptions& options);
  // A TUN around a descriptor another process created or attached and set up (its release()):
  // no syscall that needs a privilege, only checks that `fd` is an attached TUN without packet
  // information whose IFF_VNET_HDR is features.vnet_hdr (TUNGETIFF), and non-blocking. Throws
  // SystemError when it is not.
  static std::unique_ptr<TunLinux> adopt(Fd fd, const TunFeatures& features, uint32_t mtu,
                                         size_t batch = 128);
  // Gives up `tun`'s descriptor, with what adopt() needs to carry on with it.
  static TunHandoff release(std::unique_ptr<TunLinux> tun);

  // Reads: one read per super-packet, split into segments; more reads while packets are waiting
  // and the batch has room for another full super-packet. Not to be called by two threads at once.
  size_t read(std::span<Packet> packets) override;
  // Coalesces, then one write per (super-)packet. Safe to call from several threads at once.
  void write(std::span<Packet> packets) override;
  size_t batch_size() const override { return batch_; }
  uint32_t mtu() const override { return mtu_.load(std::memory_order_relaxed); }
  bool has_pending() const override { return pending_next_ < pending_total_; }

  // Poll for EPOLLIN; EPOLLERR means the device is gone (read() then throws DeviceGone).
  int fd() const { return fd_.get(); }
  int poll_fd() const override { return fd_.get(); }
  // The device's current name (TUNGETIFF): follows renames, in whatever namespace it now is.
  std::string name() const override;
  const TunFeatures& features() const { return features_; }
  TunStats stats() const override;
  void set_persist(bool persist);
  // The MTU changed (the caller watches the link, in the namespace the device lives in).
  void note_mtu(uint32_t mtu) override { mtu_.store(mtu, std::memory_order_relaxed); }

 private:
  TunLinux(Fd fd, const TunOptions& options);
  static std::unique_ptr<TunLinux> open_device(std::string_view name, bool exclusive,
                                               const TunOptions& options);
  void configure(const TunOptions& options);
  void take_mtu(uint32_t mtu);  // the MTU the device has when it is taken over
  // One read into out[0] (split into out); nullopt when nothing is waiting.
  std::optional<size_t> read_one(std::span<Packet> out);
  size_t read_pending(std::span<Packet> out);
  void write_plain(std::span<Packet> packets);
  [[noreturn]] void throw_read_error(int error) const;

  Fd fd_;
  TunFeatures features_;
  size_t batch_;
  std::atomic<uint32_t> mtu_{1500};
  // Free slots wanted before another read: the segments a 64 KiB super-packet of the last seen
  // segment size would need, so a read rarely takes more than the batch holds.
  size_t reserve_ = 1;

  // Segments of the last super-packet that did not fit in the batch (reader's state only).
  offload::VirtioNetHdr pending_hdr_;
  std::vector<uint8_t> pending_;
  size_t pending_next_ = 0;
  size_t pending_total_ = 0;

  struct Counters {
    std::atomic<uint64_t> reads{0}, super_packets{0}, packets_read{0}, read_dropped{0};
    std::atomic<uint64_t> writes{0}, packets_written{0}, coalesced{0}, write_dropped{0};
  };
  mutable Counters counters_;
};

}  // namespace wgnet::engine
