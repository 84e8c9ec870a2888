// Replay window: the ring is indexed by counter / 64; moving the leading edge forward clears the
// blocks it passes, so old bits never alias new counters.
#include "engine/replay.h"

#include <algorithm>

namespace wgnet::engine {

bool ReplayFilter::accept(uint64_t counter, uint64_t limit) {
  if (counter >= limit) return false;
  const uint64_t block = counter / kBlockBits;
  if (counter > last_) {
    const uint64_t current = last_ / kBlockBits;
    const uint64_t advance = std::min<uint64_t>(block - current, kBlocks);
    for (uint64_t i = 1; i <= advance; i++) ring_[(current + i) % kBlocks] = 0;
    last_ = counter;
  } else if (last_ - counter > kWindowSize) {
    return false;
  }
  uint64_t& word = ring_[block % kBlocks];
  const uint64_t bit = uint64_t{1} << (counter % kBlockBits);
  if (word & bit) return false;
  word |= bit;
  return true;
}

void ReplayFilter::reset() {
  last_ = 0;
  ring_.fill(0);
}

}  // namespace wgnet::engine
