// Packet buffers of one worker's batch (engine_impl.h's Worker).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/packet.h"

namespace wgnet::engine {

// One batch's packet buffers. Mapped, not allocated: pages cost memory only once a packet
// touched them, so the pool's size (batch × 64 KiB, for super-packets) is mostly address space.
class PacketPool {
 public:
  explicit PacketPool(size_t count);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // Every packet back in its own buffer (a receive may have made it a view of another's), at its
  // offset, empty, ready for a read.
  std::span<Packet> reset();

 private:
  static constexpr size_t kStride = (kBufferSize + 63) / 64 * 64;
  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
  std::vector<Packet> packets_;
};

}  // namespace wgnet::engine
