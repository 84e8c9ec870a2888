// `wgnet-engine --supervised`: the engine as a process of its own, started by wgnetd with a
// control socket and nothing else (docs/PRIVSEP-PLAN.md §1.1, §3.1). It warms up what needs files
// (the crypto libraries), enters its sandbox (sandbox.h) and serves wgnetd's requests
// (control_server.h) until wgnetd closes the socket, asks it to shut down, or SIGTERM.
#pragma once

namespace wgnet::engine {

// argv[1] is "--supervised". Returns the exit status: 0 after a normal end, 64 for a bad command
// line, 1 when set-up failed (the reason on stderr).
int run_supervised(int argc, char** argv);

}  // namespace wgnet::engine
