// Starting, finding and stopping helper processes (such as wireguard-go) by PID.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace wgnet::process {

// Starts argv[0] (searched in PATH) in a new session with stdin from /dev/null and
// stdout/stderr appended to `log_path` (created 0600), with `extra_env` ("K=V") added to the
// environment. It survives the caller. Throws SystemError when it cannot be executed.
pid_t spawn_detached(const std::vector<std::string>& argv,
                     const std::vector<std::string>& extra_env, const std::string& log_path);

// The command line of a live process; empty when it is gone or a zombie.
std::vector<std::string> cmdline(pid_t pid);
bool alive(pid_t pid);

// PIDs of live processes whose command line satisfies `match`.
std::vector<pid_t> find(const std::function<bool(const std::vector<std::string>&)>& match);

// SIGTERM, then SIGKILL after `grace`; reaps it if it is our child. True when it is gone.
bool terminate(pid_t pid, std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

// Reaps `pid` if it is our child and has exited; true when it has (or is not our child and gone).
bool reap_if_exited(pid_t pid, int* status = nullptr);

}  // namespace wgnet::process
