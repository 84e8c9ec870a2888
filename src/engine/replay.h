// The receive-side replay filter of one keypair: a sliding window over message counters (RFC 6479
// style ring of 64-bit blocks), run after authentication and in order (docs/ENGINE.md).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace wgnet::engine {

class ReplayFilter {
 public:
  static constexpr size_t kBlockBits = 64;
  static constexpr size_t kBlocks = 128;  // 8192 bits of ring
  // How far behind the newest counter an older one is still accepted: the ring less one block,
  // which the window's leading edge may be clearing.
  static constexpr uint64_t kWindowSize = (kBlocks - 1) * kBlockBits;  // 8128

  // True (and remembered) when `counter` is below `limit`, not older than the window allows and
  // not seen before; false for a replay or a counter out of range. Not thread-safe: the caller
  // serialises (the ordered receive stage).
  bool accept(uint64_t counter, uint64_t limit);
  void reset();

 private:
  uint64_t last_ = 0;
  std::array<uint64_t, kBlocks> ring_{};
};

}  // namespace wgnet::engine
