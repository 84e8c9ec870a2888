// Log lines cannot be forged: control characters in what is logged are escaped.
#include <gtest/gtest.h>

#include "util/log.h"

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

TEST(Log, InfoToStdoutSendsOnlyDebugAndInfoThere) {
  log::set_level(log::Level::kDebug);
  log::set_info_to_stdout(true);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  log::debug("d-line");
  log::info("i-line");
  log::warn("w-line");
  log::error("e-line");
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  log::set_info_to_stdout(false);
  log::set_level(log::Level::kInfo);
  EXPECT_NE(out.find(" debug d-line\n"), std::string::npos) << out;
  EXPECT_NE(out.find(" info i-line\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("-line", out.find("i-line") + 6), std::string::npos) << out;
  EXPECT_NE(err.find(" warn w-line\n"), std::string::npos) << err;
  EXPECT_NE(err.find(" error e-line\n"), std::string::npos) << err;
  EXPECT_EQ(err.find("d-line"), std::string::npos) << err;
  EXPECT_EQ(err.find("i-line"), std::string::npos) << err;
}
