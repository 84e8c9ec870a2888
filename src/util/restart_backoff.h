// When to start again something that keeps dying: at once after a run that lasted, then after a
// pause that doubles with each short-lived attempt. One policy for the engine process (wgnetd's
// EngineSupervisor) and for wgnetd itself (the plugin's keeper).
#pragma once
#include <algorithm>
#include <chrono>

namespace wgnet {

// Not thread-safe: each user keeps it on one thread.
class RestartBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds first;   // the pause before the second attempt in a row
    std::chrono::milliseconds max;     // no pause is longer
    std::chrono::milliseconds stable;  // a run at least this long starts the count again
  };
  explicit RestartBackoff(Options o) : o_(o) {}

  // What ended ran for `ran`: when that was long enough, the next attempt is not delayed.
  void ran(Clock::duration ran) {
    if (ran >= o_.stable) pause_ = {};
  }
  // The pause before the next attempt (none for the first since a stable run); each call counts
  // one attempt, so an attempt that fails without running (a spawn error) doubles it too.
  std::chrono::milliseconds next() {
    const std::chrono::milliseconds now = pause_;
    pause_ = pause_.count() ? std::min(pause_ * 2, o_.max) : o_.first;
    return now;
  }

 private:
  Options o_;
  std::chrono::milliseconds pause_{0};
};

}  // namespace wgnet
