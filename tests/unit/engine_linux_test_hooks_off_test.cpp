// engine/test_hooks in a build without them (this test's own copy of test_hooks.cpp, compiled
// without WGNET_TEST_HOOKS, as a release build is): the test-only variables change nothing.
#include <gtest/gtest.h>

#include <cstdlib>

#include "engine/linux/test_hooks.h"

using namespace wgnet::engine;

TEST(TestHooksOff, ShortenedTimersAreIgnoredInAReleaseBuild) {
  EXPECT_FALSE(test_hooks::enabled());
  ASSERT_EQ(::setenv("WGNET_ENGINE_TEST_TIMINGS", "rekey_after_time=1s", 1), 0);
  EXPECT_FALSE(test_hooks::timings_from_env().has_value());
  // Not even a malformed value is looked at.
  ASSERT_EQ(::setenv("WGNET_ENGINE_TEST_TIMINGS", "nonsense", 1), 0);
  EXPECT_NO_THROW(EXPECT_FALSE(test_hooks::timings_from_env().has_value()));
  ::unsetenv("WGNET_ENGINE_TEST_TIMINGS");
}
