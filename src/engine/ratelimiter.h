// Per-source limit on handshake messages a device processes while under load: a token bucket per
// IPv4 address or IPv6 /64, in a table bounded in size, so a flood from many sources costs at
// most a fixed amount of memory and a flood from one source at most `per_second` handshakes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "engine/clock.h"
#include "util/ip.h"

namespace wgnet::engine {

class RateLimiter {
 public:
  struct Limits {
    uint32_t per_second = 20;   // sustained handshakes per source
    uint32_t burst = 5;         // allowed at once after a quiet period
    size_t max_entries = 8192;  // sources tracked at once; beyond, new sources are refused
  };
  RateLimiter() = default;
  explicit RateLimiter(Limits limits) : limits_(limits) {}

  // True when `source` may have one more handshake now. Thread-safe.
  bool allow(const IpAddress& source, Clock::Time now);
  size_t size() const;

 private:
  struct Source {
    uint64_t prefix = 0;  // IPv4 address, or the first 64 bits of an IPv6 address
    bool v6 = false;
    bool operator==(const Source&) const = default;
  };
  struct SourceHash {
    size_t operator()(const Source& s) const {
      return std::hash<uint64_t>()(s.prefix * 0x9e3779b97f4a7c15ULL + s.v6);
    }
  };
  struct Bucket {
    int64_t tokens_ns = 0;  // time credit: one handshake costs 1 s / per_second
    Clock::Time last{};
  };
  void collect_idle(Clock::Time now);  // caller holds mu_

  Limits limits_;
  mutable std::mutex mu_;
  std::unordered_map<Source, Bucket, SourceHash> table_;
  Clock::Time last_collect_{};
};

}  // namespace wgnet::engine
