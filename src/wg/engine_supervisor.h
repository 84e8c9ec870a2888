// wgnetd's engine process (docs/PRIVSEP-PLAN.md §1.1, §3.2): starts `wgnet-engine --supervised`
// with one end of a control socket and nothing else (no seed, no capability it keeps: the engine
// sandboxes itself before it serves), watches it, and when it dies — crash, seccomp kill, OOM, a
// broken protocol — logs why and starts another at once (backoff only when it keeps dying), whose
// `started` hook gets every device handed over again before any other call reaches it.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "util/fd.h"
#include "util/process.h"
#include "wg/engine_client.h"

namespace wgnet::wg {

struct EngineProcessOptions {
  // The program (wgnet-engine); opened once, at construction, and run from that descriptor ever
  // after, so a restart runs the binary this wgnetd started with even after an upgrade.
  std::string program;
  uid_t uid = 65534;  // the engine's unprivileged ids (never 0)
  gid_t gid = 65534;
  std::string root;  // an empty directory it chroots into (made by the caller)
  unsigned workers = 0;
  std::string log_level = "info";
  // Extra environment ("K=V"): the engine's environment is LANG=C and these alone.
  std::vector<std::string> env;
  // Restarts: at once; an engine that dies again within `stable` of its start is replaced only
  // after `backoff_min`, doubling for each such death up to `backoff_max`.
  std::chrono::milliseconds backoff_min{500}, backoff_max{10000}, stable{10000};
  // How long a call waits for an engine that is being replaced.
  std::chrono::milliseconds wait_for_engine{3000};
  // Where the next wgnetd finds the engine (plan §3.3): a socket (0600) each engine it starts
  // listens on, and a file with that engine's ProcessId ("pid=N start=T"), for operators and
  // tests. Empty: the engine ends with this wgnetd's control socket (no takeover).
  std::string listen_path;
  std::string pid_file;
  // Called (on the supervisor's thread) with restart_reason() each time an engine is replaced.
  std::function<void(std::string_view reason)> on_replaced;
};

// Why an engine process was replaced, in one word (wgnetd's wgnet_engine_restarts_total{reason}):
// "seccomp" (its filter killed it), "signal" (another signal: a crash, an OOM kill, kill -9),
// "exit" (it exited), "ended" (how is unknown: an engine taken over is no child of this wgnetd),
// when it ended by itself; "broken" when it still ran but its control connection broke (a message
// that does not decode, no answer in time), so wgnetd killed it; "unusable", an engine an earlier
// wgnetd left that could not be taken over.
inline constexpr std::string_view kRestartReasons[] = {"seccomp", "signal", "exit",
                                                       "ended",   "broken", "unusable"};
std::string_view restart_reason(int wait_status, bool ended_by_itself);

class EngineSupervisor {
 public:
  struct Hooks {
    // A new engine answered Hello; runs on the supervisor thread with the lock every call takes
    // held (with_engine's), before any other call reaches it: hand every device over. Returns the
    // devices it could not hand over, which then go to `lost` (without the lock). An exception is
    // logged and the engine kept.
    std::function<std::vector<engine::control::DeviceLost>(EngineClient& client)> started;
    // A device the engine reports lost; runs on the supervisor thread, no lock held.
    std::function<void(const engine::control::DeviceLost& event)> lost;
  };

  // Takes over the engine an earlier wgnetd left on listen_path, else starts the first one; waits
  // for its Hello. Throws SystemError when it cannot (the program is missing or not safe to run,
  // the engine exits at once). No hook runs before start().
  EngineSupervisor(EngineProcessOptions options, Hooks hooks);
  // stop().
  ~EngineSupervisor();

  // Starts watching the engine (and replacing it): once the hooks' owner is ready for them.
  void start();
  // Stops watching (no hook runs once it returns; calls waiting for an engine fail) and closes
  // the control socket. With a listen_path the engine carries on with its devices until the next
  // wgnetd takes it over (it ends by itself when it serves none); without one it ends, and is
  // waited for: SIGKILL after 2 s. Idempotent.
  void stop();
  EngineSupervisor(const EngineSupervisor&) = delete;
  EngineSupervisor& operator=(const EngineSupervisor&) = delete;

  // Runs `fn` with the engine, holding the lock that serialises every call (and the `started`
  // hook). Waits up to wait_for_engine for one while it is being replaced, else throws
  // SystemError "the engine process is restarting". When `fn` finds the engine broken
  // (EngineBroken), the engine is killed, replaced, and the error passes on.
  void with_engine(const std::function<void(EngineClient&)>& fn);
  // Before start(): kills the engine (one taken over that cannot be used) and starts another,
  // logging `why`. Throws as the constructor does.
  void replace_unstarted(const std::string& why);
  // Runs `fn` under the same lock, engine or not (for the caller's own state).
  void locked(const std::function<void()>& fn);

  pid_t pid() const { return pid_.load(); }
  // Whether the first engine was one an earlier wgnetd left (its devices come with Export).
  bool took_over() const { return took_over_; }
  // Engines started after the first.
  uint64_t restarts() const { return restarts_.load(); }

 private:
  struct Running {
    process::Process process;
    std::unique_ptr<EngineClient> client;
    std::chrono::steady_clock::time_point started;
  };
  Running spawn();
  // The engine listening on listen_path, if one does and answers as an engine of ours; one that
  // answers otherwise is killed (its devices are re-attached as after a crash).
  std::unique_ptr<Running> take_over();
  // The engine process pid_file names, when that very process (start time) still runs as an
  // engine of this wgnetd (its command line's --supervised, --root and --uid).
  std::optional<process::Process> recorded_engine() const;
  // A fresh listening socket on listen_path for the engine about to start.
  Fd listen();
  void write_pid_file(const process::ProcessId& id) const;
  void watch();
  // The engine `r` is gone or broken: kill and reap it, say why, count it (on_replaced: `reason`,
  // else restart_reason()).
  void bury(Running& r, const std::string& why, std::string_view reason = {});
  void wake();

  const EngineProcessOptions options_;
  const Hooks hooks_;
  Fd program_;  // O_PATH
  Fd wake_;     // eventfd: stop, or a call saw the engine broken
  std::atomic<bool> stopping_{false};
  bool took_over_ = false;

  std::mutex mu_;
  std::condition_variable ready_cv_;
  std::unique_ptr<Running> running_;  // null while being replaced
  std::atomic<pid_t> pid_{0};
  std::atomic<uint64_t> restarts_{0};
  std::thread thread_;
};

}  // namespace wgnet::wg
