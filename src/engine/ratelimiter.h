// Per-source limit on handshake messages a device processes while under load: a token bucket per
// IPv4 address or IPv6 /64, in a table bounded in size, so a flood from many sources costs at
// most a fixed amount of memory and a flood from one source at most `per_second` handshakes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

#include "engine/clock.h"
#include "util/ip.h"

namespace wgnet::engine {

class RateLimiter {
 public:
  struct Limits {
    uint32_t per_second = 20;  // sustained handshakes per source
    uint32_t burst = 5;        // allowed at once after a quiet period
    // Sources tracked at once; beyond, the least recently seen is forgotten. The engine's runtime
    // sizes it from the machine's memory (entries_for_memory).
    size_t max_entries = 8192;
  };
  RateLimiter() = default;
  explicit RateLimiter(Limits limits) : limits_(limits) {}

  // The table size the Linux driver picks for a machine with `total_ram` bytes (ratelimiter.c,
  // after xt_hashlimit): 8 entries per hash bucket, one bucket per 16 KiB of RAM per pointer's
  // size, rounded up to a power of two, at least 16 buckets and at most 8192 (above 1 GiB).
  static size_t entries_for_memory(uint64_t total_ram);

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
    std::list<Source>::iterator age;  // its place in recent_
  };
  void collect_idle(Clock::Time now);  // caller holds mu_

  Limits limits_;
  mutable std::mutex mu_;
  std::unordered_map<Source, Bucket, SourceHash> table_;
  // The table's sources, most recently seen first: a full table forgets the back one, so a flood
  // of new (spoofed) sources cannot lock out a peer it has not seen yet.
  std::list<Source> recent_;
};

}  // namespace wgnet::engine
