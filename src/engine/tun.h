// The engine's side of a TUN device: IP packets in and out, in batches. The Linux
// implementation (tun_linux.h) uses IFF_VNET_HDR offloads; tests use an in-memory one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "engine/packet.h"
#include "util/error.h"

namespace wgnet::engine {

// The device behind a TUN is gone: deleted, or its namespace destroyed (on Linux its descriptor
// then polls as EPOLLERR and every read fails with EBADFD).
class DeviceGone : public SystemError {
 public:
  using SystemError::SystemError;
};

// What a TUN did (diagnostics: `wgnet-engine`, InterfaceInfo); a TUN may count only some.
struct TunStats {
  uint64_t reads = 0;            // read syscalls that returned a packet
  uint64_t super_packets = 0;    // of those, GSO super-packets
  uint64_t packets_read = 0;     // packets handed out (segments included)
  uint64_t read_dropped = 0;     // malformed or refused by gso_split
  uint64_t writes = 0;           // write syscalls
  uint64_t packets_written = 0;  // packets those carried
  uint64_t coalesced = 0;        // packets that went out inside a super-packet
  uint64_t write_dropped = 0;    // packets the kernel refused
};

class Tun {
 public:
  virtual ~Tun() = default;
  // Reads the IP packets waiting, at most packets.size(): packet i is written at
  // packets[i].offset (set by the caller, at least kHeadroom) and packets[i].size is set. A
  // super-packet the kernel handed over (TSO/USO) comes out split into segments of at most the
  // MTU, checksums completed. Returns how many were read; 0 when none is waiting. Never blocks.
  // Throws DeviceGone when the device is gone, SystemError on other errors.
  virtual size_t read(std::span<Packet> packets) = 0;
  // True when the last read() kept back segments of a super-packet that did not fit in its batch
  // (a flow with a tiny MSS): call read() again without waiting, the descriptor will not signal
  // them. Asked by the thread that called read().
  virtual bool has_pending() const { return false; }
  // Writes IP packets (each at its offset; they may be adjacent slices of one buffer),
  // coalescing consecutive TCP/UDP segments of one flow into super-packets where it can, without
  // writing outside any packet's bytes (the headers of a super-packet's first packet are
  // rewritten in place). Packets the kernel refuses are dropped and counted, not thrown.
  virtual void write(std::span<Packet> packets) = 0;
  // The most packets one read() can return (the batch size workers allocate for).
  virtual size_t batch_size() const = 0;
  virtual uint32_t mtu() const = 0;
  // The link's MTU changed (whoever watches the link, or is told, says so): what mtu() returns
  // from now on. Any thread.
  virtual void note_mtu(uint32_t mtu) = 0;
  // The descriptor an event loop waits on: readable means read() has packets, an error (EPOLLERR,
  // EPOLLHUP) that the device is gone. -1 for a TUN not driven by readiness.
  virtual int poll_fd() const { return -1; }
  // The device's current name, "" when it has none. May throw SystemError when it is gone.
  virtual std::string name() const { return {}; }
  virtual TunStats stats() const { return {}; }
};

}  // namespace wgnet::engine
