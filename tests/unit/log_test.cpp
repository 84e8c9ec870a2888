// Log lines cannot be forged: control characters in what is logged are escaped.
#include "util/log.h"

#include <gtest/gtest.h>

using namespace wgnet;

TEST(Log, ControlCharactersAreEscaped) {
  EXPECT_EQ(log::escape("plain text 10.0.0.1/24"), "plain text 10.0.0.1/24");
  EXPECT_EQ(log::escape("a\nb"), "a\\x0ab");
  EXPECT_EQ(log::escape(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(log::escape("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(log::escape("\x7f"), "\\x7f");
  // A literal "\x0a" in the input cannot pass for an escaped newline.
  EXPECT_EQ(log::escape("\\x0a"), "\\x5cx0a");
  EXPECT_EQ(log::escape("é"), "é");  // UTF-8 passes through
}
