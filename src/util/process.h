// Helper processes (such as wireguard-go) this daemon starts, held by a pidfd so that a signal can
// never reach another process that has reused the PID, and recognised after a restart by PID and
// start time rather than by a command line any user could imitate.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/fd.h"

namespace wgnet::process {

// Identifies one process across a daemon restart: its PID and its start time (clock ticks after
// boot, /proc/PID/stat field 22), which differ for any process that later reuses the PID.
struct ProcessId {
  pid_t pid = 0;
  uint64_t start_time = 0;
  // "pid=123 start=4567"; parse() takes that form back, nullopt when malformed.
  std::string str() const;
  static std::optional<ProcessId> parse(std::string_view text);
  bool operator==(const ProcessId&) const = default;
};

// The start time of a live process; nullopt when it is gone (or a zombie).
std::optional<uint64_t> start_time(pid_t pid);
// The command line of a live process; empty when it is gone.
std::vector<std::string> cmdline(pid_t pid);

// How spawn() sets a program up beyond its command line.
struct SpawnOptions {
  // Descriptors handed to the program, as its 3, 4, ... in this order (the rest of ours are
  // closed).
  std::vector<int> pass_fds;
  // stdout to /dev/null and stderr shared with ours (the journal, dockerd's plugin log) instead
  // of both appended to a log file; spawn()'s log_path is then unused.
  bool inherit_stderr = false;
  // Runs this open file (O_PATH is enough) with execveat(AT_EMPTY_PATH) instead of searching
  // argv[0] in PATH: the program checked once at start, even after the path is replaced. An ELF
  // binary only (the descriptor is close-on-exec, so a #! script's interpreter could not open it).
  int exec_fd = -1;
  // The environment is `env` alone instead of ours with `env` merged in.
  bool replace_env = false;
};

// Where `program` would be run from: itself when it names a path (has a '/'), else the first
// executable `program` in PATH (/usr/local/bin:/usr/bin:/bin when PATH is unset); nullopt when
// that is not an executable file.
std::optional<std::string> find_program(const std::string& program);

// A wait status in words: "exited with status 1", "killed by signal 31 (SIGSYS)".
std::string describe_wait_status(int status);

class Process {
 public:
  // Starts argv[0] (searched in PATH) in a new session with stdin from /dev/null and
  // stdout/stderr appended to `log_path` (created 0600). `env` entries ("K=V") replace inherited
  // variables of the same name. No descriptor of ours leaks into it; it survives the caller.
  // Throws SystemError when it cannot be executed.
  static Process spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& log_path, const SpawnOptions& options = {});
  // Takes over a process an earlier daemon started: only when a live process has exactly that
  // PID and start time and `check` accepts its command line. nullopt otherwise.
  static std::optional<Process> adopt(
      const ProcessId& id, const std::function<bool(const std::vector<std::string>&)>& check);

  Process(Process&&) = default;
  Process& operator=(Process&&) = default;

  const ProcessId& id() const { return id_; }
  // Readable (poll/epoll) once the process has exited.
  int pidfd() const { return pidfd_.get(); }
  bool child() const { return child_; }
  // Whether it has exited; reaps it when it is our child and sets `status` (wait status, or -1
  // when it was not our child).
  bool exited(int* status = nullptr);
  // SIGTERM, then SIGKILL after `grace`; waits for it to exit. True when it is gone.
  bool terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));
  // SIGKILL unless it has exited already, then waits up to `wait` and reaps it: its wait status,
  // or -1 when that is unknown (not our child, reaped before, or still there).
  int kill_and_reap(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

 private:
  Process(ProcessId id, Fd pidfd, bool child) : id_(id), pidfd_(std::move(pidfd)), child_(child) {}

  ProcessId id_;
  Fd pidfd_;
  bool child_ = false;
  bool reaped_ = false;
};

}  // namespace wgnet::process
