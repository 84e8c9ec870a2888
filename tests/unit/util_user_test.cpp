// util/user: the user spec of --engine-user.
#include <gtest/gtest.h>

#include "util/error.h"
#include "util/user.h"

using namespace wgnet;

TEST(ParseUser, NumbersAndNames) {
  auto u = parse_user("65534", "--engine-user");
  EXPECT_EQ(u.uid, 65534u);
  EXPECT_EQ(u.gid, 65534u);
  u = parse_user("1234:5678", "--engine-user");
  EXPECT_EQ(u.uid, 1234u);
  EXPECT_EQ(u.gid, 5678u);
  // Debian's base system has "nobody" (65534, group nogroup 65534).
  u = parse_user("nobody", "--engine-user");
  EXPECT_EQ(u.uid, 65534u);
  EXPECT_EQ(u.gid, 65534u);
}

TEST(ParseUser, RootAndNonsenseAreRefusedByName) {
  for (const char* bad : {"root", "0", "0:0", "1000:0", "0:1000"}) {
    try {
      parse_user(bad, "--engine-user");
      ADD_FAILURE() << bad << " accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("is root"), std::string::npos) << e.what();
    }
  }
  for (const char* bad : {"", ":", "12:", ":12", "-1", "4294967295", "1:2:3", "no-such-user-x"}) {
    try {
      parse_user(bad, "--engine-user");
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--engine-user: ", 0), 0u) << e.what();
    }
  }
}
