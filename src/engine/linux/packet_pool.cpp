#include "engine/linux/packet_pool.h"

#include <sys/mman.h>

#include <cerrno>

#include "util/error.h"

namespace wgnet::engine {

PacketPool::PacketPool(size_t count) : packets_(count) {
  bytes_ = count * kStride;
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw SystemError("engine: mmap packet buffers: " + errno_text(errno));
  base_ = static_cast<uint8_t*>(p);
  reset();
}

PacketPool::~PacketPool() { ::munmap(base_, bytes_); }

std::span<Packet> PacketPool::reset() {
  for (size_t i = 0; i < packets_.size(); i++)
    packets_[i] = Packet{base_ + i * kStride, static_cast<uint32_t>(kBufferSize),
                         static_cast<uint32_t>(kHeadroom), 0};
  return packets_;
}

}  // namespace wgnet::engine
