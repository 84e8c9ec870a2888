// The engine's sandbox on the real kernel: a probe process (engine_sandbox_probe.cpp) enters it;
// its /proc status must show no capability in any set, no-new-privileges, a seccomp filter, the
// unprivileged uid/gid and no groups, an empty root and only the descriptors it was given. Then
// each forbidden call must kill it with SIGSYS while what the engine needs (threads, memory,
// randomness, abort) still works. Root; the probe's root is an empty temporary directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "proc_self.h"

#ifndef WGNET_SANDBOX_PROBE
#error "WGNET_SANDBOX_PROBE must name the probe program"
#endif

namespace {

constexpr uid_t kUid = 65534;
constexpr gid_t kGid = 65534;

class Probe {
 public:
  Probe(const std::string& root, uid_t uid = kUid, gid_t gid = kGid) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // what the harness left open
    const std::string u = std::to_string(uid), g = std::to_string(gid);
    char* argv[] = {const_cast<char*>(WGNET_SANDBOX_PROBE), const_cast<char*>(u.c_str()),
                    const_cast<char*>(g.c_str()), const_cast<char*>(root.c_str()), nullptr};
    // LeakSanitizer's exit-time check clones a tracer process, which the filter forbids: sanitizer
    // builds' engines run without it (ignored by other builds).
    char asan_options[] = "ASAN_OPTIONS=detect_leaks=0";
    char* envp[] = {asan_options, nullptr};
    const int rc = ::posix_spawn(&pid_, WGNET_SANDBOX_PROBE, &actions, nullptr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    to_ = in[1];
    from_ = out[0];
    errors_ = err[0];
    if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  }
  ~Probe() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {to_, from_, errors_}) ::close(fd);
  }

  // True once the probe said "ready" (it is inside the sandbox), within 5 s.
  bool ready() {
    pollfd p{from_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char buf[16];
    const ssize_t n = ::read(from_, buf, sizeof buf);
    return n == 6 && std::string(buf, 6) == "ready\n";
  }
  void send(const std::string& command) {
    const std::string line = command + "\n";
    ASSERT_EQ(::write(to_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  int wait() {
    int status = 0;
    EXPECT_EQ(::waitpid(pid_, &status, 0), pid_);
    reaped_ = true;
    return status;
  }
  std::string stderr_text() {
    std::string text;
    char buf[512];
    ssize_t n;
    while ((n = ::read(errors_, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    return text;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int to_ = -1, from_ = -1, errors_ = -1;
};

using wgnet::itest::proc_status;

class EngineSandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string tmpl = "/tmp/wgnet-sandbox-root-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    root_ = tmpl;
  }
  void TearDown() override {
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }
  std::string root_;
};

TEST_F(EngineSandbox, ProcStatusShowsNoPrivilegeLeft) {
  Probe probe(root_);
  ASSERT_TRUE(probe.ready()) << probe.stderr_text();
  auto status = proc_status(probe.pid());
  EXPECT_EQ(status["Uid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(status["Gid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(status["Groups"], "");
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_EQ(status[set], "0000000000000000") << set;
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");
  const std::string base = "/proc/" + std::to_string(probe.pid());
  EXPECT_EQ(std::filesystem::read_symlink(base + "/root"), std::filesystem::path(root_));
  EXPECT_EQ(std::filesystem::read_symlink(base + "/cwd"), std::filesystem::path(root_));
  // Not dumpable: /proc/PID files that need ptrace access belong to root.
  struct stat st {};
  ASSERT_EQ(::stat((base + "/mem").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  // Its own network namespace (empty), not this one's.
  EXPECT_NE(std::filesystem::read_symlink(base + "/ns/net"),
            std::filesystem::read_symlink("/proc/self/ns/net"));
  // Only the three descriptors it was given.
  size_t fds = 0;
  for (const auto& e : std::filesystem::directory_iterator(base + "/fd")) {
    (void)e;
    fds++;
  }
  EXPECT_EQ(fds, 3u);
  probe.send("exit");
  const int st2 = probe.wait();
  EXPECT_TRUE(WIFEXITED(st2) && WEXITSTATUS(st2) == 0) << probe.stderr_text();
}

TEST_F(EngineSandbox, WhatTheEngineNeedsStillWorks) {
  for (const std::string command : {"thread", "memory"}) {
    Probe probe(root_);
    ASSERT_TRUE(probe.ready()) << probe.stderr_text();
    probe.send(command);
    const int status = probe.wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << command << ": status " << status << " " << probe.stderr_text();
  }
  Probe probe(root_);
  ASSERT_TRUE(probe.ready());
  probe.send("abort");
  const int status = probe.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) << "status " << status;
}

TEST_F(EngineSandbox, EveryForbiddenCallKillsTheProcess) {
  for (const std::string command : {"openat", "socket", "execve", "fork", "exec-memory",
                                    "tun-persist", "setuid", "unshare", "kill"}) {
    Probe probe(root_);
    ASSERT_TRUE(probe.ready()) << probe.stderr_text();
    probe.send(command);
    const int status = probe.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
        << command << " was not killed by seccomp: status " << status;
  }
}

TEST_F(EngineSandbox, RefusesRootIdentityAndAPopulatedRoot) {
  {
    Probe probe(root_, 0, 0);
    EXPECT_FALSE(probe.ready());
    const int status = probe.wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 65);
    EXPECT_NE(probe.stderr_text().find("must not be 0"), std::string::npos);
  }
  {
    // A symlink to an empty directory: refused (the path could be swapped under the check).
    const std::string link = root_ + ".link";
    ASSERT_EQ(::symlink(root_.c_str(), link.c_str()), 0);
    Probe probe(link);
    EXPECT_FALSE(probe.ready());
    const int status = probe.wait();
    ::unlink(link.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 65);
  }
  std::ofstream(root_ + "/file") << "x";
  Probe probe(root_);
  EXPECT_FALSE(probe.ready());
  const int status = probe.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 65);
  EXPECT_NE(probe.stderr_text().find("must be empty"), std::string::npos);
}

}  // namespace
