// Token buckets counted in nanoseconds of credit (as the Linux driver's ratelimiter): elapsed time
// adds credit up to `burst` handshakes' worth, each handshake spends one. Entries idle for a second
// are full again and carry no information, so they are dropped; being the least recently seen,
// they are at the back of the age list.
#include "engine/ratelimiter.h"

#include <algorithm>
#include <bit>
#include <chrono>

namespace wgnet::engine {

namespace {
constexpr int64_t kSecondNs = 1'000'000'000;
constexpr auto kIdle = std::chrono::seconds(1);
}  // namespace

size_t RateLimiter::entries_for_memory(uint64_t total_ram) {
  constexpr uint64_t kBucketsAbove1GiB = 8192, kMinBuckets = 16, kEntriesPerBucket = 8;
  constexpr uint64_t kRamPerBucket = (uint64_t{1} << 14) * sizeof(void*);
  const uint64_t buckets =
      total_ram > (uint64_t{1} << 30)
          ? kBucketsAbove1GiB
          : std::max(kMinBuckets, std::bit_ceil(std::max<uint64_t>(total_ram / kRamPerBucket, 1)));
  return static_cast<size_t>(buckets * kEntriesPerBucket);
}

bool RateLimiter::allow(const IpAddress& source, Clock::Time now) {
  Source key;
  key.v6 = source.is_v6();
  for (size_t i = 0; i < (key.v6 ? 8u : 4u); i++) key.prefix = key.prefix << 8 | source.bytes()[i];
  const int64_t cost = kSecondNs / std::max<uint32_t>(limits_.per_second, 1);
  const int64_t max = cost * std::max<uint32_t>(limits_.burst, 1);

  std::lock_guard lock(mu_);
  collect_idle(now);
  auto it = table_.find(key);
  if (it == table_.end()) {
    if (limits_.max_entries == 0) return false;
    if (table_.size() >= limits_.max_entries) {
      table_.erase(recent_.back());
      recent_.pop_back();
    }
    recent_.push_front(key);
    table_.emplace(key, Bucket{max - cost, now, recent_.begin()});
    return true;
  }
  auto& b = it->second;
  recent_.splice(recent_.begin(), recent_, b.age);
  const int64_t elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - b.last).count();
  b.tokens_ns = std::min(max, b.tokens_ns + std::max<int64_t>(elapsed, 0));
  b.last = now;
  if (b.tokens_ns < cost) return false;
  b.tokens_ns -= cost;
  return true;
}

size_t RateLimiter::size() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

void RateLimiter::collect_idle(Clock::Time now) {
  while (!recent_.empty()) {
    const auto it = table_.find(recent_.back());
    if (now - it->second.last < kIdle) return;
    table_.erase(it);
    recent_.pop_back();
  }
}

}  // namespace wgnet::engine
