// The engine's side of a TUN device: IP packets in and out, in batches. The Linux
// implementation (tun_linux.h) uses IFF_VNET_HDR offloads; tests use an in-memory one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/packet.h"

namespace wgnet::engine {

class Tun {
 public:
  virtual ~Tun() = default;
  // Reads the IP packets waiting, at most packets.size(): packet i is written at
  // packets[i].offset (set by the caller, at least kHeadroom) and packets[i].size is set. A
  // super-packet the kernel handed over (TSO/USO) comes out split into segments of at most the
  // MTU, checksums completed. Returns how many were read; 0 when none is waiting. Never blocks.
  // Throws SystemError when the device is gone.
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
};

}  // namespace wgnet::engine
