// What this process (or one it started) uses, read from /proc: for tests and benchmarks that check
// or report it.
#pragma once
#include <dirent.h>

#include <chrono>
#include <cstddef>
#include <fstream>
#include <map>
#include <string>
#include <thread>

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

// The thread count once it holds still: a thread that was just joined can still be listed for a
// moment (pthread_join returns when the thread has cleared its tid, before the kernel releases
// it), as the helper threads of netns::run_in are. Two equal reads 20 ms apart, for at most 2 s.
inline size_t settled_thread_count() {
  size_t last = thread_count();
  for (int i = 0; i < 100; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const size_t now = thread_count();
    if (now == last) return now;
    last = now;
  }
  return last;
}

// Resident memory in KiB (VmRSS of /proc/self/status), -1 when it cannot be read.
inline long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// The fields of /proc/PID/status ("CapEff" → "0000000000000000"), values without leading blanks.
inline std::map<std::string, std::string> proc_status(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

}  // namespace wgnet::itest
