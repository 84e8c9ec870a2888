// Time for the protocol core, injected so tests drive it by hand: monotonic time for every timer
// and wall-clock time for TAI64N timestamps and "last handshake" reports.
#pragma once
#include <chrono>

namespace wgnet::engine {

class Clock {
 public:
  using Time = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual Time now() const = 0;
  virtual std::chrono::system_clock::time_point wall() const = 0;
};

class SystemClock final : public Clock {
 public:
  Time now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall() const override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace wgnet::engine
