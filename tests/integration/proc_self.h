// What this process uses, read from /proc/self: for tests and benchmarks that check or report it.
#pragma once
#include <dirent.h>

#include <cstddef>
#include <fstream>
#include <string>

namespace wgnet::itest {

// Threads of this process (the entries of /proc/self/task).
inline size_t thread_count() {
  size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') n++;
    ::closedir(d);
  }
  return n;
}

// Resident memory in KiB (VmRSS of /proc/self/status), -1 when it cannot be read.
inline long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace wgnet::itest
