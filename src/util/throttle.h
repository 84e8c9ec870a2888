// Rate-limits a repeated warning: a flood of refusals must not turn into a flood of log lines.
#pragma once
#include <chrono>
#include <cstddef>

namespace wgnet {

// Not thread-safe: each user keeps it on one thread (an io thread).
class Throttle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Throttle(Clock::duration interval) : interval_(interval) {}

  // Counts one event. Returns how many events to report (this one and those held back since the
  // last report) when a report is due, else 0.
  std::size_t note(Clock::time_point now = Clock::now()) {
    ++held_;
    if (reported_ && now - last_ < interval_) return 0;
    reported_ = true;
    last_ = now;
    const std::size_t count = held_;
    held_ = 0;
    return count;
  }

 private:
  const Clock::duration interval_;
  Clock::time_point last_{};
  bool reported_ = false;
  std::size_t held_ = 0;
};

}  // namespace wgnet
