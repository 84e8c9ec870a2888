// The supervised engine's sandbox (docs/PRIVSEP-PLAN.md §3.1): entered once, single-threaded,
// after the warm-up that needs files (crypto libraries, the CPU count) and before any device or
// worker exists, so every thread is born inside it. Afterwards the process has no capability in any
// set, cannot gain one (no-new-privileges, an unprivileged uid/gid, no supplementary groups), sees
// an empty directory as its root, dumps no core, and may make only the system calls of
// seccomp_policy.h: descriptors it is handed later are all it can use.
#pragma once
#include <sys/types.h>

#include <string>

namespace wgnet::engine {

struct SandboxOptions {
  uid_t uid = 0;  // neither may be 0
  gid_t gid = 0;
  // An empty directory owned by root and writable by nobody else: the process's root.
  std::string root;
  // A network namespace of its own (empty: a filter bug could still reach no network; System V
  // IPC needs no namespace: the filter allows none of its calls).
  // Best effort: refused (no CAP_SYS_ADMIN in a container) is reported, not fatal.
  bool private_network = true;
};

struct SandboxReport {
  bool private_network = false;
  std::string private_network_error;  // why not, when asked for and refused
};

// Enters the sandbox. Throws SystemError naming the step that failed (the process must then exit:
// it may be half-way in). Throws InputError for bad options (uid or gid 0, a root that is not an
// empty root-owned directory) and when the process has more than one thread.
SandboxReport enter_sandbox(const SandboxOptions& options);

}  // namespace wgnet::engine
