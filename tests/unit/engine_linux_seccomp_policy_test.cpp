// The supervised engine's seccomp allow-list as a table: every name is a system call libseccomp
// knows on this architecture, none is listed twice, and none of the calls that would let a
// compromised engine reach beyond its descriptors is in it (engine_sandbox_test.cpp checks the
// loaded filter on the kernel).
#include <gtest/gtest.h>
#include <seccomp.h>

#include <map>
#include <set>
#include <string>

#include "engine/linux/seccomp_policy.h"

namespace wgnet::engine {
namespace {

TEST(SeccompPolicy, EveryNameIsASystemCallListedOnce) {
  std::set<std::string> seen;
  for (const auto& e : engine_syscall_policy()) {
    EXPECT_NE(seccomp_syscall_resolve_name(e.name), __NR_SCMP_ERROR) << e.name;
    EXPECT_TRUE(seen.insert(e.name).second) << e.name << " listed twice";
  }
  EXPECT_GT(seen.size(), 30u);
}

TEST(SeccompPolicy, NothingThatReachesBeyondItsDescriptors) {
  std::set<std::string> names;
  for (const auto& e : engine_syscall_policy()) names.insert(e.name);
  for (const char* forbidden : {"socket",
                                "connect",
                                "bind",
                                "listen",
                                "setsockopt",
                                "execve",
                                "execveat",
                                "fork",
                                "vfork",
                                "ptrace",
                                "process_vm_readv",
                                "process_vm_writev",
                                "bpf",
                                "setns",
                                "unshare",
                                "mount",
                                "chroot",
                                "pivot_root",
                                "openat",
                                "openat2",
                                "kill",
                                "setuid",
                                "setresuid",
                                "capset",
                                "prctl",
                                "seccomp",
                                "init_module",
                                "finit_module",
                                "kexec_load",
                                "keyctl",
                                "perf_event_open",
                                "io_uring_setup",
                                "userfaultfd",
                                "memfd_create",
                                "pkey_mprotect",
                                "open",
                                "creat",
                                "link",
                                "unlink",
                                "rename",
                                "mknod",
                                "chmod",
                                "chown",
                                "truncate"}) {
    EXPECT_EQ(names.count(forbidden), 0u) << forbidden;
  }
}

TEST(SeccompPolicy, ArgumentRulesGuardTheDangerousOnes) {
  const std::map<std::string, SyscallRule> guarded{
      {"clone", SyscallRule::kThreadsOnly}, {"mmap", SyscallRule::kNoExec},
      {"mprotect", SyscallRule::kNoExec},   {"ioctl", SyscallRule::kTunGetIff},
      {"fcntl", SyscallRule::kGetFlags},    {"getsockopt", SyscallRule::kSocketChecks},
      {"tgkill", SyscallRule::kOwnProcess}, {"clone3", SyscallRule::kFailEnosys}};
  size_t found = 0;
  for (const auto& e : engine_syscall_policy()) {
    const auto g = guarded.find(e.name);
    if (g == guarded.end()) continue;
    found++;
    EXPECT_EQ(e.rule, g->second) << e.name;
  }
  EXPECT_EQ(found, guarded.size());
}

}  // namespace
}  // namespace wgnet::engine
