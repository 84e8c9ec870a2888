// Process-wide settings of the daemons: protections for programs that hold seeds and keys in
// memory, and the resource limits a long-running server needs.
#pragma once

namespace wgnet {

// No core dump and no ptrace by other non-root users: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0, so a
// crash never writes the seed or a private key to disk. Throws SystemError if refused.
void disable_core_dumps();

// Raises the soft limit on open files to the hard limit, as Go programs (dockerd, wireguard-go)
// do: every device, relayed connection and client costs descriptors, and a service manager's
// default soft limit (1024) is far below what a host of containers needs. Returns the new limit.
unsigned long raise_open_file_limit();

}  // namespace wgnet
