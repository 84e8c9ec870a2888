#include "daemon/keeper.h"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "util/error.h"
#include "util/log.h"
#include "util/process.h"

extern char** environ;

namespace wgnet::daemon {

namespace {

using Clock = std::chrono::steady_clock;

// wgnetd as a child with the signal mask and dispositions a fresh process has (ours blocks the
// signals the keeper waits for). Throws SystemError when it cannot be started.
pid_t start_wgnetd(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (err != 0) throw SystemError("keeper: cannot start " + argv[0] + ": " + errno_text(err));
  return pid;
}

timespec to_timespec(Clock::duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(d, {})).count();
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

}  // namespace

sigset_t keeper_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&set, sig);
  return set;
}

AfterExit after_wgnetd_exit(int status, bool stopping) {
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (stopping) return {false, code};
  if (WIFEXITED(status) && code == 2) return {false, 2};
  return {true, 0};
}

int run_keeper(const std::vector<std::string>& argv, const KeeperOptions& options) {
  if (argv.empty()) throw SystemError("keeper: no program to run");
  (void)::prctl(PR_SET_NAME, "wgnetd-keeper");  // `pgrep -x wgnetd` finds only the server
  // Outside a PID namespace too, the processes wgnetd leaves (an engine) come to the keeper.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    throw SystemError("keeper: PR_SET_CHILD_SUBREAPER: " + errno_text(errno));
  const sigset_t waited = keeper_signals();
  sigprocmask(SIG_BLOCK, &waited, nullptr);

  RestartBackoff backoff(options.backoff);
  pid_t child = 0;
  Clock::time_point started{};
  std::optional<Clock::time_point> start_at = Clock::now();  // when to start wgnetd next
  std::optional<Clock::time_point> kill_at;                  // stopping: when to SIGKILL it
  bool stopping = false;
  int exit_code = 0;
  log::info("keeper (pid " + std::to_string(::getpid()) + "): runs " + argv[0]);
  for (;;) {
    if (!child && !stopping && start_at && Clock::now() >= *start_at) {
      start_at.reset();
      try {
        child = start_wgnetd(argv);
        started = Clock::now();
        log::info("keeper: started wgnetd (pid " + std::to_string(child) + ")");
      } catch (const SystemError& e) {
        const auto pause = std::max(backoff.next(), options.backoff.first);
        log::error(std::string(e.what()) + "; trying again in " + std::to_string(pause.count()) +
                   " ms");
        start_at = Clock::now() + pause;
      }
    }
    if (stopping && !child) return exit_code;
    std::optional<Clock::time_point> wake = stopping ? kill_at : start_at;
    siginfo_t info{};
    int sig;
    if (wake) {
      const timespec ts = to_timespec(*wake - Clock::now());
      sig = ::sigtimedwait(&waited, &info, &ts);
    } else {
      sig = ::sigwaitinfo(&waited, &info);
    }
    if (sig < 0) {
      if (errno == EAGAIN && stopping && child && kill_at && Clock::now() >= *kill_at) {
        log::error("keeper: wgnetd (pid " + std::to_string(child) + ") did not stop within " +
                   std::to_string(options.grace.count()) + " ms; SIGKILL");
        (void)::kill(child, SIGKILL);
        kill_at.reset();
      }
      continue;  // EINTR, or the time to start wgnetd again
    }
    if (sig == SIGTERM || sig == SIGINT) {
      if (stopping) continue;
      stopping = true;
      start_at.reset();
      const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
      if (child) {
        log::info(std::string("keeper: received ") + name + "; passing it on to wgnetd (pid " +
                  std::to_string(child) + ")");
        (void)::kill(child, sig);
        kill_at = Clock::now() + options.grace;
      }
      continue;
    }
    // SIGCHLD: reap every child that ended (several may end before one signal is taken).
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) {
        log::debug("keeper: reaped pid " + std::to_string(pid) + " (" +
                   process::describe_wait_status(status) + ")");
        continue;
      }
      child = 0;
      const AfterExit next = after_wgnetd_exit(status, stopping);
      const std::string what = "keeper: wgnetd (pid " + std::to_string(pid) + ") " +
                               process::describe_wait_status(status);
      if (!next.restart) {
        if (stopping)
          log::info(what);
        else
          log::error(what + "; not restarting it");
        stopping = true;
        exit_code = next.exit_code;
        continue;
      }
      backoff.ran(Clock::now() - started);
      const auto pause = backoff.next();
      log::error(what + "; starting it again" +
                 (pause.count() ? " in " + std::to_string(pause.count()) + " ms" : ""));
      start_at = Clock::now() + pause;
    }
  }
}

}  // namespace wgnet::daemon
