// Process-wide protections for programs that hold seeds and keys in memory.
#pragma once

namespace wgnet {

// No core dump and no ptrace by other non-root users: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0, so a
// crash never writes the seed or a private key to disk. Throws SystemError if refused.
void disable_core_dumps();

}  // namespace wgnet
