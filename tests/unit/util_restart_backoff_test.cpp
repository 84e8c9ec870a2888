#include <gtest/gtest.h>

#include "util/restart_backoff.h"

namespace wgnet {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RestartBackoff backoff() { return RestartBackoff({milliseconds(500), seconds(4), seconds(10)}); }

TEST(RestartBackoff, FirstAttemptAtOnceThenDoublingUpToTheMax) {
  RestartBackoff b = backoff();
  EXPECT_EQ(b.next(), milliseconds(0));
  EXPECT_EQ(b.next(), milliseconds(500));
  EXPECT_EQ(b.next(), milliseconds(1000));
  EXPECT_EQ(b.next(), milliseconds(2000));
  EXPECT_EQ(b.next(), milliseconds(4000));
  EXPECT_EQ(b.next(), milliseconds(4000));
}

TEST(RestartBackoff, ShortRunsKeepTheCountAStableRunResetsIt) {
  RestartBackoff b = backoff();
  b.ran(seconds(1));
  EXPECT_EQ(b.next(), milliseconds(0));
  b.ran(seconds(9));
  EXPECT_EQ(b.next(), milliseconds(500));
  b.ran(milliseconds(100));
  EXPECT_EQ(b.next(), milliseconds(1000));
  b.ran(seconds(10));
  EXPECT_EQ(b.next(), milliseconds(0));
  EXPECT_EQ(b.next(), milliseconds(500));
}

}  // namespace
}  // namespace wgnet
