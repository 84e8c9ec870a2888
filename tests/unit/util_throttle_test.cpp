// The rate limiter of repeated warnings (the HTTP server's, the port relay's).
#include <gtest/gtest.h>

#include <chrono>

#include "util/throttle.h"

using namespace std::chrono_literals;
using wgnet::Throttle;

TEST(Throttle, ReportsAtOnceThenAtMostOncePerIntervalWithTheCountHeldBack) {
  Throttle throttle(10s);
  const auto t0 = Throttle::Clock::time_point{} + 1h;
  EXPECT_EQ(throttle.note(t0), 1u);
  EXPECT_EQ(throttle.note(t0 + 1s), 0u);
  EXPECT_EQ(throttle.note(t0 + 9s), 0u);
  EXPECT_EQ(throttle.note(t0 + 10s), 3u);
  EXPECT_EQ(throttle.note(t0 + 11s), 0u);
}
