// Interface names: the kernel's rule (dev_valid_name), checked before rtnetlink and by the engine's
// control codec.
#include <gtest/gtest.h>

#include "util/error.h"
#include "util/ifname.h"

using namespace wgnet;

TEST(IfName, TakesWhatTheKernelTakes) {
  for (const char* ok : {"wg0", "a", "wgnet-012345678", "eth0.100", "x-y_z", "\xc3\xa9t\xc3\xa9"})
    EXPECT_NO_THROW(check_ifname(ok)) << ok;
}

TEST(IfName, RefusesWhatTheKernelRefuses) {
  using namespace std::string_literals;
  for (const std::string& bad :
       {""s, "."s, ".."s, "sixteen-letters!"s, "a/b"s, "a:b"s, "a b"s, "a\tb"s, "a\nb"s, "a\0b"s})
    EXPECT_THROW(check_ifname(bad), InputError) << bad;
  try {
    check_ifname("a/b");
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "invalid interface name 'a/b': expected 1 to 15 bytes without '/', ':' or "
                 "whitespace");
  }
}
