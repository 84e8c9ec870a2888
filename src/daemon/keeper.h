// `wgnetd --keeper`: the managed plugin's first process. In a plugin, Docker runs the Entrypoint as
// PID 1 of a PID namespace of its own, and when PID 1 ends the kernel kills every process in it:
// were wgnetd PID 1, its death would take the engine process (and the external backend's
// wireguard-go) down with it, and every tunnel with them. The keeper is PID 1 instead: it holds no
// seed and reads no configuration, runs wgnetd as its child, reaps every process left to it (an
// engine whose wgnetd died), starts wgnetd again when it dies (the new one takes the engine over),
// and on SIGTERM/SIGINT (docker plugin disable) passes the signal on and ends with wgnetd. Under
// systemd, systemd is the keeper (Restart=on-failure): the unit does not use it.
#pragma once
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "util/restart_backoff.h"

namespace wgnet::daemon {

struct KeeperOptions {
  // After the first death a run of at least 10 s starts the count again: at once, then 1 s,
  // doubling up to 10 s while it keeps dying.
  RestartBackoff::Options backoff{std::chrono::seconds(1), std::chrono::seconds(10),
                                  std::chrono::seconds(10)};
  // How long wgnetd may take to stop once the keeper has passed SIGTERM on; then SIGKILL.
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
};

// What the keeper does once wgnetd has ended with wait status `status`.
struct AfterExit {
  bool restart;   // start wgnetd again (after the backoff's pause)
  int exit_code;  // else the keeper's own exit status
};
// Stopping (the keeper was told to): end with wgnetd's status. Exit status 2 (its options or
// configuration are wrong; a restart would fail the same way): end with it. Anything else — a
// crash, a kill, an error, a stop nobody asked the keeper for — starts it again.
AfterExit after_wgnetd_exit(int status, bool stopping);

// The signals the keeper waits for (SIGCHLD, SIGTERM, SIGINT): blocked while it runs.
sigset_t keeper_signals();

// Runs `argv` (argv[0] a path: this wgnetd, without --keeper) as the keeper described above until
// it is told to stop, or wgnetd ends with a status after_wgnetd_exit does not restart. Returns the
// keeper's exit status. Blocks SIGCHLD, SIGTERM and SIGINT in the calling thread (the only one);
// a caller that may be PID 1 blocks them before, so that none sent meanwhile is lost.
int run_keeper(const std::vector<std::string>& argv, const KeeperOptions& options = {});

}  // namespace wgnet::daemon
