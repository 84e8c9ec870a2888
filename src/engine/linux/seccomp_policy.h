// The system calls the supervised engine may make once sandboxed (docs/PRIVSEP-PLAN.md §3.1): what
// its data path, event loop, control channel, threads and allocator need, some only with the
// arguments they use. Anything else kills the whole process (SIGSYS) and is audit-logged with its
// number. A table, so tests can check it.
#pragma once
#include <span>

namespace wgnet::engine {

enum class SyscallRule {
  kAllow,         // any arguments
  kThreadsOnly,   // clone: only with CLONE_THREAD (a thread, never a new process)
  kNoExec,        // mmap, mprotect: never PROT_EXEC
  kTunGetIff,     // ioctl: only TUNGETIFF (reads a TUN device's name; no setter)
  kGetFlags,      // fcntl: only F_GETFL (a handed descriptor's check; nothing is changed)
  kSocketChecks,  // getsockopt: only the options a handed UDP socket is checked by (read-only)
  kOwnProcess,    // tgkill: only to this process (abort())
  kFailEnosys,    // clone3: fails with ENOSYS, so glibc falls back to clone, whose flags are seen
};

struct SyscallPolicyEntry {
  const char* name;
  SyscallRule rule;
};

// The allow-list. Sanitizer builds (WGNET_SANITIZER) add what their runtime calls; release builds
// never do.
std::span<const SyscallPolicyEntry> engine_syscall_policy();

// Loads the policy as a seccomp filter on the calling process: the default action kills the
// process, calls of a foreign architecture (x32, i386) too; kills are logged. No-new-privileges
// must be set first. Throws SystemError naming the call libseccomp refused.
void load_engine_seccomp_filter();

}  // namespace wgnet::engine
