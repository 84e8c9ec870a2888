// Token buckets counted in nanoseconds of credit (as the Linux driver's ratelimiter): elapsed time
// adds credit up to `burst` handshakes' worth, each handshake spends one. Entries idle for a second
// are full again and carry no information, so they are dropped.
#include "engine/ratelimiter.h"

#include <algorithm>
#include <chrono>

namespace wgnet::engine {

namespace {
constexpr int64_t kSecondNs = 1'000'000'000;
constexpr auto kIdle = std::chrono::seconds(1);
}  // namespace

bool RateLimiter::allow(const IpAddress& source, Clock::Time now) {
  Source key;
  key.v6 = source.is_v6();
  for (size_t i = 0; i < (key.v6 ? 8u : 4u); i++) key.prefix = key.prefix << 8 | source.bytes()[i];
  const int64_t cost = kSecondNs / std::max<uint32_t>(limits_.per_second, 1);
  const int64_t max = cost * std::max<uint32_t>(limits_.burst, 1);

  std::lock_guard lock(mu_);
  if (now - last_collect_ >= kIdle) collect_idle(now);
  auto it = table_.find(key);
  if (it == table_.end()) {
    if (table_.size() >= limits_.max_entries) return false;
    table_.emplace(key, Bucket{max - cost, now});
    return true;
  }
  auto& b = it->second;
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
  std::erase_if(table_, [&](const auto& e) { return now - e.second.last >= kIdle; });
  last_collect_ = now;
}

}  // namespace wgnet::engine
