// Integration tests run inside a network namespace of their own: the test process enters it
// (unshare) once, before its first test body, so no link of the host is ever touched. Root only.
#pragma once
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace wgnet::itest {

inline ino_t netns_inode() {
  struct stat st {};
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

// From a fixture's SetUp, on the main thread and before any other thread starts (the namespace
// is the calling thread's): enters the process's private namespace on the first call and
// asserts that the test runs in it (never in the host's).
inline void enter_private_netns() {
  static ino_t host = 0;
  static ino_t mine = 0;
  if (mine == 0) {
    host = netns_inode();
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    mine = netns_inode();
  }
  ASSERT_NE(mine, 0u);
  ASSERT_NE(mine, host);
  ASSERT_EQ(netns_inode(), mine);
}

}  // namespace wgnet::itest
