// Stand-ins for containers' network namespaces: fresh namespaces bind-mounted on files of a
// temporary directory, as Docker mounts a container's SandboxKey, inside a private mount namespace
// the test process enters once (nothing is mounted on the host). Everything goes on destruction.
#pragma once
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace wgnet::itest {

class Sandboxes {
 public:
  // From a fixture's SetUp, before other threads start: ASSERT_NO_FATAL_FAILURE(s.init("name")).
  void init(const std::string& prefix) {
    static bool private_mounts = [] {
      return ::unshare(CLONE_NEWNS) == 0 &&
             ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
    }();
    ASSERT_TRUE(private_mounts) << "private mount namespace: " << std::strerror(errno);
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl.data())) << std::strerror(errno);
    dir_ = tmpl;
  }
  ~Sandboxes() {
    if (dir_.empty()) return;
    for (const auto& s : mounted_) ::umount2(s.c_str(), MNT_DETACH);
    std::filesystem::remove_all(dir_);
  }

  // A fresh network namespace mounted on DIR/name; its path (a failure is a test failure).
  std::string make(const std::string& name) {
    std::string path = (dir_ / name).string();
    std::ofstream{path};
    bool ok = false;
    std::thread([&] {
      ok = ::unshare(CLONE_NEWNET) == 0 &&
           ::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) == 0;
    }).join();
    EXPECT_TRUE(ok) << "sandbox " << path << ": " << std::strerror(errno);
    if (ok) mounted_.push_back(path);
    return path;
  }

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::string> mounted_;
};

}  // namespace wgnet::itest
